"""The channels a process listens to, all on one pub/sub connection (one per node on a cluster).

A process listens to one channel per run it follows (each append announces itself there) and
one per run it owns (cancel, idle and start requests for it), so ten thousand followed runs cost
one connection, not ten thousand blocking reads. Pub/sub delivers at most once: whoever listens
must also look at the log itself after every (re)subscription, which `on_subscribed` reports.

On a cluster, a node that stops serving a slot (its slot migrated away) unsubscribes its
listeners from that slot's shard channels without being asked: `on_moved` reports each, so the
channel is listened to again on the node that serves it now. A node that fails says nothing:
while the connection to it is down, `on_unreachable` asks whoever owns the listener to look
where its channels' slots are served now (a replica promoted in its place), and `move` them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from types import MethodType
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterPubSub
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
CONFIRM_SECONDS = 2.0


class Listener:
    """One pub/sub connection, its channels and the task that reads it.

    `sharded` uses SSUBSCRIBE (Redis 7; a cluster delivers a shard channel only on the node
    that owns its slot), otherwise SUBSCRIBE."""

    def __init__(
        self,
        client: Redis,
        *,
        sharded: bool,
        on_message: Handler,
        on_subscribed: Callable[[str], None],
        on_moved: Callable[[str], None] = lambda channel: None,
        on_unreachable: Callable[[], None] = lambda: None,
    ) -> None:
        self._pubsub = client.pubsub()
        if sharded:
            # One SSUBSCRIBE takes the channels of one slot only, and each run's channels have
            # a slot of their own: after a reconnect, subscribe again slot by slot, as
            # redis-py's own cluster pub/sub does for each node.
            self._pubsub._resubscribe_shard_channels = MethodType(  # type: ignore[method-assign]
                ClusterPubSub._resubscribe_shard_channels, self._pubsub
            )
        self._client = client
        self._sharded = sharded
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._on_moved = on_moved
        self._on_unreachable = on_unreachable
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._wanted: set[str] = set()
        self._unsent: set[str] = set()  # wanted, but Redis was away when asked
        self._leaving: Counter[str] = Counter()  # unsubscribes asked for, not yet confirmed
        # Subscribes and unsubscribes go out in the order they were asked for, so a reader
        # that leaves and one that comes back at once leave the channel subscribed.
        self._lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def channels(self) -> int:
        return len(self._wanted)

    def wanted(self) -> list[str]:
        return list(self._wanted)

    async def subscribe(self, channel: str) -> None:
        """Listen to `channel`; returns once Redis has confirmed it (or after a short wait,
        when Redis is away: the subscription is made when it is back)."""
        if self._task is None:
            self._task = asyncio.create_task(self._read(), name="pubsub")
        self._wanted.add(channel)
        confirmed = self._confirmations.setdefault(
            channel, asyncio.get_running_loop().create_future()
        )
        await self._send(channel)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_SECONDS)

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        self._unsent.discard(channel)
        self._confirmations.pop(channel, None)
        async with self._lock:
            if channel in self._wanted:
                return
            with contextlib.suppress(*_UNREACHABLE):
                self._leaving[channel] += 1
                if self._sharded:
                    await self._pubsub.sunsubscribe(channel)
                else:
                    await self._pubsub.unsubscribe(channel)

    async def _send(self, *channels: str) -> None:
        async with self._lock:
            channels = tuple(c for c in channels if c in self._wanted)
            if not channels:
                return
            try:
                if self._sharded:
                    by_slot: defaultdict[int, list[str]] = defaultdict(list)
                    for channel in channels:
                        by_slot[key_slot(channel.encode())].append(channel)
                    for same_slot in by_slot.values():
                        await self._pubsub.ssubscribe(*same_slot)
                        self._unsent.difference_update(same_slot)
                else:
                    await self._pubsub.subscribe(*channels)
                self._unsent.difference_update(channels)
                self._connected.set()
            except _UNREACHABLE as exc:
                logger.debug("subscribing failed (%s); trying again", exc)
                self._unsent.update(channels)

    async def _read(self) -> None:
        delay = 0.1
        while True:
            try:
                if self._unsent:
                    await self._send(*self._unsent)
                if not self._connected.is_set():
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                message: dict[str, Any] | None = await self._pubsub.get_message(timeout=None)
                delay = 0.1
            except _UNREACHABLE as exc:
                # redis-py reconnects and subscribes again on the next read.
                logger.warning("pub/sub connection lost (%s); reconnecting", exc)
                self._leaving.clear()
                if self._sharded and self._wanted:
                    self._on_unreachable()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            except ResponseError as exc:
                # A subscription this node refused (a slot it no longer serves, learnt before
                # the cluster's map was): its readers still get every event from the log.
                logger.warning("pub/sub: %s", exc)
                continue
            if message is None:
                continue
            kind, channel = message["type"], message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else str(channel)
            if kind in ("message", "smessage"):
                self._on_message(channel, message["data"])
            elif kind in ("subscribe", "ssubscribe") and channel in self._wanted:
                confirmed = self._confirmations.get(channel)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)
                self._on_subscribed(channel)
            elif kind in ("unsubscribe", "sunsubscribe"):
                if self._leaving[channel] > 0:
                    self._leaving[channel] -= 1
                    if not self._leaving[channel]:
                        del self._leaving[channel]
                elif channel in self._wanted:
                    self.move(channel)

    def move(self, channel: str) -> None:
        """Stop listening to `channel` here, for `on_moved` to listen to it where it went."""
        if channel not in self._wanted:
            return
        self._wanted.discard(channel)
        self._unsent.discard(channel)
        self._confirmations.pop(channel, None)
        # redis-py would subscribe it here again after a reconnect: this node no longer can.
        self._pubsub.shard_channels.pop(channel, None)
        self._pubsub.shard_channels.pop(channel.encode(), None)
        self._on_moved(channel)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(*_UNREACHABLE):
            await self._pubsub.aclose()
        await self._client.aclose()
