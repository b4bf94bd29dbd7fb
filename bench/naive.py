"""The tutorial pattern: a StreamingResponse looping over astream_events, 10 ms between events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from bench.graphs import graph

app = FastAPI()


@app.get("/stream")
async def stream(request: Request) -> StreamingResponse:
    input_ = json.loads(request.query_params.get("input", "{}"))

    async def events() -> AsyncIterator[str]:
        async for event in graph.astream_events(input_, version="v2"):
            body = {
                "ts": time.time_ns() // 1_000_000,
                "event": event["event"],
                "name": event["name"],
                "data": str(event.get("data"))[:200],
            }
            yield f"event: {event['event']}\ndata: {json.dumps(body)}\n\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(events(), media_type="text/event-stream")
