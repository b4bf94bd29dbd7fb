"""A cron's schedule on its own: LangGraph's five fields (or six, with seconds), read in the
cron's time zone; and a tick claimed once, by one of the schedulers that look for it."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from app.crons import Crons, check_schedule, check_timezone, next_tick
from app.errors import ApiError
from app.settings import Settings
from app.store import open_store


def test_the_next_tick_is_read_in_the_crons_time_zone() -> None:
    now = dt.datetime(2026, 12, 4, 22, 0, 5, tzinfo=dt.UTC)
    assert next_tick("0 0 1 1 *", now) == "2027-01-01T00:00:00.000000Z"
    # Midnight in Paris is 23:00 UTC in winter; in New York, 05:00 UTC.
    assert next_tick("0 0 1 1 *", now, "Europe/Paris") == "2026-12-31T23:00:00.000000Z"
    assert next_tick("0 0 * * *", now, "America/New_York") == "2026-12-05T05:00:00.000000Z"
    # A sixth field counts seconds.
    assert next_tick("* * * * * */10", now) == "2026-12-04T22:00:10.000000Z"


@pytest.mark.parametrize("schedule", ["every day", "61 * * * *", "* * *", ""])
def test_a_schedule_that_is_not_one_is_refused(schedule: str) -> None:
    with pytest.raises(ApiError) as refused:
        check_schedule(schedule)
    assert refused.value.status == 422 and "minute hour" in refused.value.message


def test_a_time_zone_must_be_an_iana_one() -> None:
    assert check_timezone("Asia/Tokyo") == "Asia/Tokyo" and check_timezone(None) is None
    with pytest.raises(ApiError):
        check_timezone("Mars/Olympus")


async def test_a_due_tick_is_claimed_once_and_the_next_one_is_told() -> None:
    # (Processes racing over a shared store: tests/test_crons.py, over Redis.)
    store = open_store(Settings(_env_file=None))
    crons = Crons(store, principal="ann")
    made = [
        await crons.create(
            assistant_id="a",
            graph_id="g",
            thread_id=None,
            schedule="* * * * * *",
            timezone=None,
            end_time=None,
            payload={"input": {}},
            metadata={},
            on_run_completed=None,
            enabled=True,
        )
        for _ in range(5)
    ]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    schedulers = [Crons(store) for _ in range(4)]
    claims = await asyncio.gather(*(s.claim_due(later, ["g"]) for s in schedulers))
    claimed = [cron for found, _ in claims for cron in found]
    assert sorted(c["cron_id"] for c in claimed) == sorted(c["cron_id"] for c in made)
    assert {c["principal"] for c in claimed} == {"ann"}
    # The next tick is after `later`: no scheduler claims them again until it comes.
    again, upcoming = await schedulers[0].claim_due(later, ["g"])
    # A gateway serving other graphs over the same store claims none of them.
    assert (await schedulers[1].claim_due(later + dt.timedelta(seconds=5), ["other"]))[0] == []
    assert again == [] and upcoming is not None and upcoming > later
