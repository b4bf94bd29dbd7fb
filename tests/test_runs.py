"""Run lifecycle over HTTP: status, errors, cancel, disconnect policies, limits, shutdown."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from conftest import Server
from sse import FAST, BackgroundReader, read_events, read_raw, start_run, wait_status


def test_run_status_moves_from_running_to_success(client: httpx.Client) -> None:
    created = client.post("/runs", json={"input": {**FAST, "delay": 0.3}})
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "pending"
    assert body["stream_url"] == f"/runs/{body['run_id']}/stream"
    running = wait_status(client, body["run_id"], "running")
    assert running["ended_at"] is None and running["created_at"].endswith("Z")
    done = wait_status(client, body["run_id"], "success")
    assert done["ended_at"] >= done["created_at"]
    assert done["events"] == len(read_events(client, body["stream_url"]))


@pytest.mark.parametrize("node", ["plan", "research_web", "merge", "write"])
def test_a_failing_node_ends_the_run_with_errors(client: httpx.Client, node: str) -> None:
    run_id = start_run(client, fail=node)
    events = read_events(client, f"/runs/{run_id}/stream")
    tail = [e.name for e in events[-3:]]
    assert tail == ["node.error", "run.error", "run.end"]
    node_error, run_error, end = (e.data for e in events[-3:])
    assert node_error["node"] == node
    assert node_error["error"]["type"] == "DemoFailure"
    assert run_error["error"] == node_error["error"]
    assert "Traceback" not in run_error["error"]["message"]
    assert end["status"] == "error" and "output" not in end
    assert wait_status(client, run_id, "error")["status"] == "error"


def test_cancel_ends_the_stream_with_run_end_cancelled(client: httpx.Client) -> None:
    run_id = start_run(client, delay=2)
    reader = BackgroundReader(client, f"/runs/{run_id}/stream")
    wait_status(client, run_id, "running")
    response = client.post(f"/runs/{run_id}/cancel")
    assert response.status_code == 202
    assert reader.finished(10)
    received = reader.events
    assert received[-1].name == "run.end" and received[-1].data["status"] == "cancelled"
    assert wait_status(client, run_id, "cancelled")["ended_at"] is not None
    again = client.post(f"/runs/{run_id}/cancel")
    assert again.status_code == 202 and again.json()["status"] == "cancelled"


def test_cancel_policy_cancels_after_the_grace_period(make_server) -> None:
    srv: Server = make_server(disconnect_grace_seconds=0.5)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        created = c.post("/runs", json={"input": {"delay": 3}, "on_disconnect": "cancel"})
        run_id = created.json()["run_id"]
        read_events(c, f"/runs/{run_id}/stream", limit=2)
        time.sleep(0.2)
        assert c.get(f"/runs/{run_id}").json()["status"] == "running"
        wait_status(c, run_id, "cancelled", timeout=5)


def test_cancel_policy_survives_a_quick_reconnect(make_server) -> None:
    srv: Server = make_server(disconnect_grace_seconds=1)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        created = c.post("/runs", json={"input": {**FAST, "delay": 0.4}, "on_disconnect": "cancel"})
        run_id = created.json()["run_id"]
        first = read_events(c, f"/runs/{run_id}/stream", limit=2)
        rest = read_events(c, f"/runs/{run_id}/stream", headers={"Last-Event-ID": first[-1].id})
        assert rest[-1].data["status"] == "success"


def test_cancel_policy_from_the_environment_and_continue_by_default(make_server) -> None:
    cancelling: Server = make_server(on_disconnect="cancel", disconnect_grace_seconds=0.3)
    continuing: Server = make_server(disconnect_grace_seconds=0.3)
    for srv, expected in ((cancelling, "cancelled"), (continuing, "success")):
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            run_id = start_run(c, delay=0.5)
            read_events(c, f"/runs/{run_id}/stream", limit=1)
            assert wait_status(c, run_id, "cancelled", "success")["status"] == expected


def test_a_stalled_reader_does_not_hold_the_run_back(client: httpx.Client) -> None:
    run_id = start_run(client, tokens=2000, token_delay=0)
    with client.stream("GET", f"/runs/{run_id}/stream") as response:
        assert response.status_code == 200
        done = wait_status(client, run_id, "success")  # nothing is read meanwhile
    assert done["events"] > 2000


def test_capacity_answers_429_and_changes_nothing(make_server) -> None:
    srv: Server = make_server(max_runs=1)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        run_id = start_run(c, delay=0.5)
        refused = c.post("/runs", json={"input": FAST})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == "at_capacity"
        assert c.get("/stream?topic=x").status_code == 429
        assert wait_status(c, run_id, "success")["status"] == "success"
        assert c.post("/runs", json={"input": FAST}).status_code == 201


def test_finished_runs_expire_after_their_ttl(make_server) -> None:
    srv: Server = make_server(run_ttl_seconds=0.5)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        run_id = start_run(c)
        wait_status(c, run_id, "success")
        deadline = time.monotonic() + 5
        while c.get(f"/runs/{run_id}").status_code != 404:
            assert time.monotonic() < deadline, "run was never evicted"
            time.sleep(0.1)
        assert c.get(f"/runs/{run_id}/stream").status_code == 404


def test_sigterm_drains_then_ends_open_streams(make_server, store_url: str) -> None:
    srv: Server = make_server(shutdown_grace_seconds=2, drain_seconds=1)
    with httpx.Client(base_url=srv.url, timeout=15) as c:
        run_id = start_run(c, delay=5)
        reader = BackgroundReader(c, f"/runs/{run_id}/stream")
        reader.wait_for(2)
        # A shutdown that hangs is killed after this timeout (several times the drain and the
        # grace), and its exit code says so: the bound catches a hang, not a slow exit.
        code = srv.stop(signal.SIGTERM, timeout=15)
        assert reader.finished(10)
    received = reader.events
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert code in (0, -signal.SIGTERM), srv.output()
    assert "Traceback" not in srv.output()
    assert reader.error is None, reader.error
    if store_url.startswith("memory"):
        # No other process could continue it: once the drain is over, it is cancelled.
        assert received[-1].name == "run.end", [e.name for e in received]
        assert received[-1].data["status"] == "cancelled"
    else:
        # Handed over, for the next process to continue (tests/test_durable.py): its stream
        # ends without a run.end, so that its client reconnects.
        assert "run.end" not in [e.name for e in received]
        assert "handing over 1 runs" in srv.output()


def test_a_run_silent_longer_than_every_timeout_keeps_its_stream(
    make_server, store_url: str
) -> None:
    # Every timeout between the run and the reader is made short (the Redis socket timeout and
    # block through the URL, the retry window, the send timeout), then the run goes quiet for
    # three times the longest of them.
    if store_url.startswith("redis"):
        store_url += "?socket_timeout=1"
    srv: Server = make_server(
        "sample_graphs:quiet",
        store_url=store_url,
        store_retry_seconds=1,
        send_timeout_seconds=1,
        heartbeat_seconds=0.5,
    )
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        created = c.post("/runs", json={"input": {"pause": 6}})
        response, body = read_raw(c, created.json()["stream_url"], seconds=30)
    assert response.status_code == 200
    blocks = [block for block in body.split(b"\n\n") if block]
    kinds = [block.split(b"\n")[0].removeprefix(b"event: ").decode() for block in blocks[1:]]
    assert [k for k in kinds if k != ": heartbeat"] == [
        *("run.start", "node.start", "custom", "custom", "node.end", "run.end")
    ]
    assert b'"status":"success"' in blocks[kinds.index("run.end") + 1]
    # Heartbeats fill the pause between the two custom events.
    first, second = (i for i, kind in enumerate(kinds) if kind == "custom")
    assert set(kinds[first + 1 : second]) == {": heartbeat"} and second - first > 10
