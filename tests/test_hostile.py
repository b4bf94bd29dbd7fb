"""Clients that send too much, too slowly, or never read: each is refused or cut off by a limit,
the server's memory stays bounded, and a stream another client is reading carries on to its end."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Server, start_server
from prometheus_client.parser import text_string_to_metric_families
from sse import BackgroundReader, read_events

HEADER_TIMEOUT = 1.0
# A bound that catches a server that does not cut in, not a slow one: several header timeouts,
# yet under the 10 s default (a setting ignored) and the 10 s a dripping client takes (a
# deadline that restarts with every byte).
CUT_OFF_WITHIN = 6 * HEADER_TIMEOUT
SEND_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("hostile"),
        "sample_graphs:flood",
        header_timeout_seconds=HEADER_TIMEOUT,
        send_timeout_seconds=SEND_TIMEOUT,
        heartbeat_seconds=0.5,
    )
    yield srv
    srv.stop()


def rss_bytes(srv: Server) -> int:
    status = Path(f"/proc/{srv.process.pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match[1]) * 1024


def address(srv: Server) -> tuple[str, int]:
    url = httpx.URL(srv.url)
    assert url.host == "127.0.0.1" and url.port is not None
    return url.host, url.port


def exchange(srv: Server, pieces: Iterable[bytes], *, timeout: float = 10) -> bytes:
    """Send raw bytes (as long as the server takes them), then read what it answers until it
    closes the connection."""
    with socket.create_connection(address(srv), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for piece in pieces:
                sock.sendall(piece)
        return read_until_closed(sock, timeout)


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


@contextlib.contextmanager
def bystander(srv: Server) -> Iterator[None]:
    """A two-second stream someone else reads while the hostile client does its worst: it must
    get every event, in order, to its end; and the server's memory must not balloon."""
    rss_before = rss_bytes(srv)
    with httpx.Client(base_url=srv.url, timeout=20) as client:
        run = client.post("/runs", json={"input": {"count": 100, "delay": 0.02}}).json()
        reader = BackgroundReader(client, run["stream_url"])
        reader.wait_for(5)
        yield
        assert reader.finished(20), "the bystander's stream stalled"
    assert reader.error is None
    assert [e.seq for e in reader.events] == list(range(1, len(reader.events) + 1))
    assert reader.events[-1].name == "run.end"
    assert sum(e.name == "custom" for e in reader.events) == 100
    assert rss_bytes(srv) - rss_before < 32 * 1024 * 1024


def test_oversized_headers_are_refused_with_431(guarded: Server) -> None:
    with bystander(guarded):
        # One endless header, sent in pieces for as long as the server reads them: 8 MiB.
        endless = [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "] + [b"a" * 65536] * 128
        assert status_of(exchange(guarded, endless)) == 431
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
        assert status_of(exchange(guarded, [b"GET /healthz HTTP/1.1\r\n", many, b"\r\n"])) == 431


def test_a_huge_query_string_is_refused_with_414(guarded: Server) -> None:
    with bystander(guarded):
        huge = b"GET /runs?x=" + b"a" * 1_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        assert status_of(exchange(guarded, [huge])) == 414
        params = b"&".join(b"p%d=1" % i for i in range(10_000))
        request = b"GET /stream?" + params + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        assert status_of(exchange(guarded, [request])) == 414


def test_too_many_query_parameters_are_a_400_in_each_api(guarded: Server) -> None:
    params = "&".join(f"p{i}=1" for i in range(101))
    with bystander(guarded):
        native = httpx.get(f"{guarded.url}/stream?{params}")
        assert native.status_code == 400
        assert native.json()["error"] == "too_many_query_parameters"
        dialect = httpx.get(f"{guarded.url}/langgraph/assistants/flood?{params}")
        assert dialect.status_code == 400
        assert "query parameters" in dialect.json()["detail"]
    # A hundred are still fine: they become the one-shot run's input fields.
    fine = {"input": '{"count": 1}', **{f"p{i}": "1" for i in range(99)}}
    with httpx.Client(base_url=guarded.url, timeout=20) as client:
        events = read_events(client, "/stream", params=fine)
    assert events[-1].name == "run.end" and events[-1].data["status"] == "success"


def test_invalid_utf8_and_deep_nesting_are_422(guarded: Server) -> None:
    invalid_utf8 = b'{"input": {"text": "\xff\xfe"}}'
    deep = b'{"input": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    headers = {"content-type": "application/json"}
    with bystander(guarded):
        for body in (invalid_utf8, deep):
            native = httpx.post(f"{guarded.url}/runs", content=body, headers=headers)
            assert native.status_code == 422, native.text
            assert native.json()["error"] in ("invalid_body", "invalid_request")
            dialect = httpx.post(
                f"{guarded.url}/langgraph/runs/wait", content=body, headers=headers
            )
            assert dialect.status_code == 422, dialect.text
            assert "detail" in dialect.json()


def test_a_huge_last_event_id_is_refused(guarded: Server) -> None:
    with httpx.Client(base_url=guarded.url, timeout=20) as client, bystander(guarded):
        run = client.post("/runs", json={"input": {"count": 1}}).json()
        long_id = f"{run['run_id']}.{'9' * 40_000}"
        answer = client.get(run["stream_url"], headers={"Last-Event-ID": long_id})
        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_last_event_id"
        assert len(answer.content) < 1024  # the bad value is not echoed back whole
        huge = f"{run['run_id']}.{'9' * 100_000}"
        assert client.get(run["stream_url"], headers={"Last-Event-ID": huge}).status_code == 431


def test_a_client_that_never_finishes_its_headers_is_cut_off(guarded: Server) -> None:
    with bystander(guarded):
        # Connects and says nothing.
        with socket.create_connection(address(guarded), timeout=10) as silent:
            started = time.monotonic()
            assert status_of(read_until_closed(silent, 10)) == 408
            assert time.monotonic() - started < CUT_OFF_WITHIN
        # Sends its headers a byte at a time, each byte well inside any idle timeout.
        with socket.create_connection(address(guarded), timeout=10) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\n")
            started = time.monotonic()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for byte in b"X-Slow: " + b"a" * 100:
                    slow.sendall(bytes([byte]))
                    time.sleep(0.1)
            assert status_of(read_until_closed(slow, 10)) == 408
            assert time.monotonic() - started < CUT_OFF_WITHIN


def open_streams(srv: Server) -> float:
    text = httpx.get(f"{srv.url}/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "gateway_open_streams":
            return sum(sample.value for sample in family.samples)
    raise AssertionError("no gateway_open_streams in /metrics")


def test_a_client_that_never_reads_is_cut_off_by_the_send_timeout(guarded: Server) -> None:
    with httpx.Client(base_url=guarded.url, timeout=20) as client, bystander(guarded):
        baseline = open_streams(guarded)
        # 16 MB of events: more than the kernel's buffers and the transport's hold.
        run = client.post("/runs", json={"input": {"count": 320, "size": 50_000}}).json()
        with socket.socket() as stuck:
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.settimeout(10)
            stuck.connect(address(guarded))
            stuck.sendall(f"GET {run['stream_url']} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            deadline = time.monotonic() + 5
            while open_streams(guarded) == baseline:
                assert time.monotonic() < deadline, "the stream never opened"
                time.sleep(0.05)
            # Never read: the server's writes stall, and after the send timeout it lets go.
            deadline = time.monotonic() + SEND_TIMEOUT + 15
            while open_streams(guarded) > baseline:
                assert time.monotonic() < deadline, "the stuck stream was never cut off"
                time.sleep(0.1)
