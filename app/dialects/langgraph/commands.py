"""The commands of LangGraph's thread streaming protocol: `{id, method, params}` in, one
`{type: "success", id, result, meta}` or `{type: "error", id, error, message}` out.

Over HTTP (`POST /threads/{id}/commands`) and over a thread's WebSocket alike; a subscription
only means something on a socket, which handles those methods itself (see protocol.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import HTTPConnection

from app.dialects.langgraph import requests as body
from app.dialects.langgraph.channels import RUN_SPAN, run_base
from app.dialects.langgraph.thread_log import ThreadGone, ThreadLog
from app.errors import ApiError
from app.runs import AtCapacity, Draining
from app.store.base import ThreadRecord, ThreadStatus
from app.threads import Threads

BAD_ENVELOPE = "Protocol commands must include an integer id and string method."


class CommandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def success(command_id: int, result: dict[str, Any], through: int = 0) -> dict[str, Any]:
    return {
        "type": "success",
        "id": command_id,
        "result": result,
        "meta": {"applied_through_seq": through},
    }


def error(command_id: int | None, code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "id": command_id, "error": code, "message": message}


def given_id(value: Any) -> int | None:
    """The id of a command, for the answer to one that is malformed."""
    command_id = value.get("id") if isinstance(value, dict) else None
    return command_id if isinstance(command_id, int) and not isinstance(command_id, bool) else None


def envelope(value: Any) -> tuple[int, str, dict[str, Any]] | None:
    """(id, method, params) of a well-formed command, else None."""
    if not isinstance(value, dict):
        return None
    command_id, method = value.get("id"), value.get("method")
    if not isinstance(command_id, int) or isinstance(command_id, bool):
        return None
    if not isinstance(method, str):
        return None
    params = value.get("params")
    return command_id, method, params if isinstance(params, dict) else {}


Handler = Callable[["ThreadCommands", dict[str, Any]], Awaitable[dict[str, Any]]]


class ThreadCommands:
    """The commands that act on one thread, for one caller."""

    def __init__(self, conn: HTTPConnection, thread_id: str, caller: str | None) -> None:
        self.conn = conn
        self.thread_id = thread_id
        self.caller = caller
        self.threads: Threads = conn.app.state.threads.scoped(caller)
        self.log = ThreadLog(conn.app.state.manager, thread_id, caller)

    async def run(self, command_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = _METHODS.get(method)
        if handler is None:
            return error(command_id, "unknown_command", f"Unknown command: {method}")
        try:
            result = await handler(self, params)
            return success(command_id, result, await self._through())
        except CommandError as exc:
            return error(command_id, exc.code, exc.message)
        except ApiError as exc:
            return error(command_id, _code_of(exc), exc.message)
        except (AtCapacity, Draining) as exc:
            return error(command_id, "unknown_error", str(exc))

    async def _through(self) -> int:
        try:
            return await self.log.last_seq()
        except ThreadGone:
            return 0

    async def run_start(self, params: dict[str, Any]) -> dict[str, Any]:
        # Imported here: the legacy routes module builds its runs the same way.
        from app.dialects.langgraph.routes import start_run

        strategy = params.get("multitaskStrategy", params.get("multitask_strategy", "enqueue"))
        fields: dict[str, Any] = {
            "assistant_id": params.get("assistant_id"),
            "input": params.get("input"),
            "config": params.get("config") or {},
            "metadata": params.get("metadata") or {},
            "context": params.get("context"),
            "multitask_strategy": strategy,
            "if_not_exists": "create",
            "on_disconnect": "continue",
        }
        if not isinstance(fields["assistant_id"], str):
            raise CommandError("invalid_argument", "run.start needs an assistant_id")
        thread = await self.threads.store.get_thread(self.thread_id)
        if thread is not None and thread.status is ThreadStatus.INTERRUPTED:
            # As LangGraph's server does: input to a thread waiting at an interrupt answers it.
            fields["command"] = {"resume": fields.pop("input")}
        try:
            query = body.RunCreate.model_validate(fields)
        except ValidationError as exc:
            raise CommandError("invalid_argument", _explain(exc)) from exc
        record = await start_run(self.conn, query, self.thread_id, record_modes=False)
        return {"run_id": record.run_id}

    async def input_respond(self, params: dict[str, Any]) -> dict[str, Any]:
        from app.dialects.langgraph.routes import start_run

        entries = params.get("responses")
        if entries is None:
            entries = [params]
        if not isinstance(entries, list) or not entries:
            raise CommandError("invalid_argument", "input.respond needs responses")
        answers: dict[str, Any] = {}
        for entry in entries:
            interrupt_id = entry.get("interrupt_id") if isinstance(entry, dict) else None
            if not isinstance(interrupt_id, str):
                raise CommandError("invalid_argument", "each response needs an interrupt_id")
            answers[interrupt_id] = entry.get("response")
        thread = await self._thread()
        pending = {i.get("id") for i in thread.interrupts}
        if thread.status is not ThreadStatus.INTERRUPTED:
            pending = set()
        for interrupt_id in answers:
            if interrupt_id not in pending:
                raise CommandError(
                    "no_such_interrupt", f"Unknown or already-consumed interrupt: {interrupt_id}"
                )
        command: dict[str, Any] = {"resume": answers}
        for key in ("update", "goto"):
            if params.get(key) is not None:
                command[key] = params[key]
        assistant_id = thread.metadata.get("assistant_id") or thread.metadata.get("graph_id")
        query = body.RunCreate.model_validate(
            {
                "assistant_id": assistant_id or self.conn.app.state.graph_id,
                "command": command,
                "config": params.get("config") or {},
                "metadata": params.get("metadata") or {},
                "multitask_strategy": "enqueue",
            }
        )
        await start_run(self.conn, query, self.thread_id, record_modes=False)
        return {}

    async def _thread(self) -> ThreadRecord:
        try:
            return await self.threads.get(self.thread_id)
        except ApiError as exc:
            raise CommandError("no_such_run", f"Thread {self.thread_id} not found") from exc

    async def get_tree(self, params: dict[str, Any]) -> dict[str, Any]:
        """The root and its subgraphs, with their status in the thread's last run (or the
        run named)."""
        thread = await self._thread()
        runs = [run["run_id"] for run in reversed(await self.threads.runs(self.thread_id))]
        run_id = params.get("run_id")
        if run_id is not None and run_id not in runs:
            raise CommandError("no_such_run", f"Run {run_id} not found")
        graph_name = thread.metadata.get("graph_id") or self.conn.app.state.graph_id
        root: dict[str, Any] = {
            "namespace": [],
            "status": _TREE_STATUS.get(thread.status, "completed"),
            "graph_name": graph_name,
            "children": [],
        }
        if runs:
            ordinal = runs.index(run_id) if run_id is not None else len(runs) - 1
            await self._grow(root, ordinal)
        return {"tree": root}

    async def _grow(self, root: dict[str, Any], ordinal: int) -> None:
        """The subgraphs one run entered, from its lifecycle events."""
        nodes: dict[tuple[str, ...], dict[str, Any]] = {(): root}
        until = run_base(ordinal) + RUN_SPAN - 1
        after = run_base(ordinal) - 1 if ordinal else None
        async with contextlib.aclosing(self.log.events(after, until=until)) as batches:
            async for batch in batches:
                for event in batch:
                    if event.method != "lifecycle" or not event.namespace:
                        continue
                    key = tuple(event.namespace)
                    node = nodes.get(key)
                    if node is None:
                        data = event.data if isinstance(event.data, dict) else {}
                        node = {
                            "namespace": list(key),
                            "graph_name": data.get("graph_name") or key[-1].split(":")[0],
                            "children": [],
                        }
                        nodes.get(key[:-1], root)["children"].append(node)
                        nodes[key] = node
                    node["status"] = event.data.get("event", "running")

    async def subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        # Over HTTP a subscription has nowhere to deliver to: the events come on the stream
        # the client opens (POST /threads/{id}/stream/events), with the same filter.
        from app.dialects.langgraph.protocol import BadFilter, parse_filter

        try:
            parse_filter(params)
        except BadFilter as exc:
            raise CommandError("invalid_argument", str(exc)) from exc
        return {"subscription_id": self._http_subscription, "replayed_events": 0}

    @property
    def _http_subscription(self) -> str:
        return f"http-{self.thread_id}"

    async def unsubscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        subscription_id = params.get("subscription_id")
        if subscription_id != self._http_subscription:
            raise CommandError("no_such_subscription", f"Unknown subscription: {subscription_id}")
        return {}

    async def reconnect(self, params: dict[str, Any]) -> dict[str, Any]:
        await self._thread()
        run_id = params.get("run_id")
        runs = {run["run_id"] for run in await self.threads.runs(self.thread_id)}
        if run_id is not None and run_id not in runs:
            raise CommandError("no_such_run", f"Run {run_id} not found")
        # The cursor is `since` on the stream: nothing is kept per connection to restore.
        return {"restored": True, "missed_events": 0}


_TREE_STATUS = {
    ThreadStatus.BUSY: "running",
    ThreadStatus.INTERRUPTED: "interrupted",
    ThreadStatus.ERROR: "failed",
}


def _code_of(exc: ApiError) -> str:
    if exc.status == 404:
        return "no_such_run" if "run" in exc.code else "invalid_argument"
    if exc.status in (401, 403):
        return "permission_denied"
    return "invalid_argument"


def _explain(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


_METHODS: dict[str, Handler] = {
    "run.start": ThreadCommands.run_start,
    "input.respond": ThreadCommands.input_respond,
    "agent.getTree": ThreadCommands.get_tree,
    "subscription.subscribe": ThreadCommands.subscribe,
    "subscription.unsubscribe": ThreadCommands.unsubscribe,
    "subscription.reconnect": ThreadCommands.reconnect,
}
