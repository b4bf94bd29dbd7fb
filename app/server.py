"""The HTTP connection, guarded against clients that never finish asking.

uvicorn's httptools protocol keeps whatever a client sends before its headers end, for as long
as it takes: a request line or headers of any size, a byte every few seconds forever (slowloris).
This protocol bounds both; once a request's headers are in, it is uvicorn's own, streams and all.
`python -m app serve` uses it; behind a proxy, the proxy's own limits come first.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.settings import Settings

# Far above any real client (browsers send a few KiB) and at most a few buffers per connection.
MAX_URL_BYTES = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024

logger = logging.getLogger("app")

REASONS = {408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_seconds: float
    max_url_bytes: int = MAX_URL_BYTES
    max_header_bytes: int = MAX_HEADER_BYTES


class Refused(Exception):
    """Raised inside the parser's callbacks: httptools stops parsing and uvicorn answers 400,
    which GuardedHttpProtocol turns into the status it noted."""


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._header_bytes = 0
        self._unparsed_bytes = 0
        self._header_deadline: asyncio.TimerHandle | None = None
        self._refusal: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # httptools hands a header over only once it is complete, and keeps what it has of it
        # till then: an endless one is caught by counting what arrives before the headers end.
        if self._header_deadline is not None:
            self._unparsed_bytes += len(data)
        super().data_received(data)
        limit = self.limits.max_url_bytes + self.limits.max_header_bytes
        if self._header_deadline is not None and self._unparsed_bytes > limit:
            self._refuse(431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_header_deadline()

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > self.limits.max_url_bytes:
            self._stop(414)
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        self._unparsed_bytes = 0
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(self._refusal)

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.limits.max_header_bytes:
            self._stop(431)

    def _stop(self, status: int) -> None:
        self._refusal = status
        raise Refused(status)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(
                self.limits.header_timeout_seconds, self._refuse, 408
            )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _refuse(self, status: int) -> None:
        self._disarm_header_deadline()
        if self.transport.is_closing():
            return
        client = "{}:{}".format(*self.client) if self.client else "a client"
        # Browsers open connections ahead of need and may leave them unused: a 408 is routine.
        level = logging.INFO if status == 408 else logging.WARNING
        logger.log(level, "refused %s: %d %s", client, status, REASONS[status].decode())
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            % (status, REASONS[status])
        )
        self.transport.close()


def protocol_for(settings: Settings) -> functools.partial[GuardedHttpProtocol]:
    """uvicorn's `http=`: a picklable factory, so `--workers` processes get it too."""
    return functools.partial(
        GuardedHttpProtocol, limits=ConnectionLimits(settings.header_timeout_seconds)
    )
