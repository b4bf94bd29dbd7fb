"""Choosing the event store from GATEWAY_STORE_URL."""

from __future__ import annotations

from app.events import gap_event_factory
from app.settings import Settings
from app.store.base import EventStore, RunRecord
from app.store.memory import MemoryStore

__all__ = ["EventStore", "RunRecord", "StoreConfigError", "open_store"]


class StoreConfigError(Exception):
    pass


def open_store(settings: Settings) -> EventStore:
    scheme = settings.store_url.partition("://")[0]
    if scheme == "memory":
        return MemoryStore(
            max_events_per_run=settings.max_events_per_run,
            run_ttl_seconds=settings.run_ttl_seconds,
            gap_event=gap_event_factory(settings.max_payload_bytes),
        )
    if scheme in ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"):
        from app.store.redis import RedisStore

        return RedisStore(
            settings.store_url,
            max_events_per_run=settings.max_events_per_run,
            run_ttl_seconds=settings.run_ttl_seconds,
            gap_event=gap_event_factory(settings.max_payload_bytes),
            retry_seconds=settings.store_retry_seconds,
        )
    raise StoreConfigError(
        f"GATEWAY_STORE_URL {settings.store_url!r}: unsupported store "
        "(use memory://, redis://host:port/db or redis+cluster://host:port)"
    )
