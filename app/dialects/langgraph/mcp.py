"""LangGraph's MCP endpoint (relative to /langgraph): the assistants served here as tools
(app/dialects/langgraph/mcp_tools.py) that MCP clients list and call, as on LangGraph's server.

The transport is the `mcp` package's Streamable HTTP, stateless and in JSON: no session
outlives a request, so any of the gateway's processes answers any of a client's requests.
Credentials are checked as on every other route, before MCP's transport sees the request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.dialects.langgraph.mcp_tools import call_tool, list_tools
from app.dialects.langgraph.meta import PACKAGE, gateway_version
from app.dialects.langgraph.routes import caller
from app.dialects.langgraph.schemas import WHEN, Detail
from app.settings import Settings


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[StreamableHTTPSessionManager]:
    """MCP's transport for the app's lifetime (a mounted app's lifespan never runs, so the
    gateway's own enters this one)."""
    server: Server[Any] = Server(
        PACKAGE, version=gateway_version(), on_list_tools=list_tools, on_call_tool=call_tool
    )
    transport = StreamableHTTPSessionManager(
        server,
        stateless=True,
        json_response=True,
        max_request_body_size=settings.max_request_bytes,
    )
    async with transport.run():
        yield transport


class _Relayed(Response):
    """The request handed to MCP's transport, which answers it."""

    background = None

    def __init__(self, transport: StreamableHTTPSessionManager) -> None:
        self.transport = transport

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.transport.handle_request(scope, receive, send)


async def _relay(request: Request) -> Response:
    return _Relayed(request.app.state.mcp)


async def _not_allowed() -> Response:
    # No session, so nothing to end, and no stream to open: MCP's transport would hold a GET
    # open as an event stream down which nothing could ever come.
    return Response(status_code=405, headers={"Allow": "POST"})


_TRANSPORT = "Streamable HTTP, as MCP's specification has it, stateless: no session is kept."
_NOT_ANSWERED = {
    "description": "not JSON, not a JSON-RPC message, or a Content-Type other than JSON: "
    "a JSON-RPC error, or a line of text"
}
_POST: dict[str, Any] = {
    "summary": "MCP Post",
    "operation_id": "post_mcp",
    "description": f"{_TRANSPORT} One JSON-RPC 2.0 message: `initialize`, `ping`, `tools/list` "
    "(the assistants) and `tools/call` (a stateless run of one, waited for) are answered.",
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "A JSON-RPC 2.0 request, notification or response.",
                    }
                }
            },
        }
    },
    "responses": {
        200: {
            "description": "the JSON-RPC response to a request (its result, or its error)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        202: {"description": "a notification or a response, taken: no body"},
        400: _NOT_ANSWERED,
        401: {"model": Detail, "description": WHEN[401]},
        406: {"description": "the Accept header leaves out application/json"},
        413: {"description": WHEN[413]},
    },
}
_GET: dict[str, Any] = {
    "summary": "MCP Get",
    "description": f"{_TRANSPORT} No stream: a stateless server has nothing to send a client "
    "outside the answer to its request.",
    "status_code": 405,
    "operation_id": "get_mcp",
    "responses": {
        405: {"description": "there is no stream to open"},
        401: {"model": Detail, "description": WHEN[401]},
    },
}
_DELETE: dict[str, Any] = {
    "summary": "Terminate Session",
    "description": f"{_TRANSPORT} There is no session to end.",
    "status_code": 405,
    "operation_id": "delete_mcp",
    "responses": {
        405: {"description": "sessions are not kept, so none can be ended"},
        401: {"model": Detail, "description": WHEN[401]},
    },
}
ROUTES: list[tuple[str, Any, dict[str, Any]]] = [
    ("POST", _relay, _POST),
    ("GET", _not_allowed, _GET),
    ("DELETE", _not_allowed, _DELETE),
]
router = APIRouter(dependencies=[Depends(caller)], tags=["MCP"])
for _method, _endpoint, _options in ROUTES:
    router.add_api_route("/mcp/", _endpoint, methods=[_method], response_class=Response, **_options)
    # Where LangGraph's server answers (its document says /mcp/): without a redirect between.
    router.add_api_route(
        "/mcp",
        _endpoint,
        methods=[_method],
        response_class=Response,
        include_in_schema=False,
        **_options,
    )
