"""The API description is true: schemathesis sends generated requests to every non-streaming
route of a live gateway (its own API and the LangGraph one, auth on) and checks that no answer
is a 5xx or contradicts /openapi.json. Bounded: a fixed number of examples a route."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from conftest import Server, start_server
from hypothesis import HealthCheck, Phase, given, settings
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
STREAMING = r"(/stream$|/wait$|/join$)"


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


def fuzz(schema: schemathesis.schemas.BaseSchema) -> tuple[int, int, list[str]]:
    """Every operation, EXAMPLES valid and EXAMPLES invalid generated requests each:
    (operations, requests, failures)."""
    operations = requests = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            sent = 0

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                phases=[Phase.explicit, Phase.generate],
            )
            def check(case: schemathesis.Case) -> None:
                nonlocal sent
                sent += 1
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
