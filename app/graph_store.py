"""Choosing LangGraph's store (a graph's long-term memory), from GATEWAY_GRAPH_STORE.

LangGraph's `BaseStore` holds what a graph remembers across threads (`get_store()`,
`runtime.store`, a node taking `store`); the `/store` routes read and write the same one. The
gateway only opens it, hands it to the graph (unless the graph brought its own) and closes it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from app.checkpointers import POSTGRES_SCHEMES, describe_url, reachable, set_up_one_at_a_time
from app.settings import Settings

logger = logging.getLogger("uvicorn.error")


class GraphStoreConfigError(Exception):
    """GATEWAY_GRAPH_STORE cannot be used as given; the message is one line."""


@dataclass(frozen=True)
class GraphStore:
    """The graph to run (with the store attached when there is one) and the store."""

    graph: Pregel
    store: BaseStore | None
    description: str


def graph_store_url(settings: Settings) -> str:
    """The configured URL, or the default for the event store: in-memory with the memory
    store, none with Redis (where each process would remember something else)."""
    if settings.graph_store is not None:
        return settings.graph_store.strip()
    return "memory://" if settings.store_url.startswith("memory") else "none"


def check_graph_store(settings: Settings) -> None:
    url = graph_store_url(settings)
    scheme = url.partition("://")[0]
    if url != "none" and scheme not in ("memory", *POSTGRES_SCHEMES):
        raise GraphStoreConfigError(
            f"GATEWAY_GRAPH_STORE {url!r}: unsupported (use memory://, "
            "postgresql://user:pass@host:port/db or none)"
        )
    if scheme == "memory" and not settings.store_url.startswith("memory"):
        raise GraphStoreConfigError(
            f"GATEWAY_GRAPH_STORE {url!r} remembers in one process, but GATEWAY_STORE_URL is "
            "shared by several: set GATEWAY_GRAPH_STORE=postgresql://user:pass@host:port/db"
        )


@contextlib.asynccontextmanager
async def open_graph_store(graph: Pregel, settings: Settings) -> AsyncIterator[GraphStore]:
    check_graph_store(settings)
    own = graph.store
    if isinstance(own, BaseStore):
        # A graph compiled with its own store keeps it, and the routes read that one.
        yield GraphStore(graph, own, f"the graph's own {type(own).__name__}")
        return
    url = graph_store_url(settings)
    scheme = url.partition("://")[0]
    if url == "none":
        yield GraphStore(graph, None, "none (the /store routes answer 501)")
        return
    if scheme == "memory":
        from langgraph.store.memory import InMemoryStore

        store: BaseStore = InMemoryStore()
        yield GraphStore(graph.copy(update={"store": store}), store, "in memory")
        return
    async with _open_postgres(url, settings) as store:
        yield GraphStore(graph.copy(update={"store": store}), store, describe_url(url))


@contextlib.asynccontextmanager
async def _open_postgres(url: str, settings: Settings) -> AsyncIterator[BaseStore]:
    from langgraph.store.postgres import AsyncPostgresStore

    try:
        await reachable(url)
    except ConnectionError as exc:
        raise GraphStoreConfigError(str(exc)) from exc
    # LangGraph's server: items read are kept alive again; expired ones swept every few minutes.
    ttl = {"refresh_on_read": True, "sweep_interval_minutes": settings.graph_store_sweep_minutes}
    async with AsyncPostgresStore.from_conn_string(url, ttl=ttl) as store:  # type: ignore[arg-type]
        await set_up_one_at_a_time(store, url)
        await store.start_ttl_sweeper()
        try:
            yield store
        finally:
            await store.stop_ttl_sweeper()
