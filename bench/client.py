"""One SSE client for every contender: a bare asyncio HTTP/1.1 reader, light enough that one
process can hold thousands of streams, recording when each event arrives."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

# When the gateway made an event: `ts` in its own events, `timestamp` in LangGraph's thread
# protocol (the same clock).
_TS = re.compile(rb'"(?:ts|timestamp)":(\d{13})')
_EVENT = re.compile(rb"(?:^|\n)event: ?([^\n]*)")


@dataclass
class StreamResult:
    status: int = 0
    events: int = 0
    bytes: int = 0
    token_bytes: list[int] = field(default_factory=list)
    started: float = 0.0  # perf_counter at the request
    first_event: float | None = None  # seconds from the request to the first graph event
    finished: float | None = None  # seconds from the request to the end of the stream
    latencies_ms: list[float] = field(default_factory=list)  # event ts → receipt
    error: str | None = None
    last_id: str | None = None


async def open_stream(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: object = None,
    headers: dict[str, str] | None = None,
    count_names: tuple[bytes, ...] | None = None,
    skip_names: tuple[bytes, ...] = (b"metadata", b"end"),
    latency: tuple[bytes, ...] = (),
    stop_after: int | None = None,
    stop_when: Callable[[bytes], bool] | None = None,
    skip_data: bytes | None = None,
    timeout: float = 120,  # noqa: ASYNC109 (one deadline for the whole stream)
) -> StreamResult:
    """Read one stream to its end. Events named in `skip_names` are protocol, not graph events;
    the delivery latency (the event's `ts` → its receipt) is kept for the names in `latency`."""
    result = StreamResult(started=time.perf_counter())
    payload = orjson.dumps(body) if body is not None else b""
    # HTTP/1.0, so servers stream the body as is (no chunked encoding) and close at its end.
    head = [f"{method} {path} HTTP/1.0", "Host: 127.0.0.1", "Accept: text/event-stream"]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
            await writer.drain()
            status_line = await reader.readline()
            result.status = int(status_line.split()[1])
            while await reader.readline() not in (b"\r\n", b""):
                pass
            buffer = b""
            stopped = False
            while not stopped and (chunk := await reader.read(65536)):
                received = time.perf_counter()
                now_ms = time.time() * 1000
                result.bytes += len(chunk)
                # Some servers end lines with CRLF; a CR split from its LF joins it next time.
                buffer = (buffer + chunk).replace(b"\r\n", b"\n")
                *frames, buffer = buffer.split(b"\n\n")
                for frame in frames:
                    if b"data:" not in frame:
                        continue
                    match = _EVENT.search(frame)
                    name = match[1].strip() if match else b""
                    if name in skip_names or (skip_data is not None and skip_data in frame):
                        continue
                    if count_names is not None and name not in count_names:
                        continue
                    result.events += 1
                    if result.first_event is None:
                        result.first_event = received - result.started
                    if name == b"token":
                        result.token_bytes.append(len(frame) + 2)
                    if name in latency and (ts := _TS.search(frame)):
                        result.latencies_ms.append(now_ms - int(ts[1]))
                    for line in frame.split(b"\n"):
                        if line.startswith(b"id: "):
                            result.last_id = line[4:].decode()
                    if stop_when is not None and stop_when(frame):
                        # A stream that stays open (a thread's) ends for this client here.
                        stopped = True
                        break
                if stop_after is not None and result.events >= stop_after:
                    break
    except (TimeoutError, OSError, ValueError, IndexError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if writer is not None:
            writer.close()
    result.finished = time.perf_counter() - result.started
    return result


async def post_json(port: int, path: str, body: object, timeout: float = 60) -> bytes:  # noqa: ASYNC109
    """POST one JSON body; the response's body."""
    payload = orjson.dumps(body)
    head = f"POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(payload)}\r\n\r\n"
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head.encode() + payload)
            await writer.drain()
            response = await reader.read()
        finally:
            writer.close()
    return response.partition(b"\r\n\r\n")[2]


async def hold_stream(
    port: int, path: str, watch: asyncio.Event, stop: asyncio.Event, gaps: list[float]
) -> bool:
    """Keep a stream open until `stop`, noting the longest silence between two reads (the
    heartbeats of an idle run) from `watch` on into `gaps`; False when the stream could not be
    opened. Silences before `watch` are not counted: the bench's own process may be busy then
    (counting the server's connections walks every socket it has)."""
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        if b" 200 " not in await reader.readline():
            return False
        last, longest = None, 0.0
        read = asyncio.ensure_future(reader.read(65536))
        waiting = asyncio.ensure_future(stop.wait())
        while True:
            done, _ = await asyncio.wait({read, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if waiting in done:
                read.cancel()
                break
            if not read.result():
                waiting.cancel()
                return False
            if watch.is_set():
                now = time.perf_counter()
                if last is not None:
                    longest = max(longest, now - last)
                last = now
            read = asyncio.ensure_future(reader.read(65536))
        gaps.append(longest)
        return True
    except OSError:
        return False
    finally:
        if writer is not None:
            writer.close()
