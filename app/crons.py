"""Crons: a run on a schedule, kept as LangGraph's server keeps them, as records in the event
store so that every process sees the same ones.

Every process keeps the schedule (`keep_schedule`); a tick is fired by the one process that
moves the cron's `next_run_date` past it: the move is a write over the record it read, which
the store makes only when no other process wrote in between. A tick missed while no process
ran fires once when one is back (not once per missed tick), as on LangGraph's server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from app.errors import ApiError
from app.store.base import EventStore, StoreUnavailable
from app.threads import contains
from app.writer import iso_now

logger = logging.getLogger(__name__)

KIND = "crons"
SORTABLE = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "next_run_date",
    "end_time",
    "created_at",
    "updated_at",
)
# What a cron's JSON shows (LangGraph's `Cron`); the record also keeps its owner and revision.
FIELDS = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "user_id",
    "end_time",
    "schedule",
    "timezone",
    "payload",
    "next_run_date",
    "metadata",
    "on_run_completed",
    "enabled",
    "created_at",
    "updated_at",
)
# How often a change is tried again when other processes keep changing the same cron.
ATTEMPTS = 8

Fire = Callable[[dict[str, Any]], Awaitable[None]]


def check_schedule(schedule: str) -> str:
    """Five fields (minute hour day month weekday), or six with seconds last."""
    if not croniter.is_valid(schedule):
        raise ApiError(
            422,
            "invalid_schedule",
            f"invalid cron schedule {schedule!r}: use the standard five fields (minute hour "
            "day-of-month month day-of-week), e.g. '*/5 * * * *', or six with seconds last",
        )
    return schedule


def check_timezone(timezone: str | None) -> str | None:
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ApiError(
                422, "invalid_timezone", f"timezone {timezone!r} is not an IANA time zone"
            ) from exc
    return timezone


def next_tick(schedule: str, after: dt.datetime, timezone: str | None = None) -> str:
    """The schedule's first time after `after`, in UTC (read in `timezone`, UTC by default)."""
    local = after.astimezone(ZoneInfo(timezone)) if timezone else after.astimezone(dt.UTC)
    following: dt.datetime = croniter(schedule, local).get_next(dt.datetime)
    return _iso(following.astimezone(dt.UTC))


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _not_found(cron_id: str) -> ApiError:
    return ApiError(404, "cron_not_found", f"no cron {cron_id!r}")


def view(record: dict[str, Any]) -> dict[str, Any]:
    # (LangGraph's server names no user "" when no auth is configured.)
    return {**{field: record.get(field) for field in FIELDS}, "user_id": record["user_id"] or ""}


class Crons:
    """The crons of `principal` (every cron, for the schedule)."""

    def __init__(self, store: EventStore, principal: str | None = None) -> None:
        self.store = store
        self.principal = principal

    def scoped(self, principal: str | None) -> Crons:
        return Crons(self.store, principal)

    # --- reading ---------------------------------------------------------------------------

    async def _record(self, cron_id: str) -> dict[str, Any]:
        record = await self.store.get_record(KIND, cron_id)
        if record is None or record.get("user_id") != self.principal:
            raise _not_found(cron_id)
        return record

    async def get(self, cron_id: str) -> dict[str, Any]:
        return view(await self._record(cron_id))

    async def search(
        self,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        enabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every cron of the principal that matches, sorted (newest first by default)."""
        found = [
            view(record)
            for record in await self.store.list_records(KIND)
            if record.get("user_id") == self.principal
            and (assistant_id is None or record["assistant_id"] == assistant_id)
            and (thread_id is None or record["thread_id"] == thread_id)
            and (enabled is None or record["enabled"] == enabled)
            and contains(record["metadata"], metadata or {})
        ]
        key = sort_by if sort_by in SORTABLE else "created_at"
        descending = (sort_order or "desc").lower() == "desc"
        return sorted(found, key=lambda cron: str(cron.get(key) or ""), reverse=descending)

    # --- changing ---------------------------------------------------------------------------

    async def create(
        self,
        *,
        assistant_id: str,
        graph_id: str,
        thread_id: str | None,
        schedule: str,
        timezone: str | None,
        end_time: str | None,
        payload: dict[str, Any],
        metadata: dict[str, Any],
        on_run_completed: str | None,
        enabled: bool,
    ) -> dict[str, Any]:
        check_schedule(schedule)
        check_timezone(timezone)
        cron_id = str(uuid.uuid4())
        now = iso_now()
        config = payload.setdefault("config", {})
        config.setdefault("configurable", {})["cron_id"] = cron_id
        record = {
            "cron_id": cron_id,
            "assistant_id": assistant_id,
            "graph_id": graph_id,  # (whose gateways fire it)
            "thread_id": thread_id,
            "user_id": self.principal,
            "end_time": end_time,
            "schedule": schedule,
            "timezone": timezone,
            "payload": {**payload, "assistant_id": assistant_id},
            "next_run_date": next_tick(schedule, dt.datetime.now(dt.UTC), timezone),
            "metadata": metadata,
            # A thread's cron runs on its thread; a stateless one's thread goes or stays.
            "on_run_completed": None if thread_id else (on_run_completed or "delete"),
            "enabled": enabled,
            "created_at": now,
            "updated_at": now,
            "revision": 1,
        }
        if not await self.store.put_record(KIND, cron_id, record, revision=None):
            raise ApiError(409, "cron_exists", f"cron {cron_id!r} already exists")
        return view(record)

    async def update(self, cron_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """`changes` holds the fields given: `end_time` None clears it; `payload` is merged
        over the cron's, `metadata` over its metadata."""
        if not changes:
            raise ApiError(400, "nothing_to_update", "no fields to update")
        if "schedule" in changes:
            check_schedule(changes["schedule"])
        if "timezone" in changes:
            check_timezone(changes["timezone"])
        for _ in range(ATTEMPTS):
            record = await self._record(cron_id)
            changed = {**record, "updated_at": iso_now(), "revision": record["revision"] + 1}
            for field in ("schedule", "timezone", "end_time", "enabled"):
                if field in changes:
                    changed[field] = changes[field]
            if "on_run_completed" in changes and record["thread_id"] is None:
                changed["on_run_completed"] = changes["on_run_completed"]
            if "metadata" in changes:
                changed["metadata"] = {**record["metadata"], **changes["metadata"]}
            if "payload" in changes:
                payload = {**record["payload"], **changes["payload"]}
                payload["assistant_id"] = record["assistant_id"]
                config = dict(payload.get("config") or {})
                config["configurable"] = {**config.get("configurable", {}), "cron_id": cron_id}
                changed["payload"] = {**payload, "config": config}
            if "schedule" in changes or "timezone" in changes:
                changed["next_run_date"] = next_tick(
                    changed["schedule"], dt.datetime.now(dt.UTC), changed["timezone"]
                )
            if await self.store.put_record(KIND, cron_id, changed, revision=record["revision"]):
                return view(changed)
        raise StoreUnavailable(f"cron {cron_id!r} kept changing: try again")

    async def delete(self, cron_id: str) -> None:
        await self._record(cron_id)
        if not await self.store.delete_record(KIND, cron_id):
            raise _not_found(cron_id)

    async def delete_for_thread(self, thread_id: str) -> None:
        """A deleted thread's crons go with it."""
        for record in await self.store.list_records(KIND):
            if record["thread_id"] == thread_id and record.get("user_id") == self.principal:
                await self.store.delete_record(KIND, record["cron_id"])

    # --- the schedule -------------------------------------------------------------------------

    async def claim_due(
        self, now: dt.datetime, graph_ids: list[str]
    ) -> tuple[list[dict[str, Any]], dt.datetime | None]:
        """The crons of the graphs served here (`graph_ids`: gateways serving other graphs
        may share the store) whose tick has come, each claimed for this process alone: its
        `next_run_date` moved past `now`. Each comes with `tick`, the time it was due, and its
        `principal`. And the
        next time a tick comes, if any cron is waiting for one."""
        claimed, upcoming = [], []
        for record in await self.store.list_records(KIND):
            due = record["next_run_date"]
            ended = record["end_time"] is not None and _moment(record["end_time"]) < now
            if not record["enabled"] or ended or record.get("graph_id") not in graph_ids:
                continue
            if _moment(due) > now:
                upcoming.append(_moment(due))
                continue
            moved = {
                **record,
                "next_run_date": next_tick(record["schedule"], now, record["timezone"]),
                "revision": record["revision"] + 1,
            }
            upcoming.append(_moment(moved["next_run_date"]))
            revision = record["revision"]
            if await self.store.put_record(KIND, record["cron_id"], moved, revision=revision):
                claimed.append({**view(record), "tick": due, "principal": record["user_id"]})
        return claimed, min(upcoming, default=None)


async def keep_schedule(
    crons: Crons,
    fire: Fire,
    poll_seconds: float,
    paused: Callable[[], bool],
    graph_ids: list[str],
) -> None:
    """Fire every cron whose tick comes, until cancelled. It looks every `poll_seconds` (for
    crons other processes made or changed), and wakes for the next tick it knows of. Nothing
    is claimed while `paused` (a draining process takes no new runs: another fires the tick)."""
    while True:
        wait = poll_seconds
        try:
            if not paused():
                claimed, upcoming = await crons.claim_due(dt.datetime.now(dt.UTC), graph_ids)
                for cron in claimed:
                    await _fire(fire, cron)
                if upcoming is not None:
                    until = (upcoming - dt.datetime.now(dt.UTC)).total_seconds()
                    wait = max(0.0, min(wait, until))
        except StoreUnavailable as exc:
            logger.warning("crons: the event store is unavailable (%s); trying again", exc)
        await asyncio.sleep(wait)


async def _fire(fire: Fire, cron: dict[str, Any]) -> None:
    try:
        await fire(cron)
    except ApiError as exc:
        # (A thread busy with a run its cron does not wait for, say.)
        logger.warning(
            "cron %s: its run at %s was refused: %s", cron["cron_id"], cron["tick"], exc.message
        )
    except Exception:
        logger.exception("cron %s: its run at %s did not start", cron["cron_id"], cron["tick"])
