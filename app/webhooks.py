"""Webhooks: when a run that named one ends, a POST of its end to that URL, sent in the
background by the process that ended it, so the run's end and its streams never wait for it.

Only to URLs under a prefix Settings.webhook_allow lists: the gateway must not become a way to
reach whatever its own network can.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from app.payload import dumps
from app.store.base import RunRecord
from app.writer import iso_now

logger = logging.getLogger(__name__)

# Where a run's meta keeps its webhook: the meta goes with the run's record, so the process
# that ends the run knows the URL, whichever process started it.
WEBHOOK_KEY = "webhook"
MAX_URL_LENGTH = 2048
ATTEMPTS = 4
ATTEMPT_SECONDS = 10.0
# Waits between attempts: 0.5 s, then twice the wait before, never more than BACKOFF_MAX.
BACKOFF_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
# On shutdown, how long deliveries under way may go on before they are given up.
CLOSE_SECONDS = 10.0
SETTING = "GATEWAY_WEBHOOK_ALLOW"
_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class RunEnded:
    """A run this process ended: its record (final status, ended_at), when its last attempt
    began running (None: unknown, it was ended as lost), its error and its output."""

    record: RunRecord
    started_at: str | None
    error: dict[str, Any] | None = None
    output: Any = None


# What a dialect posts for a run's end.
Payload = Callable[[RunEnded], Awaitable[dict[str, Any]]]


def _parts(url: str) -> tuple[str, str, int, str] | None:
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError:
        return None
    scheme = split.scheme.lower()
    if scheme not in _PORTS or not split.hostname:
        return None
    return scheme, split.hostname.lower(), port or _PORTS[scheme], split.path or "/"


def _under(path: str, prefix: str) -> bool:
    # On a segment boundary: /hooks allows /hooks and /hooks/x, not /hooksmith.
    if prefix.endswith("/"):
        return path.startswith(prefix)
    return path == prefix or path.startswith(prefix + "/")


def refusal(url: str, allowed: list[str]) -> str | None:
    """Why `url` may not be a webhook here; None when it may: an http or https URL under one of
    the `allowed` prefixes (same scheme, host and port, and a path within the prefix's)."""
    if not allowed:
        return f"webhooks are off on this gateway: {SETTING} allows no URL"
    if len(url) > MAX_URL_LENGTH:
        return f"the webhook URL is longer than {MAX_URL_LENGTH} characters"
    parts = _parts(url)
    if parts is None:
        return f"webhook {url!r} is not an http:// or https:// URL"
    path = parts[3]
    # A server may resolve dot segments after the prefix has been checked.
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        return f"webhook {url!r} has a . or .. segment in its path"
    for prefix in allowed:
        allowing = _parts(prefix)
        if allowing is not None and allowing[:3] == parts[:3] and _under(path, allowing[3]):
            return None
    return f"webhook {url!r} is not under any URL prefix {SETTING} allows"


def _shown(url: str) -> str:
    # Without its query, which may hold a token of the receiver's.
    split = urlsplit(url)
    return f"{split.scheme}://{split.netloc.rpartition('@')[2]}{split.path}"


class Webhooks:
    """Delivers runs' webhooks, each in a task of its own: retried with backoff on connection
    errors, 429 and 5xx answers; delivered when the receiver answers 2xx."""

    def __init__(
        self,
        allowed: list[str],
        payload: Payload,
        *,
        attempts: int = ATTEMPTS,
        attempt_seconds: float = ATTEMPT_SECONDS,
        backoff_seconds: float = BACKOFF_SECONDS,
    ) -> None:
        self.allowed = allowed
        self._payload = payload
        self._attempts = attempts
        self._attempt_seconds = attempt_seconds
        self._backoff = backoff_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def send(self, ended: RunEnded) -> None:
        """Deliver the run's webhook, if it named one, without waiting for it."""
        url = ended.record.meta.get(WEBHOOK_KEY)
        if not url:
            return
        name = f"webhook-{ended.record.run_id}"
        task = asyncio.get_running_loop().create_task(self._deliver(str(url), ended), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, ended: RunEnded) -> None:
        run_id = ended.record.run_id
        # Checked again: the process ending the run may allow less than the one that began it.
        reason = refusal(url, self.allowed)
        if reason is not None:
            logger.warning("run %s: webhook not sent: %s", run_id, reason)
            return
        try:
            payload = await self._payload(ended)
            payload["webhook_sent_at"] = iso_now()
            failure = await self._post(url, dumps(payload))
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
        if failure is None:
            logger.info("run %s: webhook delivered to %s", run_id, _shown(url))
        else:
            logger.warning("run %s: webhook to %s not delivered: %s", run_id, _shown(url), failure)

    async def _post(self, url: str, body: bytes) -> str | None:
        """POST `body` until the receiver takes it (None) or the attempts run out (why not)."""
        if self._client is None:
            # Redirects are not followed: they could lead outside the allowed prefixes.
            self._client = httpx.AsyncClient(timeout=self._attempt_seconds)
        failure = ""
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                await asyncio.sleep(min(self._backoff * 2 ** (attempt - 2), BACKOFF_MAX_SECONDS))
            try:
                async with asyncio.timeout(self._attempt_seconds):
                    response = await self._client.post(
                        url, content=body, headers={"content-type": "application/json"}
                    )
            except (httpx.TransportError, TimeoutError) as exc:
                failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.is_success:
                return None
            failure = f"it answered {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                return f"{failure} (not retried)"
        return f"{failure}, after {self._attempts} attempts"

    async def close(self, seconds: float = CLOSE_SECONDS) -> None:
        """Let deliveries under way finish, for `seconds` at most; the rest are given up."""
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if pending:
                logger.warning("%d webhooks not delivered: the server stopped", len(pending))
        if self._client is not None:
            await self._client.aclose()
