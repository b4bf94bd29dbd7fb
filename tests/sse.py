"""Reading the gateway's streams in tests: events as a client sees them, and raw bytes."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

FAST = {"delay": 0.01, "tokens": 5, "token_delay": 0.002}
# The project's SSE contract checker lives beside the repository when it is checked out
# together with its shared tooling; tests that need it skip without it.
CHECKER = Path(__file__).resolve().parents[2] / "shared" / "sse_check.py"


@functools.cache
def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sse_check", CHECKER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def sse_check() -> ModuleType:
    if not CHECKER.exists():
        pytest.skip("the shared SSE contract checker is not beside the repository")
    return _load_checker()


@dataclass
class Received:
    name: str
    id: str
    data: dict[str, Any]

    @property
    def seq(self) -> int:
        return self.data["seq"]


def read_events(
    client: httpx.Client,
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    limit: int | None = None,
    json_body: Any = None,
    params: dict[str, str] | None = None,
    timeout: float = 30,
    into: list[Received] | None = None,
) -> list[Received]:
    """Events of one connection, until the server ends it or `limit` events have arrived;
    appended to `into` as they arrive, when given."""
    events: list[Received] = [] if into is None else into
    deadline = time.monotonic() + timeout
    kwargs: dict[str, Any] = {"headers": headers or {}, "params": params}
    if json_body is not None:
        kwargs["json"] = json_body
    with connect_sse(client, method, url, **kwargs) as source:
        source.response.raise_for_status()
        for sse in source.iter_sse():
            assert time.monotonic() < deadline, "stream did not end in time"
            if not sse.data:
                continue
            events.append(Received(sse.event, sse.id, json.loads(sse.data)))
            if limit is not None and len(events) >= limit:
                break
    return events


class BackgroundReader:
    """One stream read in a thread while the test does something else; `events` grows live."""

    def __init__(self, client: httpx.Client, url: str, timeout: float = 40) -> None:
        self.events: list[Received] = []
        self.error: httpx.HTTPError | None = None
        self._thread = threading.Thread(target=self._read, args=(client, url, timeout), daemon=True)
        self._thread.start()

    def _read(self, client: httpx.Client, url: str, timeout: float) -> None:
        try:
            read_events(client, url, timeout=timeout, into=self.events)
        except httpx.HTTPError as exc:  # a connection the test breaks on purpose
            self.error = exc

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            assert time.monotonic() < deadline, f"only {len(self.events)} events arrived"
            time.sleep(0.02)

    def finished(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


def read_raw(
    client: httpx.Client,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    seconds: float | None = None,
) -> tuple[httpx.Response, bytes]:
    """The raw body of one stream: until it ends, or for `seconds`."""
    chunks: list[bytes] = []
    started = time.monotonic()
    with client.stream("GET", url, headers=headers or {}) as response:
        for chunk in response.iter_raw():
            chunks.append(chunk)
            if seconds is not None and time.monotonic() - started > seconds:
                break
    return response, b"".join(chunks)


def start_run(client: httpx.Client, **input_: Any) -> str:
    response = client.post("/runs", json={"input": {**FAST, **input_}})
    assert response.status_code == 201, response.text
    return response.json()["run_id"]


def wait_status(client: httpx.Client, run_id: str, *statuses: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/runs/{run_id}").json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"run stayed {body['status']}, wanted {statuses}"
        time.sleep(0.05)
