"""The bytes on the wire: headers, retry first, framing, ids, heartbeats, hostile names."""

from __future__ import annotations

import json

import httpx
from conftest import Server
from sample_graphs import HOSTILE
from sse import FAST, read_events, read_raw, sse_check, start_run


def test_stream_headers_and_first_bytes(client: httpx.Client) -> None:
    run_id = start_run(client)
    with client.stream("GET", f"/runs/{run_id}/stream") as response:
        first = next(response.iter_raw())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in response.headers
    assert first.startswith(b": connected\nretry: 2000\n\n")


def test_full_demo_run_keeps_the_wire_contract(client: httpx.Client) -> None:
    checker = sse_check()
    response, raw = read_raw(client, "/stream?" + "&".join(f"{k}={v}" for k, v in FAST.items()))
    assert checker.header_problems(response.status_code, dict(response.headers)) == []
    frames = checker.parse(raw)
    assert checker.problems(frames) == []
    events = [f for f in frames if f.is_event]
    bodies = [json.loads(f.data[0]) for f in events]
    run_id = bodies[0]["run_id"]
    assert [b["seq"] for b in bodies] == list(range(1, len(bodies) + 1))
    assert [f.id for f in events] == [f"{run_id}.{b['seq']}" for b in bodies]
    names = [f.event for f in events]
    assert names[0] == "run.start" and names[-1] == "run.end"
    for expected in (
        "node.start",
        "node.end",
        "token",
        "llm.end",
        "tool.start",
        "tool.end",
        "custom",
    ):
        assert expected in names


def test_event_payloads_follow_the_contract(client: httpx.Client) -> None:
    events = read_events(client, "/stream?topic=payloads&delay=0.01&tokens=4&token_delay=0")
    by_name: dict[str, list[dict]] = {}
    for event in events:
        by_name.setdefault(event.name, []).append(event.data)
    start = by_name["run.start"][0]
    assert start["graph"] == "demo" and start["input"]["topic"] == "payloads"
    plan_start = next(d for d in by_name["node.start"] if d["node"] == "plan")
    assert plan_start["step"] == 1 and plan_start["path"] == [] and plan_start["triggers"]
    plan_end = next(d for d in by_name["node.end"] if d["node"] == "plan")
    assert plan_end["span_id"] == plan_start["span_id"]
    assert plan_end["update"]["notes"] == ["plan: explain payloads"]
    assert [m["content"] for m in plan_end["update"]["messages"]] == ["payloads"]
    # `plan` sleeps 10 ms; both ends are whole milliseconds, and uvloop may wake a timer up to a
    # millisecond early.
    assert plan_end["duration_ms"] >= 9
    assert "".join(d["text"] for d in by_name["token"]).startswith("On payloads:")
    assert len(by_name["token"]) == 4
    assert by_name["llm.end"][0]["usage"]["output_tokens"] == 4
    assert by_name["tool.start"][0]["tool"] == "lookup"
    assert by_name["tool.start"][0]["input"] == {"topic": "payloads"}
    assert by_name["tool.end"][0]["output"].startswith("payloads: text/event-stream")
    assert {d["name"] for d in by_name["custom"]} == {"progress", "custom"}
    end = by_name["run.end"][0]
    assert end["status"] == "success" and end["output"]["answer"].startswith("On payloads:")
    web, docs = (
        next(e for e in events if e.name == "node.start" and e.data["node"] == n)
        for n in ("research_web", "research_docs")
    )
    first_research_end = next(
        e for e in events if e.name == "node.end" and e.data["node"].startswith("research_")
    )
    assert max(web.seq, docs.seq) < first_research_end.seq  # the two ran in parallel


def test_heartbeats_are_comments_at_the_configured_interval(make_server) -> None:
    srv: Server = make_server(heartbeat_seconds=0.2)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        run_id = start_run(c, delay=3)
        _, raw = read_raw(c, f"/runs/{run_id}/stream", seconds=1.2)
    checker = sse_check()
    frames = checker.parse(raw)
    beats = [f for f in frames if [c.strip() for c in f.comments] == ["heartbeat"]]
    assert 3 <= len(beats) <= 8
    assert all(not f.is_event for f in beats)
    assert checker.problems(frames, finished=False) == []


def test_hostile_names_never_break_framing(make_server) -> None:
    # No checkpointer: PostgreSQL cannot store a node name holding NUL.
    srv: Server = make_server("sample_graphs:hostile", checkpointer="none")
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        response, raw = read_raw(c, "/stream")
        graph = c.get("/graph").json()
    assert response.status_code == 200
    checker = sse_check()
    frames = checker.parse(raw)
    assert checker.problems(frames) == []
    for forbidden in (b"\r", b"\x00", "\u2028".encode(), "\u2029".encode(), "\u0085".encode()):
        assert forbidden not in raw
    bodies = {f.event: json.loads(f.data[0]) for f in frames if f.is_event}
    assert bodies["node.start"]["node"] == HOSTILE
    assert bodies["custom"]["name"] == HOSTILE and bodies["custom"]["data"]["text"] == HOSTILE
    assert bodies["tool.end"]["output"] == "tool saw " + HOSTILE + "\n\u2028done"
    assert bodies["run.end"]["output"]["result"] == HOSTILE
    assert HOSTILE in {node["id"] for node in graph["nodes"]}


def test_unserializable_outputs_still_stream(make_server) -> None:
    # No checkpointer: one would refuse to store a state holding object().
    srv: Server = make_server("sample_graphs:odd", checkpointer="none")
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        events = read_events(c, "/stream")
    end = events[-1]
    assert end.name == "run.end" and end.data["status"] == "success"
    result = end.data["output"]["result"]
    assert result["set"] == [1, 2, 3]
    assert result["bytes"] == {"base64": "/wBiaW5hcnk="}
    assert result["when"] == "2026-01-02T03:04:05+00:00"
    assert result["error"] == {"type": "ValueError", "message": "bad value"}
    assert result["model"] == {"x": 1, "y": 2}
    assert result["box"] == {"label": "b", "at": "2026-01-01T00:00:00+00:00"}
    assert result["object"].startswith("<object object at")
    assert result["1"] == "int key"
    assert result["unprintable"] == "<unserializable Unprintable>"


def test_huge_output_is_truncated_with_a_marker(make_server) -> None:
    srv: Server = make_server("sample_graphs:huge", max_payload_bytes=4096)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        response, raw = read_raw(c, "/stream")
    assert response.status_code == 200
    frames = sse_check().parse(raw)
    assert all(len(line) <= 4096 + 200 for f in frames for line in f.lines)
    ends = [json.loads(f.data[0]) for f in frames if f.event == "run.end"]
    assert ends[0]["status"] == "success"
    marker = ends[0]["output"]
    assert marker["truncated"] is True and marker["bytes"] > 300_000
    assert marker["preview"].startswith('{"result":"xxxx')
