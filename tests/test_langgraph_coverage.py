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


def test_every_difference_named_is_of_an_operation_both_servers_answer() -> None:
    from tools.langgraph_coverage import DIFFERS_BECAUSE, gateway_document, langgraph_document

    both = operations(langgraph_document()) & operations(gateway_document())
    named = {tuple(operation.split(" ", 1)) for operation in DIFFERS_BECAUSE}
    assert named <= both, named - both
