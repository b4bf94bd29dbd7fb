"""Choosing where threads keep their checkpoints, from GATEWAY_CHECKPOINTER.

LangGraph's checkpointer holds a thread's state; the gateway only opens it, hands it to the
graph (unless the graph brought its own) and closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel

from app.settings import Settings

if TYPE_CHECKING:
    from psycopg import AsyncConnection

POSTGRES_SCHEMES = ("postgresql", "postgres")


class CheckpointerConfigError(Exception):
    """GATEWAY_CHECKPOINTER cannot be used as given; the message is one line."""


@dataclass(frozen=True)
class Checkpointing:
    """The graph to run (with a checkpointer attached when there is one) and what it uses."""

    graph: Pregel
    saver: BaseCheckpointSaver[Any] | None
    description: str

    @property
    def enabled(self) -> bool:
        return self.saver is not None

    @property
    def durable(self) -> bool:
        """Whether another process finds the checkpoints: not a saver in this process's memory."""
        from langgraph.checkpoint.memory import InMemorySaver

        return self.saver is not None and not isinstance(self.saver, InMemorySaver)


def checkpointer_url(settings: Settings) -> str:
    """The configured URL, or the default for the store: in-memory with the memory store,
    none with Redis (where an in-memory saver would lose threads between processes)."""
    if settings.checkpointer is not None:
        return settings.checkpointer.strip()
    return "memory://" if settings.store_url.startswith("memory") else "none"


def check_checkpointer(settings: Settings) -> None:
    """Refuse, in one line, what cannot work: an unknown scheme, or a checkpointer private to
    one process (memory, SQLite) behind a store that several processes share."""
    url = checkpointer_url(settings)
    scheme = url.partition("://")[0]
    if url == "none" or scheme in ("memory", *POSTGRES_SCHEMES):
        pass
    elif scheme == "sqlite":
        if not _sqlite_path(url):
            raise CheckpointerConfigError(
                f"GATEWAY_CHECKPOINTER {url!r}: expected sqlite:///relative/file.db "
                "or sqlite:////absolute/file.db"
            )
    else:
        raise CheckpointerConfigError(
            f"GATEWAY_CHECKPOINTER {url!r}: unsupported (use memory://, sqlite:///file.db, "
            "postgresql://user:pass@host:port/db or none)"
        )
    if scheme in ("memory", "sqlite") and not settings.store_url.startswith("memory"):
        raise CheckpointerConfigError(
            f"GATEWAY_CHECKPOINTER {url!r} keeps threads in one process, but GATEWAY_STORE_URL "
            "is shared by several: set GATEWAY_CHECKPOINTER=postgresql://user:pass@host:port/db"
        )


def _sqlite_path(url: str) -> str:
    # SQLAlchemy's convention: three slashes, then the path (a fourth makes it absolute).
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""


@contextlib.asynccontextmanager
async def open_checkpointing(graph: Pregel, settings: Settings) -> AsyncIterator[Checkpointing]:
    check_checkpointer(settings)
    own = graph.checkpointer
    if isinstance(own, BaseCheckpointSaver):
        # A graph compiled with its own checkpointer keeps it.
        yield Checkpointing(graph, own, f"the graph's own {type(own).__name__}")
        return
    url = checkpointer_url(settings)
    scheme = url.partition("://")[0]
    if url == "none":
        yield Checkpointing(graph, None, "none (threads are disabled)")
        return
    async with _open_saver(url, scheme) as saver:
        yield Checkpointing(graph.copy(update={"checkpointer": saver}), saver, describe_url(url))


@contextlib.asynccontextmanager
async def _open_saver(url: str, scheme: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if scheme == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        from app.checkpoint_serde import InProcessSerializer

        yield InMemorySaver(serde=InProcessSerializer())
    elif scheme == "sqlite":
        from app.durable_savers import ExplainedSqliteSaver

        path = Path(_sqlite_path(url))
        path.parent.mkdir(parents=True, exist_ok=True)
        async with ExplainedSqliteSaver.from_conn_string(str(path)) as saver:
            await saver.setup()
            yield saver
    else:
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        from app.durable_savers import ExplainedPostgresSaver

        try:
            await reachable(url)
        except ConnectionError as exc:
            raise CheckpointerConfigError(str(exc)) from exc
        pool = AsyncConnectionPool(
            url,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open(wait=True, timeout=10)
        try:
            saver = ExplainedPostgresSaver(pool)  # type: ignore[arg-type]
            await set_up_one_at_a_time(saver, url)
            yield saver
        finally:
            await pool.close()


# Any fixed 64-bit key: the gateways sharing a database agree on it, nothing else takes it.
POSTGRES_SETUP_LOCK = 0x6C67_7373_6563_6B70
POSTGRES_SETUP_WAIT_SECONDS = 60


async def reachable(url: str) -> None:
    """One plain connection attempt (a pool would retry, and log, for its whole timeout);
    ConnectionError, in one line, when PostgreSQL cannot be reached."""
    import psycopg

    try:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConnectionError(f"cannot reach PostgreSQL at {describe_url(url)}: {reason}") from exc


class _SetUp(Protocol):
    async def setup(self) -> None: ...


async def set_up_one_at_a_time(saver: _SetUp, url: str) -> None:
    """LangGraph's `setup()` (of its PostgreSQL checkpointer and store alike) reads the
    schema's version, then inserts a row per migration it runs: processes starting together on
    an empty database insert the same versions, and all but one die (UniqueViolation on the
    migrations' primary key). Under a session advisory lock they migrate one after the other,
    and those after the first find nothing left to do."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, connect_timeout=5
    ) as conn:
        deadline = time.monotonic() + POSTGRES_SETUP_WAIT_SECONDS
        # Polled, not pg_advisory_lock(): a statement waiting holds a snapshot, and the
        # migrations' CREATE INDEX CONCURRENTLY waits for every older snapshot, so the first
        # process would wait for the others while they wait for it.
        while not await _try_lock(conn):
            if time.monotonic() > deadline:
                raise CheckpointerConfigError(
                    f"PostgreSQL at {describe_url(url)}: another process has been setting up "
                    f"LangGraph's tables for {POSTGRES_SETUP_WAIT_SECONDS} s; try again"
                )
            await asyncio.sleep(0.1)
        await saver.setup()  # PostgreSQL frees the lock when this session closes


async def _try_lock(conn: AsyncConnection[Any]) -> bool:
    cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (POSTGRES_SETUP_LOCK,))
    row = await cursor.fetchone()
    return bool(row and row[0])


def describe_url(url: str) -> str:
    """The URL without its password, for logs and errors."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{credentials}{at}{host}"
