"""Telling, across processes that share a Redis, which of them has stopped.

Every process keeps a counter of its own moving in one Redis hash (`beats`), from a thread, so
a busy or lagging event loop does not hold it back. Another process declares it stopped only
after watching that counter stand still for a whole lease on its own clock: no two clocks are
ever compared, and a process that could not see Redis for a while starts watching anew once
it can, so an outage never makes every other process look dead at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# A process whose event loop has not turned for this long is wedged, not busy: its thread
# stops vouching for it, so its runs get ended by another process.
STALL_LIMIT_SECONDS = 60.0
RETRY_SECONDS = 0.1

_BEAT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
"""


class Watch:
    """The other processes' counters as this process has seen them, and since when (its own
    monotonic clock) each has stood still."""

    def __init__(self, lease_seconds: float) -> None:
        self.lease = lease_seconds
        self._seen: dict[str, tuple[bytes, float]] = {}

    def stopped(self, beats: dict[str, bytes], now: float) -> list[tuple[str, bytes]]:
        """The processes whose counter has not moved for a lease, with the value it stands at."""
        seen: dict[str, tuple[bytes, float]] = {}
        stopped = []
        for process, value in beats.items():
            previous = self._seen.get(process)
            since = previous[1] if previous is not None and previous[0] == value else now
            seen[process] = (value, since)
            if now - since >= self.lease:
                stopped.append((process, value))
        self._seen = seen
        return stopped

    def forget(self) -> None:
        """After this process could not see Redis: what it saw before proves nothing."""
        self._seen.clear()


class Heartbeat:
    """A thread that moves this process's counter every quarter lease while the event loop
    keeps turning. When it finds its entry gone (another process declared this one stopped),
    it registers a new identity and reports it through `on_new_identity`."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        process_id: str,
        lease_seconds: float,
        new_identity: Callable[[], str],
        on_new_identity: Callable[[str, str], None],
    ) -> None:
        self.process_id = process_id
        self.loop_alive_at = time.monotonic()
        self._client = client
        self._key = key
        self._interval = lease_seconds / 4
        self._stall_limit = max(STALL_LIMIT_SECONDS, lease_seconds)
        self._new_identity = new_identity
        self._on_new_identity = on_new_identity
        self._beat = client.register_script(_BEAT)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(self._interval + 5)
        self._client.close()

    def _run(self) -> None:
        delay = self._interval
        while not self._stopping.wait(delay):
            delay = self._interval
            if time.monotonic() - self.loop_alive_at > self._stall_limit:
                logger.error("the event loop has not turned for %ss", self._stall_limit)
                continue
            try:
                if self._beat(keys=[self._key], args=[self.process_id]) is None:
                    self._reincarnate()
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                # Beat again as soon as Redis is back, not a quarter lease later.
                logger.debug("heartbeat failed: %s", exc)
                delay = RETRY_SECONDS

    def _reincarnate(self) -> None:
        old, new = self.process_id, self._new_identity()
        logger.error(
            "another process declared this one (%s) stopped and ended its runs; continuing as %s",
            old,
            new,
        )
        self._client.hset(self._key, new, 0)
        self.process_id = new
        self._on_new_identity(old, new)
