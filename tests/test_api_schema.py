"""The API description is true: schemathesis sends generated requests to every non-streaming
route of a live gateway (its own API and the LangGraph one, auth on) and checks that no answer
is a 5xx or contradicts /openapi.json. Bounded: a fixed number of examples a route."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import Server, start_server
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# No 5xx, and every answer as described: its status, content type, headers and body; a request
# the description calls invalid is refused. (Schemathesis' "valid data must be accepted" is
# left out: the API refuses some valid-looking requests for what they mean — a command with
# no thread, an id of no run — with documented 4xx answers.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
KEY = "key-fuzz-0123456789abcdef"
AUTH = {"authorization": f"Bearer {KEY}"}
EXAMPLES = 30
# Streams never end by themselves; /wait and /join hold the request until a run ends.
STREAMING = r"(/stream$|/stream/events$|/wait$|/join$|^/ag-ui$|^/ai-sdk/chat$)"


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("fuzzed"),
        "sample_graphs:echo",
        auth="api-keys",
        api_keys=f"fuzz:{KEY}",
        max_runs_per_principal=10_000,
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def native(fuzzed: Server) -> schemathesis.schemas.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    return loaded.exclude(path_regex=STREAMING)


@pytest.fixture(scope="module")
def langgraph(fuzzed: Server) -> schemathesis.schemas.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{fuzzed.url}/langgraph/openapi.json")
    loaded.config.update(base_url=f"{fuzzed.url}/langgraph")
    return loaded.exclude(path_regex=STREAMING)


# Points a valid request at real data (drawing what it needs): a thread with state, say.
Aim = Callable[[schemathesis.Case, st.DataObject], None]


def fuzz(
    schema: schemathesis.schemas.BaseSchema, aim: Aim | None = None
) -> tuple[int, int, list[str]]:
    """Every operation, EXAMPLES valid and EXAMPLES invalid generated requests each:
    (operations, requests, failures)."""
    operations = requests = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            sent = 0

            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                phases=[Phase.explicit, Phase.generate],
            )
            def check(case: schemathesis.Case, data: st.DataObject) -> None:
                nonlocal sent
                sent += 1
                # Only valid requests: real ids could make an invalid one valid. (`check` runs
                # within this iteration, so `mode` is the one it was made for.)
                if aim is not None and mode is GenerationMode.POSITIVE:  # noqa: B023
                    aim(case, data)
                case.call_and_validate(headers=AUTH, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                pass  # nothing in this operation can be made invalid (no parameters, no body)
            # Schemathesis reports what it finds as an exception group: the first failure of
            # this operation and mode, shrunk by hypothesis.
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:2000]}")
            requests += sent
    return operations, requests, failures


def test_the_gateway_api_answers_as_described(native: schemathesis.schemas.BaseSchema) -> None:
    operations, requests, failures = fuzz(native)
    print(f"\ngateway API: {operations} operations, {requests} requests")
    assert operations >= 12 and not failures, "\n\n".join(failures)


def test_the_langgraph_api_answers_as_described(
    langgraph: schemathesis.schemas.BaseSchema,
) -> None:
    operations, requests, failures = fuzz(langgraph)
    print(f"\nLangGraph API: {operations} operations, {requests} requests")
    assert operations >= 20 and not failures, "\n\n".join(failures)


# The routes that read and write a thread's checkpoints.
STATE_ROUTES = r"^/threads/\{thread_id\}/(state|history)"


@pytest.fixture(scope="module")
def stateful(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """A gateway serving a graph that pauses inside a subgraph, with threads in each state
    a client meets: paused there, resumed to the end, never run; and their checkpoints."""
    srv = start_server(
        tmp_path_factory.mktemp("stateful"),
        "sample_graphs:nested",
        auth="api-keys",
        api_keys=f"fuzz:{KEY}",
        max_runs_per_principal=10_000,
    )
    run = {"assistant_id": "nested", "input": {}}
    with httpx.Client(base_url=f"{srv.url}/langgraph", headers=AUTH, timeout=30) as client:
        threads = [client.post("/threads", json={}).json()["thread_id"] for _ in range(3)]
        paused, resumed, _ = threads
        for thread_id in (paused, resumed):
            client.post(f"/threads/{thread_id}/runs/wait", json=run).raise_for_status()
        resume = {"assistant_id": "nested", "command": {"resume": "yes"}}
        client.post(f"/threads/{resumed}/runs/wait", json=resume).raise_for_status()
        checkpoints = [
            state["checkpoint"]
            for thread_id in threads
            for state in client.post(f"/threads/{thread_id}/history", json={}).json()
        ]
        paused_state = client.get(f"/threads/{paused}/state").json()
    subgraph = paused_state["tasks"][0]["checkpoint"]
    assert len(checkpoints) >= 4 and subgraph["checkpoint_ns"].startswith("outer:")
    yield srv, {"threads": threads, "checkpoints": [*checkpoints, subgraph]}
    srv.stop()


def aim_at(real: dict[str, Any]) -> Aim:
    def aim(case: schemathesis.Case, data: st.DataObject) -> None:
        checkpoint = data.draw(st.sampled_from(real["checkpoints"]))
        if case.path_parameters and "thread_id" in case.path_parameters:
            case.path_parameters["thread_id"] = data.draw(st.sampled_from(real["threads"]))
        if case.path_parameters and "checkpoint_id" in case.path_parameters:
            case.path_parameters["checkpoint_id"] = checkpoint.get("checkpoint_id", "none")
        if isinstance(case.body, dict) and data.draw(st.booleans()):
            # The body names a real checkpoint too, as a client's would.
            for key in ("checkpoint", "before"):
                if key in case.body:
                    case.body[key] = checkpoint
            if "checkpoint_id" in case.body:
                case.body["checkpoint_id"] = checkpoint.get("checkpoint_id")

    return aim


def test_the_state_routes_answer_as_described_on_threads_with_state(
    stateful: tuple[Server, dict[str, Any]],
) -> None:
    srv, real = stateful
    loaded = schemathesis.openapi.from_url(f"{srv.url}/langgraph/openapi.json")
    loaded.config.update(base_url=f"{srv.url}/langgraph")
    operations, requests, failures = fuzz(loaded.include(path_regex=STATE_ROUTES), aim_at(real))
    print(f"\nstate routes on threads with state: {operations} operations, {requests} requests")
    assert operations >= 5 and not failures, "\n\n".join(failures)
