"""The ceiling: sse-starlette sending pre-encoded frames, no LangGraph at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from sse_starlette import EventSourceResponse

app = FastAPI()
FRAME = (
    b'event: token\nid: 0123456789abcdef0123456789abcdef.1\ndata: {"run_id":'
    b'"0123456789abcdef0123456789abcdef","seq":1,"ts":0,"node":"write","span_id":'
    b'"01a2-0000","message_id":"lc_run--01a2","text":" token"}\n\n'
)


@app.get("/stream")
async def stream(request: Request) -> EventSourceResponse:
    count = int(request.query_params.get("events", "5000"))

    async def frames() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield FRAME

    return EventSourceResponse(frames(), ping=15, sep="\n")
