"""LangGraph's cron routes (`/runs/crons…`, `/threads/{id}/runs/crons`) over `app.crons`, and
what a cron's tick does: start its run, as LangGraph's server would, for the cron's owner."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import State
from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.crons import Crons
from app.dialects.langgraph import requests as body
from app.dialects.langgraph import schemas as S
from app.dialects.langgraph import views, webhook
from app.dialects.langgraph.routes import MaybeBody, ThreadPath, caller, launch
from app.errors import ApiError, JSONBody
from app.requests import Routes, table_router
from app.threads import Threads

logger = logging.getLogger(__name__)


async def _crons(request: HTTPConnection) -> Crons:
    crons: Crons = request.app.state.crons
    return crons.scoped(await caller(request))


async def _create(request: Request, query: body.CronCreate, thread_id: str | None) -> JSONBody:
    webhook.check(request.app.state.settings, query.webhook)
    assistant = await request.app.state.assistants.get(query.assistant_id)
    if thread_id is not None:
        threads: Threads = request.app.state.threads.scoped(await caller(request))
        await threads.get(thread_id)
    created = await (await _crons(request)).create(
        assistant_id=assistant["assistant_id"],
        graph_id=assistant["graph_id"],
        thread_id=thread_id,
        schedule=query.schedule,
        timezone=query.timezone,
        end_time=query.end_time.isoformat() if query.end_time else None,
        payload=query.payload(),
        metadata=query.metadata,
        on_run_completed=query.on_run_completed,
        enabled=query.enabled,
    )
    return JSONBody(created)


async def create_cron(request: Request, query: body.CronCreate) -> JSONBody:
    return await _create(request, query, None)


async def create_thread_cron(
    request: Request, thread_id: ThreadPath, query: body.ThreadCronCreate
) -> JSONBody:
    return await _create(request, query, thread_id)


async def _search(request: Request, query: body.CronFilter, **more: Any) -> list[dict[str, Any]]:
    assistant_id = None
    if query.assistant_id is not None:
        # (A graph's name stands for its assistant, as everywhere in LangGraph's API.)
        assistant_id = (await request.app.state.assistants.get(query.assistant_id))["assistant_id"]
    return await (await _crons(request)).search(
        assistant_id=assistant_id, thread_id=query.thread_id, metadata=query.metadata, **more
    )


async def search_crons(request: Request, query: MaybeBody[body.CronSearch]) -> JSONBody:
    query = query or body.CronSearch()
    found = await _search(
        request,
        query,
        enabled=query.enabled,
        sort_by=query.sort_by,
        sort_order=query.sort_order,
    )
    page = found[query.offset : query.offset + query.limit]
    return views.paged(page, len(found), query.offset, query.limit, query.select)


async def count_crons(request: Request, query: MaybeBody[body.CronFilter]) -> JSONBody:
    return JSONBody(len(await _search(request, query or body.CronFilter())))


async def get_cron(request: Request, cron_id: str) -> JSONBody:
    return JSONBody(await (await _crons(request)).get(cron_id))


async def patch_cron(request: Request, cron_id: str, query: body.CronPatch) -> JSONBody:
    given = query.model_dump(mode="json", exclude_unset=True)
    cron_fields = ("schedule", "timezone", "end_time", "enabled", "on_run_completed", "metadata")
    changes = {k: given[k] for k in cron_fields if k in given}
    crons = await _crons(request)
    webhook.check(request.app.state.settings, query.webhook)
    if given:
        # As on LangGraph's server, the body given goes over the payload (its run fields are
        # the next runs' own).
        current = await crons.get(cron_id)
        body.CronRun.model_validate({**current["payload"], **given}).payload()
        changes["payload"] = given
    return JSONBody(await crons.update(cron_id, changes))


async def delete_cron(request: Request, cron_id: str) -> Response:
    await (await _crons(request)).delete(cron_id)
    return Response(status_code=204)


async def fire(state: State, cron: dict[str, Any]) -> None:
    """A tick: the cron's run, started for its owner. The run's metadata is the cron's under
    the payload's own, with `cron_tick`, the time the tick was due."""
    payload = dict(cron["payload"])
    metadata = {**cron["metadata"], **payload.get("metadata", {}), "cron_tick": cron["tick"]}
    query = body.RunCreate.model_validate({**payload, "metadata": metadata})
    thread_id = cron["thread_id"]
    if thread_id is None and cron["on_run_completed"] == "keep":
        # A stateless cron that keeps its runs' threads gives each run a thread of its own,
        # found by the cron's metadata (and its id).
        threads: Threads = state.threads.scoped(cron["principal"])
        made = await threads.create(None, {**cron["metadata"], "cron_id": cron["cron_id"]})
        thread_id = made.thread_id
    try:
        await launch(state, cron["principal"], query, thread_id)
    except ApiError as exc:
        if exc.code != "thread_not_found" or cron["thread_id"] is None:
            raise
        # Its thread was deleted (on either API): the cron goes with it.
        await state.crons.scoped(cron["principal"]).delete(cron["cron_id"])
        logger.warning("cron %s: its thread is gone, so is the cron", cron["cron_id"])


_ONE = {"response_model": S.Cron, "responses": S.errors(S.ASSISTANT)}
_CHANGE = {"response_model": S.Cron, "responses": S.errors((*S.ASSISTANT, 400, 409))}
ROUTES: Routes = [
    ("/runs/crons", "POST", create_cron, _CHANGE),
    ("/threads/{thread_id}/runs/crons", "POST", create_thread_cron, _CHANGE),
    (
        "/runs/crons/search",
        "POST",
        search_crons,
        {"response_model": list[S.SelectedCron], "responses": S.errors(S.ASSISTANT)},
    ),
    (
        "/runs/crons/count",
        "POST",
        count_crons,
        {"response_model": int, "responses": S.errors(S.ASSISTANT)},
    ),
    ("/runs/crons/{cron_id}", "GET", get_cron, _ONE),
    ("/runs/crons/{cron_id}", "PATCH", patch_cron, _CHANGE),
    (
        "/runs/crons/{cron_id}",
        "DELETE",
        delete_cron,
        {"status_code": 204, "response_model": None, "responses": S.errors(S.ASSISTANT)},
    ),
]


def router_with(check: Any) -> APIRouter:
    """The routes, behind the dialect's own credentials check (`check`)."""
    return table_router(ROUTES, check)
