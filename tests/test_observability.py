"""What an operator sees: /metrics (Prometheus' text format) and one JSON object a log line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import Server, start_server
from prometheus_client.parser import text_string_to_metric_families
from sse import FAST, read_events, read_raw, wait_status

KEY = "key-ops-0123456789abcdef"
METRICS_KEY = "metrics-0123456789abcdef"


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("observed"),
        log_level="info",
        log_format="json",
        metrics_key=METRICS_KEY,
        auth="api-keys",
        api_keys=f"ops:{KEY}",
        heartbeat_seconds=0.2,
        max_events_per_run=20,
    )
    yield srv
    srv.stop()


def scrape(srv: Server) -> dict[str, float]:
    text = httpx.get(f"{srv.url}/metrics", headers={"authorization": f"Bearer {METRICS_KEY}"}).text
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def test_metrics_count_runs_streams_resumes_and_refusals(observed: Server) -> None:
    assert httpx.get(f"{observed.url}/metrics").status_code == 401
    before = scrape(observed)
    with httpx.Client(
        base_url=observed.url, headers={"authorization": f"Bearer {KEY}"}, timeout=20
    ) as c:
        ok = c.post("/runs", json={"input": {**FAST, "delay": 0.5}}).json()
        events = read_events(c, ok["stream_url"])  # heartbeats while `plan` sleeps
        read_events(c, ok["stream_url"], headers={"Last-Event-ID": events[-4].id})
        assert c.get(ok["stream_url"], headers={"Last-Event-ID": events[-1].id}).status_code == 204
        failed = c.post("/runs", json={"input": {**FAST, "fail": "plan"}}).json()
        wait_status(c, failed["run_id"], "error")
        long = c.post("/runs", json={"input": {**FAST, "tokens": 60}}).json()
        wait_status(c, long["run_id"], "success")
        read_events(c, long["stream_url"], headers={"Last-Event-ID": f"{long['run_id']}.2"})
    httpx.get(f"{observed.url}/graph", headers={"authorization": "Bearer wrong"})
    after = scrape(observed)

    def grew(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert grew("gateway_runs_started_total") == 3
    assert grew("gateway_runs_ended_total{status=success}") == 2
    assert grew("gateway_runs_ended_total{status=error}") == 1
    assert grew("gateway_resumes_total{outcome=exact}") == 1
    assert grew("gateway_resumes_total{outcome=gap}") == 1  # 60 tokens, 20 events kept
    assert grew("gateway_resumes_total{outcome=complete}") == 1
    assert grew("gateway_heartbeats_sent_total") >= 1
    assert grew("gateway_auth_failures_total{reason=invalid}") == 1
    assert grew("gateway_stream_bytes_sent_total") > 1000
    assert grew("gateway_events_appended_total") > 60
    assert grew("gateway_run_duration_seconds_count") == 3
    assert grew("gateway_first_event_seconds_count") == 3
    assert after["gateway_active_runs"] == 0 and after["gateway_open_streams"] == 0
    # The loop's lag is sampled four times a second; full collections are timed as they come.
    assert grew("gateway_event_loop_lag_seconds_count") >= 2
    assert "gateway_gc_pause_seconds_count" in after


def test_log_lines_are_json_with_the_run_and_stream_fields(observed: Server) -> None:
    with httpx.Client(
        base_url=observed.url, headers={"authorization": f"Bearer {KEY}"}, timeout=20
    ) as c:
        run = c.post("/runs", json={"input": {**FAST, "topic": "a secret input"}}).json()
        read_raw(c, run["stream_url"])
    time.sleep(0.5)
    lines = [json.loads(line) for line in observed.output().splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    mine = [line for line in lines if line.get("run_id") == run["run_id"]]
    events = {line["event"]: line for line in mine}
    assert events["run.start"]["principal"] == "ops"
    assert events["run.end"]["status"] == "success" and events["run.end"]["events"] > 10
    assert events["stream.close"]["bytes_sent"] > 1000 and events["stream.open"]["after"] == 0
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any(line.get("path", "").endswith("token=***") for line in access)
    text = observed.output()
    assert "a secret input" not in text and KEY not in text
