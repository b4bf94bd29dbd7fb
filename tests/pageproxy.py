"""A test page's origin: its built files, and the gateway's API reached through the same host
(as a front end's dev server proxies /langgraph), run by uvicorn in a thread of the test."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn
from conftest import free_port
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


def page_app(directory: Path, upstream: str, prefix: str = "/langgraph") -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=httpx.Timeout(None, connect=5))

    async def forward(request: Request) -> StreamingResponse:
        outgoing = client.build_request(
            request.method,
            request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            headers={k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP},
            content=await request.body(),
        )
        answer = await client.send(outgoing, stream=True)
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers={k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP},
            background=BackgroundTask(answer.aclose),
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route(prefix + "/{path:path}", forward, methods=methods),
            Mount("/", StaticFiles(directory=directory, html=True)),
        ],
        lifespan=lifespan,
    )


class PageServer:
    def __init__(self, directory: Path, upstream: str, prefix: str = "/langgraph") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = page_app(directory, upstream, prefix)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self.server.serve(),), daemon=True
        )

    def __enter__(self) -> PageServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the page server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.loop.close()
