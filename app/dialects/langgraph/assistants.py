"""LangGraph's assistant routes (relative to /langgraph): the served graph's own assistant and
those made over it, with their versions. Thin: app/assistants.py keeps them."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from langgraph.pregel import Pregel
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from app.assistants import Assistants
from app.dialects.langgraph import requests as body
from app.dialects.langgraph import schemas as S
from app.dialects.langgraph import views
from app.dialects.langgraph.assistant_schemas import assistant_schemas
from app.errors import JSONBody
from app.requests import Routes, table_router

M = TypeVar("M", bound=BaseModel)
# A body LangGraph's clients may leave out entirely.
MaybeBody = Annotated[M | None, Body()]


def assistants_of(request: HTTPConnection) -> Assistants:
    return request.app.state.assistants  # type: ignore[no-any-return]


def router_with(caller: Any) -> APIRouter:
    """The routes, behind the dialect's own credentials check (`caller`)."""
    return table_router(ROUTES, caller)


async def create_assistant(request: Request, query: body.AssistantCreate) -> JSONBody:
    created = await assistants_of(request).create(
        graph_id=query.graph_id,
        assistant_id=query.assistant_id,
        config=query.config,
        context=query.context,
        metadata=query.metadata,
        name=query.name,
        description=query.description,
        if_exists=query.if_exists,
    )
    return JSONBody(created)


async def search_assistants(request: Request, query: MaybeBody[body.AssistantSearch]) -> JSONBody:
    query = query or body.AssistantSearch()
    found = await assistants_of(request).search(
        graph_id=query.graph_id,
        name=query.name,
        metadata=query.metadata,
        sort_by=query.sort_by,
        sort_order=query.sort_order,
    )
    page = found[query.offset : query.offset + query.limit]
    return views.paged(page, len(found), query.offset, query.limit, query.select)


async def count_assistants(request: Request, query: MaybeBody[body.AssistantFilter]) -> JSONBody:
    query = query or body.AssistantFilter()
    found = await assistants_of(request).search(
        graph_id=query.graph_id, name=query.name, metadata=query.metadata
    )
    return JSONBody(len(found))


async def get_assistant(request: Request, assistant_id: str) -> JSONBody:
    return JSONBody(await assistants_of(request).get(assistant_id))


async def patch_assistant(
    request: Request, assistant_id: str, query: body.AssistantPatch
) -> JSONBody:
    changes = query.model_dump(include=query.model_fields_set)
    return JSONBody(await assistants_of(request).update(assistant_id, changes))


async def delete_assistant(request: Request, assistant_id: str) -> Response:
    await assistants_of(request).delete(assistant_id)
    return Response(status_code=204)


async def list_versions(
    request: Request, assistant_id: str, query: MaybeBody[body.AssistantVersions]
) -> JSONBody:
    query = query or body.AssistantVersions()
    versions = await assistants_of(request).versions(assistant_id, query.metadata)
    return JSONBody(versions[query.offset : query.offset + query.limit])


async def set_latest(request: Request, assistant_id: str, query: body.AssistantLatest) -> JSONBody:
    return JSONBody(await assistants_of(request).set_latest(assistant_id, query.version))


async def _graph(request: Request, assistant_id: str) -> Pregel:
    """The graph the assistant runs."""
    assistant = await assistants_of(request).get(assistant_id)
    return request.app.state.manager.graph_for(assistant["graph_id"])  # type: ignore[no-any-return]


async def get_graph(request: Request, assistant_id: str, xray: str = "false") -> JSONBody:
    graph = await _graph(request, assistant_id)
    depth: bool | int = int(xray) if xray.isdigit() else xray.lower() in ("true", "yes", "1")
    drawn = graph.get_graph(xray=depth).to_json()
    for node in drawn["nodes"]:
        if isinstance(node.get("data"), dict):
            node["data"].pop("id", None)
    return JSONBody(drawn)


async def get_schemas(request: Request, assistant_id: str) -> JSONBody:
    assistant = await assistants_of(request).get(assistant_id)
    graph = request.app.state.manager.graph_for(assistant["graph_id"])
    return JSONBody({"graph_id": assistant["graph_id"], **assistant_schemas(graph)})


async def get_subgraphs(
    request: Request, assistant_id: str, namespace: str | None = None, recurse: bool = False
) -> JSONBody:
    """The schemas of the graph's subgraphs, by namespace (`|`-separated below the top)."""
    graph = await _graph(request, assistant_id)
    found = {
        name: assistant_schemas(subgraph)
        async for name, subgraph in graph.aget_subgraphs(namespace=namespace, recurse=recurse)
    }
    return JSONBody(found)


async def get_subgraphs_in(
    request: Request, assistant_id: str, namespace: str, recurse: bool = False
) -> JSONBody:
    return await get_subgraphs(request, assistant_id, namespace, recurse)


_ONE = {"response_model": S.Assistant, "responses": S.errors(S.ASSISTANT)}
_CHANGE = {"response_model": S.Assistant, "responses": S.errors((*S.ASSISTANT, 400, 409))}
_ANY = {"response_model": dict[str, Any], "responses": S.errors(S.ASSISTANT)}
ROUTES: Routes = [
    ("/assistants", "POST", create_assistant, _CHANGE),
    (
        "/assistants/search",
        "POST",
        search_assistants,
        {"response_model": list[S.SelectedAssistant], "responses": S.errors(S.ASSISTANT)},
    ),
    (
        "/assistants/count",
        "POST",
        count_assistants,
        {"response_model": int, "responses": S.errors(S.ASSISTANT)},
    ),
    ("/assistants/{assistant_id}", "GET", get_assistant, _ONE),
    ("/assistants/{assistant_id}", "PATCH", patch_assistant, _CHANGE),
    (
        "/assistants/{assistant_id}",
        "DELETE",
        delete_assistant,
        {
            "status_code": 204,
            "response_class": Response,
            "responses": S.errors((*S.ASSISTANT, 409)),
        },
    ),
    (
        "/assistants/{assistant_id}/versions",
        "POST",
        list_versions,
        {"response_model": list[dict[str, Any]], "responses": S.errors(S.ASSISTANT)},
    ),
    ("/assistants/{assistant_id}/latest", "POST", set_latest, _CHANGE),
    ("/assistants/{assistant_id}/graph", "GET", get_graph, _ANY),
    ("/assistants/{assistant_id}/schemas", "GET", get_schemas, _ANY),
    ("/assistants/{assistant_id}/subgraphs", "GET", get_subgraphs, _ANY),
    ("/assistants/{assistant_id}/subgraphs/{namespace}", "GET", get_subgraphs_in, _ANY),
]
