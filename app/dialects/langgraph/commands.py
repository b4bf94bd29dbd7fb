"""The commands of LangGraph's thread streaming protocol: `{id, method, params}` in, one
`{type: "success", id, result, meta}` or `{type: "error", id, error, message}` out.

Over HTTP (`POST /threads/{id}/commands`) and over a thread's WebSocket alike; a subscription
only means something on a socket, which handles those methods itself (see protocol.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import HTTPConnection

from app.dialects.langgraph import requests as body
from app.dialects.langgraph.thread_log import ThreadGone, ThreadLog
from app.errors import ApiError
from app.runs import AtCapacity
from app.store.base import ThreadStatus
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
        except AtCapacity as exc:
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
        try:
            thread = await self.threads.get(self.thread_id)
        except ApiError as exc:
            first = next(iter(answers))
            raise CommandError(
                "no_such_interrupt", f"Unknown or already-consumed interrupt: {first}"
            ) from exc
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

    async def get_tree(self, params: dict[str, Any]) -> dict[str, Any]:
        thread = await self.threads.get(self.thread_id)
        status = {
            ThreadStatus.BUSY: "running",
            ThreadStatus.INTERRUPTED: "interrupted",
            ThreadStatus.ERROR: "failed",
        }.get(thread.status, "completed")
        graph_name = thread.metadata.get("graph_id") or self.conn.app.state.graph_id
        return {
            "tree": {"namespace": [], "status": status, "graph_name": graph_name, "children": []}
        }

    async def subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        # Over HTTP a subscription has nowhere to deliver to: the events come on the stream
        # the client opens (POST /threads/{id}/stream/events), with the same filter.
        from app.dialects.langgraph.protocol import parse_filter

        parse_filter(params)
        return {"subscription_id": f"http-{self.thread_id}", "replayed_events": 0}

    async def unsubscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    async def reconnect(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"restored": True, "missed_events": 0}


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
