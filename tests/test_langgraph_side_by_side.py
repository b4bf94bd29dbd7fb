"""The same LangGraph SDK script against LangGraph's own server (`langgraph dev`) and against
the gateway, both serving the demo graph: the same events with the same data, once the ids
each server makes up are set aside. And resuming from an event id: exact here, not there.
And the same graph files, their states declared in each way LangGraph accepts, described by
the same assistant schemas on both."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
import schema_graphs
from conftest import ROOT, TESTS, Server, Spawn, free_port, start_server
from langgraph_sdk import get_client

MODES = ["values", "updates", "messages-tuple", "custom"]
# Parallel nodes (the demo's two research nodes) interleave by timing; without delays their
# events come in one order on both servers.
QUIET = {"delay": 0, "tokens": 6, "token_delay": 0}
GENERATED = re.compile(
    r"lc_run--[0-9a-f-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}"
)
# What each server puts into a message's metadata about itself.
SERVER_METADATA = re.compile(
    r"^(langgraph_(api|version|plan|host|request)|created_by|run_attempt|user_id|graph_id|assistant_id|thread_id|run_id|ls_integration|lc_versions|principal)"
)


@contextlib.contextmanager
def langgraph_dev(folder: Path, graphs: dict[str, str]) -> Iterator[str]:
    """`langgraph dev` serving `graphs` (id: reference), in `folder` (it keeps its state
    there), on a free port."""
    config = {"dependencies": [str(ROOT)], "graphs": graphs}
    (folder / "langgraph.json").write_text(json.dumps(config))
    port = free_port()
    executable = Path(sys.executable).with_name("langgraph")
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(executable),
            "dev",
            "--config",
            str(folder / "langgraph.json"),
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--server-log-level",
            "WARNING",
        ],
        cwd=folder,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "LANGGRAPH_NO_ANALYTICS": "1",
            "LANGSMITH_TRACING": "false",
            "HOME": str(folder),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (folder / "server.log").read_text()
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "langgraph dev did not start"
                time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with langgraph_dev(
        tmp_path_factory.mktemp("langgraph-dev"), {"demo": "app.graphs.demo:graph"}
    ) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    srv: Server = start_server(tmp_path_factory.mktemp("gateway"))
    yield f"{srv.url}/langgraph"
    srv.stop()


async def conversation(url: str) -> list[tuple[str, Any]]:
    """A thread, a run that pauses for approval, and its resume: every event both stream."""
    client = get_client(url=url, timeout=60)
    try:
        thread_id = (await client.threads.create())["thread_id"]
        parts = [
            (p.event, p.data)
            async for p in client.runs.stream(
                thread_id,
                "demo",
                input={**QUIET, "topic": "side by side", "approve": True},
                stream_mode=MODES,
            )
        ]
        parts += [
            (p.event, p.data)
            async for p in client.runs.stream(
                thread_id, "demo", command={"resume": True}, stream_mode=MODES
            )
        ]
        state = await client.threads.get_state(thread_id)
        parts.append(("state", {k: state[k] for k in ("values", "next", "tasks")}))
        return parts
    finally:
        await client.aclose()


def comparable(value: Any) -> Any:
    """The data with what each server generates (ids, its own metadata) set aside."""
    if isinstance(value, dict):
        return {
            key: comparable(item)
            for key, item in value.items()
            if key not in ("id", "run_id") and not SERVER_METADATA.match(key)
        }
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if isinstance(value, str):
        return GENERATED.sub("<id>", value)
    return value


async def test_the_same_script_sees_the_same_events_on_both_servers(
    reference: str, gateway: str
) -> None:
    theirs = await conversation(reference)
    ours = await conversation(gateway)
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    for (name, their_data), (_, our_data) in zip(theirs, ours, strict=True):
        assert comparable(our_data) == comparable(their_data), name


async def stream_with_ids(url: str) -> tuple[str, str, list[tuple[str, str, Any]]]:
    client = get_client(url=url, timeout=60)
    try:
        thread_id = (await client.threads.create())["thread_id"]
        parts = [
            (p.id, p.event, p.data)
            async for p in client.runs.stream(
                thread_id,
                "demo",
                input={**QUIET, "tokens": 200},
                stream_mode=["messages-tuple", "custom"],
                stream_resumable=True,
            )
        ]
        run_id = parts[0][2]["run_id"]
        return thread_id, run_id, parts
    finally:
        await client.aclose()


async def resumed(url: str, thread_id: str, run_id: str, last_event_id: str) -> list[Any]:
    client = get_client(url=url, timeout=60)
    try:
        return [
            (p.event, p.data)
            async for p in client.runs.join_stream(thread_id, run_id, last_event_id=last_event_id)
        ]
    finally:
        await client.aclose()


async def test_resuming_from_any_event_is_exact_here_and_lossy_there(
    reference: str, gateway: str
) -> None:
    # Ours: from every 7th event of a finished 200-token run, exactly the rest.
    thread_id, run_id, ours = await stream_with_ids(gateway)
    for i in range(0, len(ours) - 1, 7):
        rest = await resumed(gateway, thread_id, run_id, ours[i][0])
        assert rest == [(event, data) for _, event, data in ours[i + 1 :]], i
    # Theirs: ids are "<ms>-0", so events of one millisecond share an id, and resuming from
    # one skips the events after it that share it. (LangGraph's server, as of this writing.)
    thread_id, run_id, theirs = await stream_with_ids(reference)
    shared = [i for i in range(len(theirs) - 1) if theirs[i][0] == theirs[i + 1][0]]
    lost = []
    for i in shared[:5]:
        rest = await resumed(reference, thread_id, run_id, theirs[i][0])
        lost.append(len(theirs) - 1 - i - len(rest))
    print(
        f"\nlanggraph dev: {len(shared)} of {len(theirs)} events share an id with the next; "
        f"resuming from 5 of them lost {lost} events"
    )


@pytest.fixture(scope="module")
def schema_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    graphs = {name: f"{TESTS / 'schema_graphs.py'}:{name}" for name in schema_graphs.GRAPHS}
    with langgraph_dev(tmp_path_factory.mktemp("langgraph-dev-schemas"), graphs) as url:
        yield url


SCHEMAS = ("input_schema", "output_schema", "state_schema", "config_schema", "context_schema")


@pytest.mark.parametrize("graph", schema_graphs.GRAPHS)
def test_an_assistant_is_described_by_the_same_schemas_on_both_servers(
    graph: str, schema_reference: str, spawn: Spawn
) -> None:
    found = httpx.post(f"{schema_reference}/assistants/search", json={"graph_id": graph})
    assistant_id = found.json()[0]["assistant_id"]
    theirs = httpx.get(f"{schema_reference}/assistants/{assistant_id}/schemas").json()
    gateway = spawn(graph=f"schema_graphs:{graph}")
    ours = httpx.get(f"{gateway.url}/langgraph/assistants/{graph}/schemas", timeout=20).json()
    assert ours["graph_id"] == theirs["graph_id"] == graph
    for name in SCHEMAS:
        assert ours[name] == theirs[name], name
    assert ours["state_schema"] is not None


def shape(value: Any) -> Any:
    """The keys and value types, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__ if value is not None else "null"


def test_info_and_ok_answer_in_langgraph_s_shape(reference: str, gateway: str) -> None:
    theirs = httpx.get(f"{reference}/info").json()
    ours = httpx.get(f"{gateway}/info").json()
    assert shape(ours) == shape(theirs)
    assert ours["version"] == version("langgraph-sse-gateway")
    assert ours["langgraph_py_version"] == theirs["langgraph_py_version"]
    # Assistants can be made and versioned, crons kept; no LangSmith.
    flags = {**dict.fromkeys(ours["flags"], False), "assistants": True, "crons": True}
    assert ours["flags"] == flags
    for query in ("", "?check_db=0", "?check_db=1"):
        assert (
            httpx.get(f"{gateway}/ok{query}").json() == httpx.get(f"{reference}/ok{query}").json()
        )
    # Their document says 0 or 1; their server takes any integer. Here the document holds.
    assert httpx.get(f"{gateway}/ok?check_db=2").status_code == 422


FAULT_GRAPHS = {
    "contextual": "lg_fault_graphs.py:contextual",
    "with_config": "lg_fault_graphs.py:with_config",
    "with_runtime": "lg_fault_graphs.py:with_runtime",
    "with_both": "lg_fault_graphs.py:with_both",
    "nested": "sample_graphs.py:nested",
}


@pytest.fixture(scope="module")
def fault_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    graphs = {name: str(TESTS / reference) for name, reference in FAULT_GRAPHS.items()}
    with langgraph_dev(tmp_path_factory.mktemp("langgraph-dev-faults"), graphs) as url:
        yield url


async def run_result(url: str, graph: str, **options: Any) -> Any:
    client = get_client(url=url, timeout=60)
    try:
        return (await client.runs.wait(None, graph, input={}, **options))["result"]
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("graph", "options"),
    [
        # No context: the context schema's defaults, not None.
        ("contextual", {}),
        ("contextual", {"context": {"model": "given"}}),
        # Factories called with the run's config, the runtime, or both.
        ("with_config", {"config": {"configurable": {"flavour": "spicy"}}}),
        ("with_runtime", {"context": {"model": "given"}}),
        ("with_both", {"config": {"configurable": {"flavour": "spicy"}}}),
    ],
)
async def test_a_run_sees_its_context_and_a_factory_its_arguments_as_on_langgraph_s_server(
    graph: str, options: dict[str, Any], fault_reference: str, spawn: Spawn
) -> None:
    theirs = await run_result(fault_reference, graph, **options)
    gateway = spawn(graph=f"lg_fault_graphs:{graph}")
    ours = await run_result(f"{gateway.url}/langgraph", graph, **options)
    assert ours == theirs
    assert "None" not in str(ours)


async def paused_in_a_subgraph(url: str) -> dict[str, Any]:
    """A thread paused inside a subgraph: its state as a client reads it, the subgraph's
    state read through the task's checkpoint, and state updates good and bad."""
    client = get_client(url=url, timeout=60)
    seen: dict[str, Any] = {}
    try:
        thread_id = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread_id, "nested", input={})
        state = await client.threads.get_state(thread_id)
        seen["tasks"] = comparable(state["tasks"])
        inner = await client.threads.get_state(
            thread_id, checkpoint=state["tasks"][0]["checkpoint"]
        )
        seen["inner"] = comparable({k: inner[k] for k in ("values", "next")})
        deep = await client.threads.get_state(thread_id, subgraphs=True)
        seen["deep"] = comparable({k: deep["tasks"][0]["state"][k] for k in ("values", "next")})
        written = await client.threads.update_state(
            thread_id, {"answers": ["set"]}, checkpoint_id=state["checkpoint_id"]
        )
        seen["written"] = sorted(written)
        seen["after"] = (await client.threads.get_state(thread_id))["values"]
        for values in ([{"answers": ["listed"]}], "text", 5):
            try:
                await client.threads.update_state(thread_id, values)
                seen[repr(values)] = 200
            except httpx.HTTPStatusError as exc:
                seen[repr(values)] = exc.response.status_code
        return seen
    finally:
        await client.aclose()


async def test_a_thread_paused_in_a_subgraph_reads_and_updates_as_on_langgraph_s_server(
    fault_reference: str, spawn: Spawn
) -> None:
    theirs = await paused_in_a_subgraph(fault_reference)
    gateway = spawn(graph="sample_graphs:nested")
    ours = await paused_in_a_subgraph(f"{gateway.url}/langgraph")
    assert ours == theirs
    assert ours["tasks"][0]["checkpoint"]["checkpoint_ns"].startswith("outer:")
    assert ours["inner"]["next"] == ["inner"]
    assert ours["[{'answers': ['listed']}]"] == 400
