"""LangGraph's generative UI routes (relative to /langgraph). `POST /ui/{assistant_id}` answers
the HTML that LoadExternalComponent puts in its shadow root: a stylesheet link and a script that
renders the named component once loaded; `GET /ui/{graph_id}/{file}` serves those files, built
at start-up (app/ui_bundles.py).

The files are served without credentials: the browser fetches them for <script> and <link>
tags, which carry no Authorization or X-Api-Key header. They hold the components' code only."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from app.dialects.langgraph import schemas as S
from app.dialects.langgraph.assistants import assistants_of
from app.dialects.langgraph.routes import caller
from app.errors import ApiError
from app.requests import JSONRoute
from app.ui_bundles import CONTENT_TYPES, Bundle, global_name

router = APIRouter(route_class=JSONRoute)


class ComponentRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(description="the component: a key of the module's default export")


SNIPPET = {
    200: {
        "description": "HTML for the component's shadow root: a `<link>` to the bundle's styles, "
        "a `<script>` whose onload renders `name` into the element `{{shadowRootId}}`",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    404: {
        "description": "GATEWAY_UI declares no module for the assistant's graph (LangGraph's "
        "`UI not found for graph '<graph>'`)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}
ASSET = {
    200: {
        "description": "a file of the bundle",
        "content": {
            "text/javascript": {"schema": {"type": "string"}},
            "text/css": {"schema": {"type": "string"}},
        },
    },
    304: {"description": "the file has not changed since the `If-None-Match` ETag"},
}


def bundles_of(request: HTTPConnection) -> dict[str, Bundle]:
    return request.app.state.ui  # type: ignore[no-any-return]


async def graph_of(request: Request, assistant_id: str) -> str:
    """A name GATEWAY_UI declares is taken as it is (LoadExternalComponent's `namespace`, as on
    LangGraph's server); any other, an assistant's id or graph name, is the assistant's graph."""
    if assistant_id in bundles_of(request):
        return assistant_id
    try:
        assistant = await assistants_of(request).get(assistant_id)
    except ApiError as exc:
        if exc.status != 404:
            raise
        return assistant_id
    return str(assistant["graph_id"])


def snippet(graph_id: str, files: Iterable[str], name: str, base_url: str) -> str:
    """LangGraph's answer: the styles first, then the script. The client replaces the literal
    `{{shadowRootId}}` with its element's id. URLs are absolute, to the address the client
    called: the page may be of another origin (Agent Chat UI's, a dev server's)."""
    tags = []
    render = f"{global_name(graph_id)}.render({html.escape(json.dumps(name))}, "
    for file in sorted(files, key=lambda f: not f.endswith(".css")):
        url = html.escape(f"{base_url}ui/{_segment(graph_id)}/{_segment(file)}")
        if file.endswith(".css"):
            tags.append(f'<link rel="stylesheet" href="{url}" />')
        elif file.endswith(".js"):
            onload = f'{render}"{{{{shadowRootId}}}}")'
            tags.append(f"<script src=\"{url}\" onload='{onload}'></script>")
    return "\n".join(tags)


def _segment(value: str) -> str:
    return quote(value, safe="")


@router.post(
    "/ui/{assistant_id}",
    dependencies=[Depends(caller)],
    response_class=HTMLResponse,
    responses={**S.errors((401, 413, 422, 503)), **SNIPPET},
)
async def component(request: Request, assistant_id: str, query: ComponentRequest) -> Response:
    graph_id = await graph_of(request, assistant_id)
    bundle = bundles_of(request).get(graph_id)
    if bundle is None:
        return PlainTextResponse(f"UI not found for graph '{graph_id}'", 404)
    # This app's own base (its mount, /langgraph, included), which Starlette's base_url is not.
    base_url = request.url.replace(path=f"{request.scope.get('root_path', '')}/", query="")
    return HTMLResponse(snippet(graph_id, bundle.files, query.name, str(base_url)))


@router.get(
    "/ui/{graph_id}/{file}",
    response_class=Response,
    responses={**S.errors((404,)), **ASSET},
)
async def asset(
    request: Request,
    graph_id: str,
    file: str,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    bundle = bundles_of(request).get(graph_id)
    content = bundle.files.get(file) if bundle else None
    if bundle is None or content is None:
        raise HTTPException(404, f"no UI file {file!r} for graph {graph_id!r}")
    # Rebuilt under the same name when its sources change: the browser asks again each time.
    etag = f'"{bundle.etags[file]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    media_type = CONTENT_TYPES[file[file.rindex(".") :]]
    return Response(content, media_type=media_type, headers=headers)
