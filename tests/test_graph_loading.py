"""Serving your own graph: what GATEWAY_GRAPH / `python -m app serve` accept and refuse."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from conftest import ROOT, TESTS
from sse import read_events


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("nocolon", "expected 'package.module:attr'"),
        ("no_such_module:graph", "cannot import 'no_such_module'"),
        ("sample_graphs:missing", "has no attribute 'missing'"),
        ("sample_graphs:not_a_graph", "is a int, not a compiled graph"),
        ("lg_fault_graphs:too_many", "this one takes config, runtime, extra"),
        ("lg_fault_graphs:not_a_graph_factory", "the factory returned a int"),
    ],
)
def test_a_bad_graph_reference_fails_in_one_line(reference: str, message: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve", reference, "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: graph") and message in lines[0]


@pytest.mark.parametrize(
    "reference", ["sample_graphs:builder", "sample_graphs:factory", "lg_fault_graphs:with_both"]
)
def test_builders_and_factories_are_served(make_server, reference: str) -> None:
    srv = make_server(reference, checkpointer="none")  # the factory's state holds object()
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        events = read_events(c, "/stream")
    assert events[-1].name == "run.end" and events[-1].data["status"] == "success"


def test_the_graph_setting_comes_from_the_environment(make_server) -> None:
    srv = make_server(graph="sample_graphs:odd")
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        assert [n["id"] for n in c.get("/graph").json()["nodes"]] == ["__start__", "odd", "__end__"]
