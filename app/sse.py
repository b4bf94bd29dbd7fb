"""Frames a reader of a run's log as an SSE response; owns nothing but the bytes on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from sse_starlette import ServerSentEvent

from app.event_stream import EventStream
from app.events import Event, EventName, is_dialect_event
from app.metrics import Metrics
from app.settings import Settings

logger = logging.getLogger(__name__)

SEP = "\n"
COALESCE_SECONDS = 0.002


def retry_frame(retry_ms: int) -> bytes:
    # Sent first and at once, so a client knows it is connected before the graph produces
    # anything, and proxies flush their buffers.
    return b": connected\nretry: %d\n\n" % retry_ms


def heartbeat() -> ServerSentEvent:
    return ServerSentEvent(comment="heartbeat", sep=SEP)


@dataclass
class StreamLog:
    """What one stream sends, for the metrics and its open and close log lines."""

    metrics: Metrics
    run_id: str
    principal: str | None
    after: int
    gap: bool = False

    def keep(self, keep: Keep) -> Keep:
        def kept(event: Event) -> bool:
            if event.name == EventName.STREAM_GAP:
                self.gap = True
            return keep(event)

        return kept

    async def count(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        fields = {"run_id": self.run_id, "principal": self.principal, "after": self.after}
        logger.info("stream opened", extra={"event": "stream.open", **fields})
        self.metrics.open_streams.inc()
        sent = 0
        try:
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    sent += len(chunk)
                    self.metrics.bytes_sent.inc(len(chunk))
                    yield chunk
        finally:
            self.metrics.open_streams.dec()
            if self.after > 0:
                self.metrics.resumes.labels("gap" if self.gap else "exact").inc()
            logger.info(
                "stream closed", extra={"event": "stream.close", "bytes_sent": sent, **fields}
            )


Keep = Callable[[Event], bool]


def native_events(names: Collection[str] | None = None) -> Keep:
    """The gateway's own events (those of `names`, and always run.end): a run's log may also
    hold events recorded for another dialect, which only that dialect's readers get."""
    if names is None:
        return lambda event: not is_dialect_event(event.name)
    return lambda event: event.name in names or event.name == EventName.RUN_END


async def frames(
    batches: AsyncIterator[Sequence[Event]], *, keep: Keep, first: bytes
) -> AsyncIterator[bytes]:
    """`first`, then one chunk per batch the store hands over: many events in one write when
    catching up or when they come fast."""
    yield first
    # Closing it here, not whenever it is collected, runs the reader's cleanup (its reader
    # count) as soon as this stream ends, even when it ends while waiting below.
    async with contextlib.aclosing(batches):
        async for batch in batches:
            kept = [e.frame for e in batch if keep(e)]
            if kept:
                yield b"".join(kept)
                # Each write costs more than the bytes it carries: while events come faster
                # than this, they gather into one write, at most COALESCE_SECONDS late.
                await asyncio.sleep(COALESCE_SECONDS)


def event_stream_response(
    chunks: AsyncIterator[bytes],
    settings: Settings,
    on_shutdown: Callable[[], Awaitable[None]],
    metrics: Metrics,
    headers: dict[str, str] | None = None,
) -> EventStream:
    def counted_heartbeat() -> ServerSentEvent:
        metrics.heartbeats.inc()
        return heartbeat()

    # Once the server is stopping, the runs are asked to stop, and what they still write (their
    # run.end) is passed on within the grace period.
    return EventStream(
        chunks,
        ping=settings.heartbeat_seconds,
        ping_message_factory=counted_heartbeat,
        sep=SEP,
        send_timeout=settings.send_timeout_seconds,
        on_shutdown=on_shutdown,
        shutdown_grace_period=settings.shutdown_grace_seconds,
        headers={"Cache-Control": "no-store", **(headers or {})},
        media_type="text/event-stream; charset=utf-8",
    )
