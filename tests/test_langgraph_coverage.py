"""The README says how much of LangGraph's API the gateway answers: as the script finds it."""

from __future__ import annotations

from conftest import ROOT

from tools.langgraph_coverage import main, operations, report


def test_the_readme_states_the_coverage_the_script_finds() -> None:
    assert main(["--check", str(ROOT / "README.md")]) == 0, "run python -m tools.langgraph_coverage"


def test_operations_are_compared_whatever_their_parameters_are_called() -> None:
    document = {"paths": {"/threads/{thread_id}": {"get": {}, "parameters": []}}}
    assert operations(document) == {("GET", "/threads/{}")}
    counts, table = report()
    assert counts.startswith("LangGraph's API document has ") and "| `" in table
