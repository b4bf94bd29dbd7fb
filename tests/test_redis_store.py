"""The Redis store's fences, against a real redis-server: a run's log ends exactly once."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

import pytest
from conftest import RedisServer

from app.events import EventName, RunStatus, gap_event_factory
from app.runs import RunWriter, iso_now
from app.store.base import AppendConflict, RunRecord
from app.store.liveness import Watch
from app.store.redis import RedisStore

PAYLOAD = 65_536


def _store(url: str) -> RedisStore:
    return RedisStore(
        url, max_events_per_run=1000, run_ttl_seconds=60, gap_event=gap_event_factory(PAYLOAD)
    )


@pytest.fixture
async def stores(redis_server: RedisServer) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two processes' views of one Redis: the run's owner and another process."""
    owner, other = _store(redis_server.url), _store(redis_server.url)
    yield owner, other
    await owner.close()
    await other.close()


async def _new_run(store: RedisStore, events: int) -> RunWriter:
    run_id = uuid.uuid4().hex
    await store.create_run(RunRecord(run_id, RunStatus.RUNNING, iso_now(), owner="owner"))
    writer = RunWriter(store, run_id, PAYLOAD)
    await writer.append([(EventName.CUSTOM, {"i": i}) for i in range(events)])
    await store.flush(run_id)
    return writer


async def _log(store: RedisStore, run_id: str) -> list[str]:
    entries = await store.redis.xrange(store.log_key(run_id))
    return [fields[b"n"].decode() for _, fields in entries]


LOST = [
    (EventName.RUN_ERROR, {"error": {"type": "WorkerLost", "message": "gone"}}),
    (EventName.RUN_END, {"status": "error"}),
]


async def test_the_owner_and_a_claimant_racing_to_end_a_run_land_one_run_end(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    owner_store, claimant_store = stores
    rng = random.Random(8)
    winners = {"owner": 0, "claimant": 0}
    for _ in range(200):
        owner = await _new_run(owner_store, rng.randint(0, 3))
        claimant = RunWriter(claimant_store, owner.run_id, PAYLOAD)

        async def end_as_owner(writer: RunWriter = owner) -> bool:
            await asyncio.sleep(rng.random() * 0.002)
            # The owner's last events: some still in its outbox, then run.end.
            await writer.append([(EventName.CUSTOM, {"last": True})])
            return await writer.end([(EventName.RUN_END, {"status": "success"})], RunStatus.SUCCESS)

        async def end_as_lost(writer: RunWriter = claimant) -> bool:
            await asyncio.sleep(rng.random() * 0.002)
            return await writer.end(LOST, RunStatus.ERROR, resync=True)

        by_owner, by_claimant = await asyncio.gather(end_as_owner(), end_as_lost())
        assert by_owner != by_claimant, "exactly one of them ends the run"
        names = await _log(owner_store, owner.run_id)
        assert names.count("run.end") == 1 and names[-1] == "run.end"
        record = await claimant_store.get_run(owner.run_id)
        assert record is not None and record.events == len(names)
        assert record.status == (RunStatus.SUCCESS if by_owner else RunStatus.ERROR)
        winners["owner" if by_owner else "claimant"] += 1
    assert min(winners.values()) > 0, f"the race was never close: {winners}"


async def test_nothing_lands_after_run_end_even_where_the_log_ends(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    owner_store, other_store = stores
    owner = await _new_run(owner_store, 2)
    assert await owner.end([(EventName.RUN_END, {"status": "success"})], RunStatus.SUCCESS)
    # A writer that knows exactly where the log ends is still refused: the log has ended.
    late = RunWriter(other_store, owner.run_id, PAYLOAD, seq=owner.seq)
    with pytest.raises(AppendConflict) as refused:
        await late.append([(EventName.RUN_ERROR, {"error": {}})])
        await other_store.flush(owner.run_id)
    assert refused.value.ended
    assert not await late.end(LOST, RunStatus.ERROR)
    await other_store.set_status(owner.run_id, RunStatus.RUNNING)
    record = await other_store.get_run(owner.run_id)
    assert record is not None and record.status == RunStatus.SUCCESS and record.ended_at
    assert await _log(owner_store, owner.run_id) == ["custom", "custom", "run.end"]


async def test_the_end_is_retried_until_it_lands_after_an_outbox_failure(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    owner_store, _ = stores
    owner = await _new_run(owner_store, 1)
    # The writer believes two more events landed than did (a batch lost with its reply).
    owner.seq += 2
    assert await owner.end([(EventName.RUN_END, {"status": "success"})], RunStatus.SUCCESS)
    assert await _log(owner_store, owner.run_id) == ["custom", "run.end"]
    assert owner.seq == 2


def test_a_process_is_stopped_only_after_standing_still_for_a_lease() -> None:
    watch = Watch(lease_seconds=3)
    assert watch.stopped({"a": b"1", "b": b"7"}, now=100) == []
    assert watch.stopped({"a": b"2", "b": b"7"}, now=102.9) == []
    # b has not moved since this process first saw it at 100; a moved at 102.9.
    assert watch.stopped({"a": b"2", "b": b"7"}, now=103) == [("b", b"7")]
    assert watch.stopped({"a": b"2", "b": b"7"}, now=105.8) == [("b", b"7")]
    assert watch.stopped({"a": b"2", "b": b"7"}, now=105.9) == [("a", b"2"), ("b", b"7")]


def test_after_losing_sight_of_redis_a_process_watches_anew() -> None:
    watch = Watch(lease_seconds=3)
    watch.stopped({"a": b"1"}, now=100)
    watch.forget()  # Redis was away from 100 to 110: nothing seen before counts
    assert watch.stopped({"a": b"1"}, now=110) == []
    assert watch.stopped({"a": b"1"}, now=112.9) == []
    assert watch.stopped({"a": b"1"}, now=113) == [("a", b"1")]
    assert watch.stopped({}, now=114) == []  # gone from the hash: claimed by someone


async def test_events_a_failover_lost_are_appended_again_as_they_were(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    owner_store, _ = stores
    owner = await _new_run(owner_store, 5)
    log_key, meta_key = owner_store.log_key(owner.run_id), owner_store.meta_key(owner.run_id)
    before = await owner_store.redis.xrange(log_key)
    # What a promoted replica may hold when its master failed before passing on its last
    # writes: the log, and its count, without the last two events (readers saw them).
    await owner_store.redis.delete(log_key)
    for entry_id, fields in before[:3]:
        await owner_store.redis.xadd(log_key, fields, id=entry_id)
    await owner_store.redis.hset(meta_key, "events", 3)

    # The next batch is refused where the log now ends; the one after finds out, and the
    # writer appends the lost events again, then both batches, then the end.
    await owner.append([(EventName.CUSTOM, {"i": 5})])
    await owner.append([(EventName.CUSTOM, {"i": 6})])
    assert await owner.end([(EventName.RUN_END, {"status": "success"})], RunStatus.SUCCESS)
    after = await owner_store.redis.xrange(log_key)
    assert after[:5] == before
    assert [entry_id for entry_id, _ in after] == [f"{seq}-0".encode() for seq in range(1, 9)]
    assert await _log(owner_store, owner.run_id) == ["custom"] * 7 + ["run.end"]
