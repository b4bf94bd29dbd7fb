"""The routes of LangGraph's server that its SDKs call, same paths and shapes (relative to
/langgraph): thin, like the gateway's own."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.datastructures import State
from starlette.requests import HTTPConnection

from app.assistants import merged
from app.auth import Access
from app.dialects.langgraph import requests as body
from app.dialects.langgraph import rollback, streams, views, webhook
from app.dialects.langgraph import schemas as S
from app.dialects.langgraph.assistants import assistants_of
from app.errors import ApiError, JSONBody
from app.requests import JSONRoute
from app.runs import RunManager, RunSpec, delay
from app.settings import DisconnectPolicy
from app.store.base import MultitaskStrategy, RunRecord, ThreadRecord, ThreadStatus
from app.threads import Threads
from app.webhooks import WEBHOOK_KEY


async def _caller(request: HTTPConnection) -> str | None:
    """The caller's principal (the SDKs send their key as X-Api-Key): 401 without it."""
    access: Access = request.app.state.access
    return await access.caller(request)


caller = _caller  # (the assistant routes check credentials the same way)
Caller = Annotated[str | None, Depends(_caller)]
router = APIRouter(dependencies=[Depends(_caller)], route_class=JSONRoute)
ThreadPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]
M = TypeVar("M", bound=BaseModel)
# A body LangGraph's clients may leave out entirely.
MaybeBody = Annotated[M | None, Body()]


def _manager(request: Request) -> RunManager:
    return request.app.state.manager  # type: ignore[no-any-return]


def _threads(request: Request, caller: Caller) -> Threads:
    return request.app.state.threads.scoped(caller)  # type: ignore[no-any-return]


Manager = Annotated[RunManager, Depends(_manager)]
ThreadsDep = Annotated[Threads, Depends(_threads)]


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "yes", "1")


# threads


@router.post("/threads", response_model=S.Thread, responses=S.errors((*S.THREADS, 409)))
async def create_thread(threads: ThreadsDep, query: MaybeBody[body.ThreadCreate]) -> JSONBody:
    query = query or body.ThreadCreate()
    thread_id = query.thread_id or str(uuid.uuid4())
    steps = query.steps()
    if steps is not None and query.if_exists == "do_nothing" and query.thread_id is not None:
        # An existing thread is answered as it is: its history is not written again.
        with contextlib.suppress(ApiError):
            existing = await threads.get(query.thread_id)
            return JSONBody(views.thread(existing, await threads.snapshot(existing.thread_id)))
    record = await threads.create(thread_id, query.metadata, if_exists=query.if_exists)
    if steps is None:
        return JSONBody(views.thread(record, None))
    try:
        await threads.write_supersteps(record.thread_id, steps)
    except ApiError:
        # Nothing half done: a thread whose history cannot be written is not made.
        await threads.delete(record.thread_id)
        raise
    record = await threads.get(record.thread_id)
    return JSONBody(views.thread(record, await threads.snapshot(record.thread_id)))


async def _filtered(
    threads: Threads, query: body.ThreadFilter, ids: list[str] | None = None
) -> list[ThreadRecord]:
    status = ThreadStatus(query.status) if query.status else None
    return await threads.search(
        ids=ids, metadata=query.metadata, values=query.values, status=status
    )


@router.post(
    "/threads/search", response_model=list[S.SelectedThread], responses=S.errors(S.THREADS)
)
async def search_threads(threads: ThreadsDep, query: MaybeBody[body.ThreadSearch]) -> JSONBody:
    query = query or body.ThreadSearch()
    found = await _filtered(threads, query, query.ids)
    # (The state's last change is the thread's: its record changes with each run.)
    field = "updated_at" if query.sort_by == "state_updated_at" else query.sort_by
    found.sort(key=lambda t: getattr(t, field), reverse=query.sort_order == "desc")
    page = found[query.offset : query.offset + query.limit]
    shown = [views.thread(t, await threads.snapshot(t.thread_id)) for t in page]
    return views.paged(shown, len(found), query.offset, query.limit, query.select)


@router.post("/threads/{thread_id}/copy", response_model=S.Thread, responses=S.errors(S.THREAD))
async def copy_thread(thread_id: ThreadPath, threads: ThreadsDep) -> JSONBody:
    record = await threads.copy(thread_id, str(uuid.uuid4()))
    return JSONBody(views.thread(record, await threads.snapshot(record.thread_id)))


@router.post("/threads/prune", response_model=dict[str, int], responses=S.errors(S.THREADS))
async def prune_threads(threads: ThreadsDep, query: body.ThreadPrune) -> JSONBody:
    """Deletes each of the caller's threads named that exists and is not busy."""
    pruned = 0
    for thread_id in dict.fromkeys(query.thread_ids):
        try:
            await threads.delete(thread_id)
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise
            continue
        pruned += 1
    return JSONBody({"pruned_count": pruned})


@router.post("/threads/count", response_model=int, responses=S.errors(S.THREADS))
async def count_threads(threads: ThreadsDep, query: MaybeBody[body.ThreadFilter]) -> JSONBody:
    return JSONBody(len(await _filtered(threads, query or body.ThreadFilter())))


@router.get("/threads/{thread_id}", response_model=S.Thread, responses=S.errors(S.THREAD))
async def get_thread(thread_id: ThreadPath, threads: ThreadsDep) -> JSONBody:
    record = await threads.get(thread_id)
    return JSONBody(views.thread(record, await threads.snapshot(thread_id)))


@router.patch(
    "/threads/{thread_id}",
    response_model=S.Thread,
    responses={204: {"description": "with Prefer: return=minimal"}, **S.errors(S.THREAD)},
)
async def update_thread(
    request: Request, thread_id: ThreadPath, threads: ThreadsDep, query: body.ThreadPatch
) -> Response:
    record = await threads.update(thread_id, query.metadata)
    if request.headers.get("prefer") == "return=minimal":
        return Response(status_code=204)
    return JSONBody(views.thread(record, await threads.snapshot(thread_id)))


@router.delete("/threads/{thread_id}", status_code=204, responses=S.errors(S.THREAD))
async def delete_thread(thread_id: ThreadPath, threads: ThreadsDep) -> Response:
    await threads.delete(thread_id)
    return Response(status_code=204)


@router.get(
    "/threads/{thread_id}/state", response_model=S.ThreadState, responses=S.errors(S.THREAD)
)
async def get_state(thread_id: ThreadPath, threads: ThreadsDep, subgraphs: str = "") -> JSONBody:
    return JSONBody(views.state(await threads.snapshot(thread_id, subgraphs=_flag(subgraphs))))


@router.get(
    "/threads/{thread_id}/state/{checkpoint_id}",
    response_model=S.ThreadState,
    responses=S.errors(S.THREAD),
)
async def get_state_at(
    thread_id: ThreadPath, checkpoint_id: str, threads: ThreadsDep, subgraphs: str = ""
) -> JSONBody:
    snapshot = await threads.snapshot(
        thread_id, subgraphs=_flag(subgraphs), checkpoint={"checkpoint_id": checkpoint_id}
    )
    return JSONBody(views.state(snapshot))


@router.post(
    "/threads/{thread_id}/state/checkpoint",
    response_model=S.ThreadState,
    responses=S.errors(S.THREAD),
)
async def post_state_at(
    thread_id: ThreadPath, threads: ThreadsDep, query: body.CheckpointRequest
) -> JSONBody:
    snapshot = await threads.snapshot(
        thread_id, subgraphs=query.subgraphs, checkpoint=query.checkpoint
    )
    return JSONBody(views.state(snapshot))


@router.post(
    "/threads/{thread_id}/state", response_model=S.CheckpointWritten, responses=S.errors(S.THREAD)
)
async def update_state(
    thread_id: ThreadPath, threads: ThreadsDep, query: body.StateUpdate
) -> JSONBody:
    checkpoint = query.checkpoint or (
        {"checkpoint_id": query.checkpoint_id} if query.checkpoint_id else None
    )
    written = await threads.update_state(
        thread_id, query.values, as_node=query.as_node, checkpoint=checkpoint
    )
    return JSONBody(views.checkpoint_config(written))


@router.post(
    "/threads/{thread_id}/history", response_model=list[S.ThreadState], responses=S.errors(S.THREAD)
)
async def post_history(
    thread_id: ThreadPath, threads: ThreadsDep, query: MaybeBody[body.HistorySearch]
) -> JSONBody:
    query = query or body.HistorySearch()
    snapshots = await threads.snapshots(
        thread_id,
        limit=query.limit,
        before=query.before,
        metadata=query.metadata,
        checkpoint=query.checkpoint,
    )
    return JSONBody([views.state(s) for s in snapshots])


@router.get(
    "/threads/{thread_id}/history", response_model=list[S.ThreadState], responses=S.errors(S.THREAD)
)
async def get_history(
    thread_id: ThreadPath, threads: ThreadsDep, limit: int = 10, before: str | None = None
) -> JSONBody:
    snapshots = await threads.snapshots(
        thread_id, limit=limit, before={"checkpoint_id": before} if before else None
    )
    return JSONBody([views.state(s) for s in snapshots])


# runs


async def start_run(
    request: HTTPConnection,
    query: body.RunCreate,
    thread_id: str | None,
    *,
    record_modes: bool = True,
) -> RunRecord:
    """A run as LangGraph's server starts one. Without `record_modes` its stream modes are
    not recorded: a thread's event stream reads the gateway's own events."""
    principal = await _caller(request)
    return await launch(request.app.state, principal, query, thread_id, record_modes=record_modes)


async def launch(
    state: State,
    principal: str | None,
    query: body.RunCreate,
    thread_id: str | None,
    *,
    record_modes: bool = True,
) -> RunRecord:
    """`start_run` for `principal`, from the dialect's state (a cron's tick has no request)."""
    webhook.check(state.settings, query.webhook)
    assistant = await state.assistants.get(query.assistant_id)
    graph_id = assistant["graph_id"]
    threads: Threads = state.threads.scoped(principal)
    if query.multitask_strategy == "rollback" and thread_id is not None:
        await _roll_back_thread(state.manager, threads, thread_id)
    spec = _spec(query, thread_id, assistant)
    if not record_modes:
        spec = dataclasses.replace(spec, recorded=frozenset())
    record = await threads.start_run(spec, create_thread=query.if_not_exists == "create")
    if thread_id is not None:
        # LangGraph's server marks a thread with the graph its first run used.
        thread = await threads.get(thread_id)
        if "assistant_id" not in thread.metadata:
            ids = {"graph_id": graph_id, "assistant_id": assistant["assistant_id"]}
            await threads.update(thread_id, ids)
    return record


def _spec(query: body.RunCreate, thread_id: str | None, assistant: dict[str, Any]) -> RunSpec:
    assistant_id, graph_id = assistant["assistant_id"], assistant["graph_id"]
    # The run's config and context over its assistant's.
    run_config, run_context = merged(assistant, query.config, query.context)
    modes = query.modes()
    command = (
        query.command.model_dump(include=query.command.model_fields_set) if query.command else None
    )
    configurable = {k: v for k, v in run_config.get("configurable", {}).items() if k != "thread_id"}
    configurable.update(graph_id=graph_id, assistant_id=assistant_id)
    checkpoint = query.checkpoint or {}
    if query.checkpoint_id:
        checkpoint = {**checkpoint, "checkpoint_id": query.checkpoint_id}
    configurable.update({k: v for k, v in checkpoint.items() if k != "thread_id" and v})
    metadata = {**query.metadata, "graph_id": graph_id, "assistant_id": assistant_id}
    config = {
        **run_config,
        "configurable": configurable,
        "metadata": {**run_config.get("metadata", {}), **metadata, "run_attempt": 1},
    }
    options: dict[str, Any] = {
        key: value
        for key, value in (
            # LangGraph's server passes {} for no context, which LangGraph fills with the
            # context schema's defaults (graphs read `runtime.context.field` unguarded).
            ("context", run_context or {}),
            ("interrupt_before", query.interrupt_before),
            ("interrupt_after", query.interrupt_after),
            ("durability", query.checkpoint_durability()),
        )
        if value is not None
    }
    if query.stream_subgraphs:
        options["subgraphs"] = True
    kwargs = {
        "input": query.input,
        "command": command,
        "config": run_config,
        "context": run_context or {},
        "stream_mode": modes,
        "interrupt_before": query.interrupt_before,
        "interrupt_after": query.interrupt_after,
        "subgraphs": query.stream_subgraphs,
        "resumable": True,
        "temporary": thread_id is None,
        "webhook": query.webhook,
    }
    return RunSpec(
        input=None if command is not None else query.input,
        command=command,
        config=config,
        on_disconnect=DisconnectPolicy(query.on_disconnect),
        thread_id=thread_id,
        # (After a rollback the thread is free, unless a run came in between: it waits.)
        strategy=MultitaskStrategy(
            "enqueue" if query.multitask_strategy == "rollback" else query.multitask_strategy
        ),
        recorded=frozenset(modes),
        graph_options=options,
        meta={
            "assistant_id": assistant_id,
            "metadata": metadata,
            "multitask_strategy": query.multitask_strategy,
            "kwargs": kwargs,
            **({WEBHOOK_KEY: query.webhook} if query.webhook else {}),
            **delay.not_before(query.after_seconds),
        },
    )


@router.post(
    "/threads/{thread_id}/runs/stream",
    response_class=Response,
    responses={**S.STREAM, **S.errors(S.RUNS)},
)
async def stream_thread_run(
    request: Request, thread_id: ThreadPath, manager: Manager, query: body.RunCreate
) -> Response:
    record = await start_run(request, query, thread_id)
    return streams.stream_response(request, manager, record, streams.FROM_START)


@router.post("/runs/stream", response_class=Response, responses={**S.STREAM, **S.errors(S.RUNS)})
async def stream_run(request: Request, manager: Manager, query: body.RunCreate) -> Response:
    record = await start_run(request, query, None)
    return streams.stream_response(request, manager, record, streams.FROM_START)


@router.post("/threads/{thread_id}/runs", response_model=S.Run, responses=S.errors(S.RUNS))
async def create_thread_run(
    request: Request, thread_id: ThreadPath, query: body.RunCreate
) -> JSONBody:
    return _created(await start_run(request, query, thread_id))


@router.post("/runs", response_model=S.Run, responses=S.errors(S.RUNS))
async def create_run(request: Request, query: body.RunCreate) -> JSONBody:
    return _created(await start_run(request, query, None))


@router.post("/runs/batch", response_model=list[S.Run], responses=S.errors(S.RUNS))
async def create_runs(
    request: Request, queries: Annotated[list[body.RunCreate], Body(max_length=100)]
) -> JSONBody:
    """Several stateless runs, started in order once every assistant and webhook they name is
    allowed (a run refused on the way, at capacity say, stops the batch there)."""
    for query in queries:
        webhook.check(request.app.state.settings, query.webhook)
        await assistants_of(request).get(query.assistant_id)
    records = [await start_run(request, query, None) for query in queries]
    return JSONBody([views.run(record) for record in records])


def _created(record: RunRecord) -> JSONBody:
    return JSONBody(views.run(record), headers={"Content-Location": streams.run_path(record)})


@router.post(
    "/threads/{thread_id}/runs/wait",
    response_class=Response,
    responses={**S.WAIT, **S.errors(S.RUNS)},
)
async def wait_thread_run(
    request: Request,
    thread_id: ThreadPath,
    manager: Manager,
    threads: ThreadsDep,
    query: body.RunCreate,
) -> Response:
    record = await start_run(request, query, thread_id)
    return streams.wait_response(manager, threads, record, _heartbeat(request))


@router.post("/runs/wait", response_class=Response, responses={**S.WAIT, **S.errors(S.RUNS)})
async def wait_run(
    request: Request, manager: Manager, threads: ThreadsDep, query: body.RunCreate
) -> Response:
    record = await start_run(request, query, None)
    return streams.wait_response(manager, threads, record, _heartbeat(request))


def _heartbeat(request: Request) -> float:
    return request.app.state.settings.heartbeat_seconds  # type: ignore[no-any-return]


@router.get("/threads/{thread_id}/runs", response_model=list[S.Run], responses=S.errors(S.RUN))
async def list_runs(
    thread_id: ThreadPath,
    manager: Manager,
    threads: ThreadsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: str | None = None,
) -> JSONBody:
    summaries = await threads.runs(thread_id)
    records = [await manager.store.get_run(s["run_id"]) for s in summaries]
    shown = [views.run(r) for r in records if r is not None]
    if status is not None:
        shown = [r for r in shown if r["status"] == status]
    return JSONBody(shown[offset : offset + limit])


async def _thread_run(
    manager: RunManager, thread_id: str, run_id: str, caller: str | None
) -> RunRecord:
    record = await manager.store.get_run(run_id)
    if record is None or record.thread_id != thread_id or record.principal != caller:
        raise ApiError(404, "run_not_found", f"no run {run_id!r} on thread {thread_id!r}")
    return record


@router.delete(
    "/threads/{thread_id}/runs/{run_id}",
    status_code=204,
    response_class=Response,
    responses=S.errors((*S.RUN, 409)),
)
async def delete_run(
    thread_id: ThreadPath, run_id: str, manager: Manager, caller: Caller
) -> Response:
    record = await _thread_run(manager, thread_id, run_id, caller)
    if not record.status.finished:
        raise ApiError(409, "run_active", f"run {run_id!r} is {record.status}: cancel it first")
    await manager.store.delete_run(record)
    return Response(status_code=204)


@router.get("/threads/{thread_id}/runs/{run_id}", response_model=S.Run, responses=S.errors(S.RUN))
async def get_run(thread_id: ThreadPath, run_id: str, manager: Manager, caller: Caller) -> JSONBody:
    return JSONBody(views.run(await _thread_run(manager, thread_id, run_id, caller)))


def _stream_modes(request: Request) -> list[str]:
    # One value, repeated values, an empty one (Python SDK) or a JSON list (LangGraph's own).
    modes: list[str] = []
    for value in request.query_params.getlist("stream_mode"):
        if value.startswith("["):
            try:
                modes += [str(m) for m in json.loads(value)]
            except ValueError as exc:
                raise ApiError(422, "invalid_stream_mode", f"stream_mode {value!r}") from exc
        elif value:
            modes.append(value)
    return modes


@router.get(
    "/threads/{thread_id}/runs/{run_id}/stream",
    response_class=Response,
    responses={**S.STREAM, **S.errors((400, *S.RUN))},
)
async def join_stream(
    request: Request, thread_id: ThreadPath, run_id: str, manager: Manager, caller: Caller
) -> Response:
    record = await _thread_run(manager, thread_id, run_id, caller)
    return streams.stream_response(
        request,
        manager,
        record,
        streams.resume_after(request, run_id),
        modes=_stream_modes(request),
        cancel_on_disconnect=_flag(request.query_params.get("cancel_on_disconnect")),
    )


@router.get(
    "/runs/{run_id}/stream",
    response_class=Response,
    responses={**S.STREAM, **S.errors((400, *S.RUN))},
)
async def join_run_stream(
    request: Request, run_id: str, manager: Manager, caller: Caller
) -> Response:
    record = await manager.store.get_run(run_id)
    if record is None or record.principal != caller:
        raise ApiError(404, "run_not_found", f"no run {run_id!r}")
    after = streams.resume_after(request, run_id)
    return streams.stream_response(request, manager, record, after, modes=_stream_modes(request))


@router.get(
    "/threads/{thread_id}/runs/{run_id}/join",
    response_class=Response,
    responses={**S.WAIT, **S.errors(S.RUN)},
)
async def join_run(
    request: Request,
    thread_id: ThreadPath,
    run_id: str,
    manager: Manager,
    threads: ThreadsDep,
    caller: Caller,
) -> Response:
    record = await _thread_run(manager, thread_id, run_id, caller)
    return streams.wait_response(manager, threads, record, _heartbeat(request))


@router.post(
    "/threads/{thread_id}/runs/{run_id}/cancel",
    status_code=202,
    response_class=Response,
    responses={**S.WAIT, **S.errors(S.RUN)},
)
async def cancel_run(
    request: Request,
    thread_id: ThreadPath,
    run_id: str,
    manager: Manager,
    threads: ThreadsDep,
    caller: Caller,
) -> Response:
    record = await _thread_run(manager, thread_id, run_id, caller)
    if _action(request) == "rollback":
        if record.status.finished:
            raise ApiError(
                404, "run_ended", f"run {run_id!r} has ended: there is nothing to cancel"
            )
        await _check_alone(threads, thread_id, [run_id])
        await rollback.roll_back(manager, threads, [record])
        return Response(status_code=202)
    if record.status.finished or not await manager.cancel(run_id):
        raise ApiError(404, "run_ended", f"run {run_id!r} has ended: there is nothing to cancel")
    if _flag(request.query_params.get("wait")):
        return streams.wait_response(manager, threads, record, _heartbeat(request))
    return Response(status_code=202)


@router.post("/runs/cancel", status_code=204, response_class=Response, responses=S.errors(S.RUN))
async def cancel_runs(
    request: Request,
    manager: Manager,
    threads: ThreadsDep,
    caller: Caller,
    query: body.RunsCancel,
) -> Response:
    """The runs named (all of them the caller's, on `thread_id` when given), or every run in
    `status` on the caller's threads."""
    if query.run_ids is not None:
        records = []
        for run_id in query.run_ids:
            record = await manager.store.get_run(run_id)
            mine = record is not None and record.principal == caller
            if not mine or (query.thread_id and record.thread_id != query.thread_id):
                raise ApiError(404, "run_not_found", f"no run {run_id!r} to cancel")
            records.append(record)
        run_ids = [r.run_id for r in records if not r.status.finished]
    else:
        run_ids = []
        for thread in await threads.search():
            if thread.active_run and query.status in ("running", "all"):
                run_ids.append(thread.active_run)
            if query.status in ("pending", "all"):
                run_ids += thread.queued
    if _action(request) == "rollback":
        by_thread: dict[str | None, list[RunRecord]] = {}
        for run_id in run_ids:
            found = await manager.store.get_run(run_id)
            if found is not None:
                by_thread.setdefault(found.thread_id, []).append(found)
        for on_thread, records in by_thread.items():
            if on_thread is not None:
                await _check_alone(threads, on_thread, [r.run_id for r in records])
                records = await _in_turn(threads, on_thread, records)
            await rollback.roll_back(manager, threads, records)
        return Response(status_code=204)
    for run_id in run_ids:
        await manager.cancel(run_id)
    return Response(status_code=204)


def _action(request: Request) -> str:
    action = request.query_params.get("action", "interrupt")
    if action not in ("interrupt", "rollback"):
        raise ApiError(422, "invalid_action", f"action {action!r}: use interrupt or rollback")
    return action


async def _check_alone(threads: Threads, thread_id: str, run_ids: list[str]) -> None:
    """A rollback undoes what runs wrote, before any other run starts on their thread: with
    runs queued behind them that it does not take, it is refused."""
    thread = await threads.get(thread_id)
    others = [q for q in thread.queued if q not in run_ids]
    if others:
        raise ApiError(
            409,
            "runs_queued",
            f"{len(others)} run(s) wait behind it on thread {thread_id!r}: roll them back too, "
            "or cancel them first",
        )


async def _in_turn(threads: Threads, thread_id: str, records: list[RunRecord]) -> list[RunRecord]:
    """`records` in their thread's order: its active run first."""
    thread = await threads.get(thread_id)
    order = [thread.active_run, *thread.queued]
    return sorted(records, key=lambda r: order.index(r.run_id) if r.run_id in order else -1)


async def _roll_back_thread(manager: RunManager, threads: Threads, thread_id: str) -> None:
    """multitask_strategy "rollback": every run on the thread, active and queued, rolled
    back (their thread's state as before the active one), before the new one starts."""
    try:
        thread = await threads.get(thread_id)
    except ApiError:
        return  # (a thread to create: nothing to roll back)
    run_ids = [r for r in (thread.active_run, *thread.queued) if r is not None]
    records = [r for r in [await manager.store.get_run(i) for i in run_ids] if r is not None]
    if records:
        await rollback.roll_back(manager, threads, records)
