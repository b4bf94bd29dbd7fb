"""Assistants: a served graph with a config and context of its own, versioned, as LangGraph's
server keeps them. The served graph is the system assistant (read-only here); the others are
records in the event store, so every process sees the same ones.

An assistant is kept as one record: its versions, and which of them is current. A change
writes a new version over the record it read, and tries again when another process wrote in
between (the store compares revisions).
"""

from __future__ import annotations

import uuid
from typing import Any

from app.errors import ApiError
from app.store.base import EventStore
from app.threads import contains
from app.writer import iso_now

KIND = "assistants"
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
SORTABLE = ("assistant_id", "graph_id", "name", "created_at", "updated_at")
VERSION_FIELDS = ("graph_id", "config", "context", "metadata", "name", "description")
# How often a change is tried again when other processes keep changing the same assistant.
ATTEMPTS = 8


def system_assistant_id(graph_id: str) -> str:
    """The served graph's assistant id, as LangGraph's server derives it."""
    return str(uuid.uuid5(ASSISTANT_NAMESPACE, graph_id))


class Assistants:
    """The assistants of the graphs this gateway serves (`graph_ids`), the first of them
    started at `started_at`."""

    def __init__(self, store: EventStore, graph_ids: list[str], started_at: str) -> None:
        self.store = store
        self.graph_ids = graph_ids
        self.started_at = started_at

    # --- reading ---------------------------------------------------------------------------

    def system(self) -> list[dict[str, Any]]:
        return [
            {
                "assistant_id": system_assistant_id(graph_id),
                "graph_id": graph_id,
                "config": {},
                "context": {},
                "metadata": {"created_by": "system"},
                "name": graph_id,
                "description": None,
                "version": 1,
                "created_at": self.started_at,
                "updated_at": self.started_at,
            }
            for graph_id in self.graph_ids
        ]

    def system_for(self, assistant_id: str) -> dict[str, Any] | None:
        """A served graph's assistant, by its id or by the graph's name (LangGraph takes both)."""
        for assistant in self.system():
            if assistant_id in (assistant["assistant_id"], assistant["graph_id"]):
                return assistant
        return None

    async def get(self, assistant_id: str) -> dict[str, Any]:
        found = self.system_for(assistant_id)
        if found is not None:
            return found
        return _current(await self._record(assistant_id))

    async def _record(self, assistant_id: str) -> dict[str, Any]:
        """A stored assistant over a graph served here. (Gateways serving other graphs may
        share the event store: their assistants are not this one's.)"""
        record = await self.store.get_record(KIND, assistant_id)
        if record is None or _current(record)["graph_id"] not in self.graph_ids:
            raise _not_found(assistant_id)
        return record

    async def search(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every assistant that matches, sorted (newest first unless asked otherwise)."""
        if graph_id is not None:
            self._check_graph(graph_id)
        stored = [
            assistant
            for assistant in map(_current, await self.store.list_records(KIND))
            if assistant["graph_id"] in self.graph_ids
        ]
        found = [
            a
            for a in [*self.system(), *stored]
            if (graph_id is None or a["graph_id"] == graph_id)
            and (not name or name.lower() in str(a["name"]).lower())
            and contains(a["metadata"], metadata or {})
        ]
        key = sort_by if sort_by in SORTABLE else "created_at"
        # (LangGraph's server sorts descending unless asked otherwise, whatever the field.)
        descending = (sort_order or "desc").lower() == "desc"

        def value(assistant: dict[str, Any]) -> str:
            held = assistant.get(key) or ""
            return str(held).lower() if key in ("name", "graph_id") else str(held)

        return sorted(found, key=value, reverse=descending)

    async def versions(
        self, assistant_id: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Its versions, newest first."""
        system = self.system_for(assistant_id)
        if system is not None:
            versions = [{k: system[k] for k in (*VERSION_FIELDS, "version", "created_at")}]
            assistant_id = system["assistant_id"]
        else:
            versions = (await self._record(assistant_id))["versions"]
        return [
            {"assistant_id": assistant_id, **v}
            for v in sorted(versions, key=lambda v: v["version"], reverse=True)
            if contains(v["metadata"], metadata or {})
        ]

    # --- changing ---------------------------------------------------------------------------

    async def create(
        self,
        *,
        graph_id: str,
        assistant_id: str | None,
        config: dict[str, Any],
        context: dict[str, Any] | None,
        metadata: dict[str, Any],
        name: str | None,
        description: str | None,
        if_exists: str,
    ) -> dict[str, Any]:
        self._check_graph(graph_id)
        assistant_id = assistant_id or str(uuid.uuid4())
        if self.system_for(assistant_id) is not None:
            raise ApiError(
                409, "assistant_exists", f"assistant {assistant_id!r} is a served graph's own"
            )
        config, context = _in_step(config, context)
        now = iso_now()
        version = {
            "version": 1,
            "graph_id": graph_id,
            "config": config,
            "context": context,
            "metadata": metadata,
            "name": name or "Untitled",
            "description": description,
            "created_at": now,
        }
        record = {
            "assistant_id": assistant_id,
            "created_at": now,
            "updated_at": now,
            "current": 1,
            "versions": [version],
            "revision": 1,
        }
        if await self.store.put_record(KIND, assistant_id, record, revision=None):
            return _current(record)
        if if_exists == "do_nothing":
            return await self.get(assistant_id)
        raise ApiError(409, "assistant_exists", f"assistant {assistant_id!r} already exists")

    async def update(self, assistant_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """A new version from the current one and `changes` (fields given; metadata merged)."""
        if "graph_id" in changes and changes["graph_id"] is not None:
            self._check_graph(changes["graph_id"])

        def change(record: dict[str, Any]) -> None:
            current = _version(record, record["current"])
            given = {k: v for k, v in changes.items() if v is not None}
            config = given.get("config") or current["config"]
            context = given.get("context", current["context"])
            if "config" in given or "context" in given:
                # What is given sets the other, as on creation (and both at once is refused).
                config, context = _in_step(
                    config if "config" in given else _without_configurable(config),
                    given.get("context") if "context" in given else None,
                )
                if "context" not in given and not given["config"].get("configurable"):
                    context = current["context"]
            version = {
                **current,
                "version": max(v["version"] for v in record["versions"]) + 1,
                "graph_id": given.get("graph_id", current["graph_id"]),
                "config": config,
                "context": context,
                "metadata": {**current["metadata"], **given.get("metadata", {})},
                "name": given.get("name", current["name"]),
                "description": given.get("description", current["description"]),
                "created_at": iso_now(),
            }
            record["versions"].append(version)
            record["current"] = version["version"]

        return await self._change(assistant_id, change)

    async def set_latest(self, assistant_id: str, version: int) -> dict[str, Any]:
        def change(record: dict[str, Any]) -> None:
            _version(record, version)  # (404 when there is no such version)
            record["current"] = version

        return await self._change(assistant_id, change)

    async def delete(self, assistant_id: str) -> None:
        self._refuse_system(assistant_id)
        await self._record(assistant_id)
        if not await self.store.delete_record(KIND, assistant_id):
            raise _not_found(assistant_id)

    async def _change(self, assistant_id: str, change: Any) -> dict[str, Any]:
        self._refuse_system(assistant_id)
        for _ in range(ATTEMPTS):
            record = await self._record(assistant_id)
            revision = record["revision"]
            change(record)
            record["updated_at"] = iso_now()
            record["revision"] = revision + 1
            if await self.store.put_record(KIND, assistant_id, record, revision=revision):
                return _current(record)
        raise ApiError(
            409, "assistant_busy", f"assistant {assistant_id!r} keeps changing: try again"
        )

    def _refuse_system(self, assistant_id: str) -> None:
        if self.system_for(assistant_id) is not None:
            raise ApiError(
                409,
                "system_assistant",
                f"assistant {assistant_id!r} is the served graph's own and cannot be changed: "
                "create an assistant over the graph instead",
            )

    def _check_graph(self, graph_id: str) -> None:
        if graph_id not in self.graph_ids:
            raise ApiError(
                404,
                "graph_not_found",
                f"no graph {graph_id!r} here: this gateway serves {', '.join(self.graph_ids)}",
            )


def merged(assistant: dict[str, Any], config: dict[str, Any], context: Any) -> tuple[Any, Any]:
    """A run's config and context over its assistant's: the run's own win."""
    base = assistant.get("config") or {}
    configurable = {**base.get("configurable", {}), **config.get("configurable", {})}
    run_config = {**base, **config}
    if configurable:
        run_config["configurable"] = configurable
    if context is None and not assistant.get("context"):
        return run_config, None
    return run_config, {**(assistant.get("context") or {}), **(context or {})}


def _in_step(config: dict[str, Any], context: dict[str, Any] | None) -> tuple[Any, Any]:
    """LangGraph keeps an assistant's `context` and `config.configurable` the same (context
    is its newer name): one is given, the other follows; both at once is refused."""
    configurable = config.get("configurable")
    if configurable and context:
        raise ApiError(
            400,
            "config_and_context",
            "give context or config.configurable, not both (context is the newer name)",
        )
    if configurable:
        return config, dict(configurable)
    if context:
        return {**config, "configurable": dict(context)}, context
    return config, context or {}


def _without_configurable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "configurable"}


def _version(record: dict[str, Any], number: int) -> dict[str, Any]:
    for version in record["versions"]:
        if version["version"] == number:
            return version  # type: ignore[no-any-return]
    raise ApiError(
        404,
        "version_not_found",
        f"assistant {record['assistant_id']!r} has no version {number}",
    )


def _current(record: dict[str, Any]) -> dict[str, Any]:
    version = _version(record, record["current"])
    return {
        "assistant_id": record["assistant_id"],
        **{k: version[k] for k in VERSION_FIELDS},
        "version": version["version"],
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
    }


def _not_found(assistant_id: str) -> ApiError:
    return ApiError(404, "assistant_not_found", f"assistant {assistant_id!r} not found")
