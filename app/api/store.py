"""`/store`: LangGraph's store (the graph's long-term memory), as LangGraph's server serves it
and its SDKs call it (`client.store.put_item` …), on the native API and under /langgraph.

The store is the one the graph is handed (`get_store()`, `runtime.store`): what a run
remembers, the routes read. It is shared by every caller allowed in, as on LangGraph's server
without authorization handlers of its own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from langgraph.store.base import BaseStore, InvalidNamespaceError
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.api.deps import Caller
from app.errors import ApiError
from app.requests import JSONRoute

# A namespace is a path of labels; LangGraph's server joins them with "." in a query string,
# and LangGraph's store refuses NUL in them (and a root label "langgraph").
Label = Annotated[str, Field(min_length=1, max_length=256, pattern="^[^.\x00]+$")]
Namespace = Annotated[list[Label], Field(max_length=32)]
Key = Annotated[str, Field(min_length=1, max_length=1024, pattern="^[^\x00]+$")]

WHEN = {
    400: "more than 100 query parameters",
    401: "auth is on and the request has no valid credentials",
    413: "the body is larger than GATEWAY_MAX_REQUEST_BYTES",
    422: "the body or query is not of the expected shape, or asks what this store cannot do "
    "(a ttl of the in-memory store, a semantic query)",
    501: "the graph store is off (GATEWAY_GRAPH_STORE=none)",
    503: "the Redis store cannot be reached",
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PutItem(_Body):
    namespace: Namespace = Field(min_length=1)
    key: Key
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = Field(None, gt=0, description="minutes until the item expires")


class DeleteItem(_Body):
    namespace: Namespace = Field(min_length=1)
    key: Key


class SearchItems(_Body):
    namespace_prefix: Namespace = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreItem(BaseModel):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: str
    updated_at: str


class FoundItem(StoreItem):
    score: float | None = None


class FoundItems(BaseModel):
    items: list[FoundItem]


class Namespaces(BaseModel):
    namespaces: list[list[str]]


class ListNamespaces(_Body):
    prefix: Namespace | None = None
    suffix: Namespace | None = None
    max_depth: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


def get_store(request: Request, caller: Caller) -> BaseStore:
    store: BaseStore | None = request.app.state.graph_store
    if store is None:
        raise ApiError(
            501,
            "graph_store_disabled",
            "the graph store is off: set GATEWAY_GRAPH_STORE=memory:// (one process) or "
            "postgresql://user:pass@host:port/db",
        )
    return store


Store = Annotated[BaseStore, Depends(get_store)]


def store_router(error_body: type[BaseModel]) -> APIRouter:
    """The routes, answering errors in the body of the API that mounts them (the native API's
    `{"error", "message"}`, LangGraph's `{"detail"}`)."""
    router = APIRouter(prefix="/store", route_class=JSONRoute, tags=["store"])

    def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
        return {s: {"model": error_body, "description": WHEN[s]} for s in statuses}

    answers = errors(400, 401, 413, 422, 501, 503)
    router.put("/items", status_code=204, response_class=Response, responses=answers)(put_item)
    router.get("/items", responses=answers)(get_item)
    router.delete("/items", status_code=204, response_class=Response, responses=answers)(
        delete_item
    )
    router.post("/items/search", responses=answers)(search_items)
    router.post("/namespaces", responses=answers)(list_namespaces)
    return router


async def put_item(body: PutItem, store: Store) -> Response:
    """Store or replace an item."""
    if body.ttl is not None and not store.supports_ttl:
        raise ApiError(
            422,
            "ttl_not_supported",
            f"this store ({type(store).__name__}) keeps items until they are deleted: a ttl "
            "needs GATEWAY_GRAPH_STORE=postgresql://…",
        )
    namespace = _checked(body.namespace)
    await store.aput(namespace, body.key, body.value, index=body.index, ttl=body.ttl)
    return Response(status_code=204)


async def get_item(
    store: Store,
    namespace: Annotated[str, Query(description="the labels, joined with '.'")],
    key: Annotated[str, Query(min_length=1, max_length=1024, pattern="^[^\x00]+$")],
    refresh_ttl: bool | None = None,
) -> StoreItem | None:
    """The item, or null when there is none (as LangGraph's server answers)."""
    labels = _checked(namespace.split("."))
    item = await store.aget(labels, key, refresh_ttl=_refresh(store, refresh_ttl))
    return None if item is None else StoreItem(**item.dict())


async def delete_item(body: DeleteItem, store: Store) -> Response:
    """Delete an item (nothing happens when there is none)."""
    await store.adelete(_checked(body.namespace), body.key)
    return Response(status_code=204)


async def search_items(body: SearchItems, store: Store) -> FoundItems:
    """Items under a namespace prefix, matching `filter` (LangGraph's store's operators)."""
    if body.query is not None:
        # (LangGraph's store ranks by embeddings only with an index, which the gateway does not
        # configure: a query would be silently ignored.)
        raise ApiError(
            422, "query_not_supported", "semantic search needs an index: search by filter"
        )
    try:
        items = await store.asearch(
            _checked(body.namespace_prefix, allow_empty=True),
            filter=body.filter,
            limit=body.limit,
            offset=body.offset,
            refresh_ttl=_refresh(store, body.refresh_ttl),
        )
    except (ValueError, TypeError) as exc:  # an operator the store does not know, say
        raise ApiError(422, "invalid_filter", f"filter: {exc}") from exc
    return FoundItems(items=[FoundItem(**item.dict()) for item in items])


async def list_namespaces(body: ListNamespaces, store: Store) -> Namespaces:
    """The namespaces under `prefix` (and ending in `suffix`), at most `max_depth` deep."""
    found = await store.alist_namespaces(
        prefix=tuple(body.prefix) if body.prefix else None,
        suffix=tuple(body.suffix) if body.suffix else None,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return Namespaces(namespaces=[list(namespace) for namespace in found])


def _checked(labels: list[str], allow_empty: bool = False) -> tuple[str, ...]:
    """A namespace LangGraph's store takes: labels neither empty nor with "." or NUL, and a
    root that is not "langgraph" (the store's own)."""
    namespace = tuple(labels)
    if not namespace and allow_empty:
        return namespace
    try:
        if not namespace or not all(namespace):
            raise InvalidNamespaceError("labels cannot be empty")
        _validate(namespace)
    except InvalidNamespaceError as exc:
        raise ApiError(422, "invalid_namespace", f"namespace {list(namespace)[:8]}: {exc}") from exc
    return namespace


def _validate(namespace: tuple[str, ...]) -> None:
    for label in namespace:
        if "." in label or "\x00" in label:
            raise InvalidNamespaceError("labels cannot hold '.' or NUL")
    if namespace[0] == "langgraph":
        raise InvalidNamespaceError('the root label cannot be "langgraph"')


def _refresh(store: BaseStore, refresh_ttl: bool | None) -> bool | None:
    # A store without TTLs has nothing to refresh.
    return refresh_ttl if store.supports_ttl else None
