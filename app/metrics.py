"""What an operator watches, in Prometheus' text format at GET /metrics.

One registry per app. With `uvicorn --workers N`, set PROMETHEUS_MULTIPROC_DIR (an empty folder,
before the workers start) and every worker's figures go through files there, so /metrics on
any worker shows them all (prometheus-client's multiprocess mode); without it, each worker
shows its own.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.runs_started = Counter(
            "gateway_runs_started", "Runs started (queued ones included)", registry=registry
        )
        self.runs_ended = Counter(
            "gateway_runs_ended", "Runs ended, by final status", ["status"], registry=registry
        )
        self.runs_taken_over = Counter(
            "gateway_runs_taken_over",
            "Runs another process began, taken here: continued as a new attempt, or ended lost",
            ["reason", "outcome"],
            registry=registry,
        )
        self.active_runs = Gauge(
            "gateway_active_runs",
            "Runs running or queued in this gateway",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.open_streams = Gauge(
            "gateway_open_streams",
            "SSE streams open now",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.events_appended = Counter(
            "gateway_events_appended", "Events appended to runs' logs", registry=registry
        )
        self.bytes_sent = Counter(
            "gateway_stream_bytes_sent", "Bytes sent on SSE streams", registry=registry
        )
        self.resumes = Counter(
            "gateway_resumes",
            "Streams resumed from an event id: exact, with a stream.gap (retention dropped "
            "what it missed), or complete (nothing left: 204, or an empty LangGraph join)",
            ["outcome"],
            registry=registry,
        )
        self.heartbeats = Counter(
            "gateway_heartbeats_sent", "Heartbeat comments sent", registry=registry
        )
        self.run_duration = Histogram(
            "gateway_run_duration_seconds",
            "Runs' duration, from start to run.end",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.first_event = Histogram(
            "gateway_first_event_seconds",
            "From a run's creation to its first event in the log",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.store_retries = Counter(
            "gateway_store_retries", "Store calls retried after a failure", registry=registry
        )
        self.store_errors = Counter(
            "gateway_store_errors",
            "Store calls that failed for good (the store was unreachable)",
            registry=registry,
        )
        self.auth_failures = Counter(
            "gateway_auth_failures",
            "Requests refused as unauthenticated, by reason",
            ["reason"],
            registry=registry,
        )

        self.loop_lag = Histogram(
            "gateway_event_loop_lag_seconds",
            "How late the event loop woke a timer (sampled every quarter second)",
            buckets=PAUSE_BUCKETS,
            registry=registry,
        )
        self.gc_pauses = Histogram(
            "gateway_gc_pause_seconds",
            "Full garbage collections (the oldest generation) and how long each stopped the loop",
            buckets=PAUSE_BUCKETS,
            registry=registry,
        )

    def exposition(self) -> bytes:
        if os.environ.get(MULTIPROCESS_ENV):
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)
