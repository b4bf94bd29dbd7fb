"""Resuming with Last-Event-ID: exactly the missed events, never a second run."""

from __future__ import annotations

import random

import httpx
import pytest
from conftest import Server
from sse import FAST, read_events, start_run, wait_status


def test_resume_from_every_position_of_a_finished_run(client: httpx.Client) -> None:
    run_id = start_run(client)
    full = read_events(client, f"/runs/{run_id}/stream")
    assert full[-1].name == "run.end"
    for k in range(len(full)):
        after = f"{run_id}.{k}"
        rest = read_events(client, f"/runs/{run_id}/stream", headers={"Last-Event-ID": after})
        assert [e.id for e in rest] == [e.id for e in full[k:]], f"after {after}"
    last = client.get(f"/runs/{run_id}/stream", headers={"Last-Event-ID": full[-1].id})
    assert last.status_code == 204


def test_resume_from_random_positions_of_a_live_run(client: httpx.Client) -> None:
    rng = random.Random(7)
    run_id = start_run(client, tokens=60, token_delay=0.01)
    received = read_events(client, f"/runs/{run_id}/stream", limit=rng.randint(1, 10))
    while received[-1].name != "run.end":
        more = read_events(
            client,
            f"/runs/{run_id}/stream",
            limit=rng.randint(1, 25),
            headers={"Last-Event-ID": received[-1].id},
        )
        assert more[0].seq == received[-1].seq + 1
        received += more
    assert [e.seq for e in received] == list(range(1, len(received) + 1))
    assert wait_status(client, run_id, "success")["events"] == len(received)


def test_query_parameter_resumes_and_the_header_wins(client: httpx.Client) -> None:
    run_id = start_run(client)
    full = read_events(client, f"/runs/{run_id}/stream")
    by_query = read_events(client, f"/runs/{run_id}/stream?last_event_id={run_id}.5")
    assert by_query[0].seq == 6
    both = read_events(
        client,
        f"/runs/{run_id}/stream?last_event_id={run_id}.5",
        headers={"Last-Event-ID": f"{run_id}.9"},
    )
    assert both[0].seq == 10 and both[-1].id == full[-1].id


def test_one_shot_stream_resumes_the_same_run(client: httpx.Client) -> None:
    url = "/stream?topic=resume&delay=0.05&tokens=20&token_delay=0.01"
    first = read_events(client, url, limit=6)
    run_id = first[0].data["run_id"]
    rest = read_events(client, url, headers={"Last-Event-ID": first[-1].id})
    assert {e.data["run_id"] for e in rest} == {run_id}
    assert "run.start" not in [e.name for e in rest]
    assert [e.seq for e in first + rest] == list(range(1, len(first) + len(rest) + 1))
    assert client.get(url, headers={"Last-Event-ID": rest[-1].id}).status_code == 204


def test_post_stream_creates_then_resumes(client: httpx.Client) -> None:
    body = {"input": {**FAST, "topic": "post"}}
    first = read_events(client, "/stream", method="POST", json_body=body, limit=4)
    rest = read_events(
        client, "/stream", method="POST", json_body=body, headers={"Last-Event-ID": first[-1].id}
    )
    assert first[0].data["input"]["topic"] == "post"
    assert [e.seq for e in first + rest] == list(range(1, len(first) + len(rest) + 1))
    assert rest[-1].name == "run.end"


def test_two_subscribers_each_get_every_event(client: httpx.Client) -> None:
    import concurrent.futures

    run_id = start_run(client, tokens=30, token_delay=0.005)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda _: read_events(client, f"/runs/{run_id}/stream"), range(2))
    assert [e.id for e in a] == [e.id for e in b]
    assert a[-1].name == "run.end" and len(a) == a[-1].seq


@pytest.mark.parametrize(
    ("last_event_id", "status", "error"),
    [
        ("garbage", 400, "invalid_last_event_id"),
        ("abc.def", 400, "invalid_last_event_id"),
        ("otherrun.3", 400, "last_event_id_mismatch"),
        ("{run}.9999", 400, "last_event_id_beyond_end"),
    ],
)
def test_bad_resume_ids_are_rejected(
    client: httpx.Client, last_event_id: str, status: int, error: str
) -> None:
    run_id = start_run(client)
    wait_status(client, run_id, "success")
    response = client.get(
        f"/runs/{run_id}/stream", headers={"Last-Event-ID": last_event_id.format(run=run_id)}
    )
    assert response.status_code == status
    assert response.json()["error"] == error


def test_unknown_runs_are_404(client: httpx.Client) -> None:
    for path in ("/runs/nope", "/runs/nope/stream"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"] == "run_not_found"
    assert client.post("/runs/nope/cancel").status_code == 404
    assert client.get("/stream", headers={"Last-Event-ID": "nope.3"}).status_code == 404


def test_a_reader_behind_retention_gets_a_gap_then_the_rest(make_server, store_url: str) -> None:
    srv: Server = make_server(max_events_per_run=10)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        run_id = start_run(c, tokens=300, token_delay=0)
        wait_status(c, run_id, "success")
        total = c.get(f"/runs/{run_id}").json()["events"]
        events = read_events(c, f"/runs/{run_id}/stream", headers={"Last-Event-ID": f"{run_id}.2"})
    gap, *rest = events
    assert gap.name == "stream.gap"
    first_kept = rest[0].seq
    assert gap.data == {**gap.data, "missed": first_kept - 3, "resumed_at": first_kept}
    assert gap.id == f"{run_id}.{first_kept - 1}"
    assert [e.seq for e in rest] == list(range(first_kept, total + 1))
    if store_url == "memory://":
        assert first_kept == total - 9  # exactly the last 10 kept
    else:
        assert first_kept > 3  # Redis trims approximately (MAXLEN ~), whole blocks at a time


def test_event_filter_keeps_the_named_events_and_run_end(client: httpx.Client) -> None:
    run_id = start_run(client)
    full = read_events(client, f"/runs/{run_id}/stream")
    only = read_events(client, f"/runs/{run_id}/stream?events=node.start,node.end")
    expected = [e.id for e in full if e.name in ("node.start", "node.end", "run.end")]
    assert [e.id for e in only] == expected
    bad = client.get(f"/runs/{run_id}/stream?events=node.start,nonsense")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_events"


def test_raw_mode_streams_langchain_events_with_the_same_ids_and_end(
    client: httpx.Client,
) -> None:
    events = read_events(client, "/stream?mode=raw&delay=0.01&tokens=2&token_delay=0")
    run_id = events[0].data["run_id"]
    names = [e.name for e in events]
    assert names[0] == "on_chain_start" and names[-1] == "run.end"
    assert "on_chat_model_stream" in names and "on_custom_event" in names
    assert [e.id for e in events] == [f"{run_id}.{i}" for i in range(1, len(events) + 1)]
    assert events[0].data["event"]["name"] == "demo"
    assert events[-1].data["status"] == "success"
    mismatch = client.get(f"/runs/{run_id}/stream?mode=events")
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "mode_mismatch"
