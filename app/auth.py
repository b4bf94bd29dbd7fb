"""Who is asking: GATEWAY_AUTH picks how a request proves it, and every run and thread records
the principal that made it. A principal is a string; without auth it is None, everyone's.

- `none`: no credentials (local use).
- `api-keys`: `Authorization: Bearer <key>` or `X-Api-Key: <key>`, keys from GATEWAY_API_KEYS
  (`principal:key` pairs, comma-separated, or `@/path/to/file` with one pair a line).
- `package.module:callable`: your own `async def (request) -> str`, which raises to refuse (a
  JWT or OIDC check, say).
"""

from __future__ import annotations

import hmac
import importlib
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection

from app.metrics import Metrics
from app.settings import Settings
from app.store.base import RunRecord, ThreadRecord
from app.tokens import InvalidToken, StreamTokens

Check = Callable[[HTTPConnection], Awaitable[Any]]


class AuthConfigError(Exception):
    """GATEWAY_AUTH or GATEWAY_API_KEYS cannot be used as given; the message is one line."""


class Unauthorized(Exception):
    """No credentials, or wrong ones: 401. The message never repeats what was sent."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # missing | invalid | expired | refused, for the metrics


def credential(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


class Authenticator:
    def __init__(self, mode: str, check: Check | None = None) -> None:
        self.mode = mode
        self._check = check

    @property
    def enabled(self) -> bool:
        return self._check is not None

    async def principal(self, request: HTTPConnection) -> str | None:
        """The caller's principal; raises Unauthorized. None when auth is off."""
        if self._check is None:
            return None
        try:
            principal = await self._check(request)
        except Unauthorized:
            raise
        except Exception as exc:
            raise Unauthorized(f"not authenticated: {exc}", "refused") from exc
        if not isinstance(principal, str) or not principal:
            raise Unauthorized("not authenticated", "refused")
        return principal


def authenticator(settings: Settings) -> Authenticator:
    mode = settings.auth.strip()
    if mode == "none":
        return Authenticator(mode)
    if mode == "api-keys":
        return Authenticator(mode, _api_keys(_read_keys(settings.api_keys.get_secret_value())))
    if ":" in mode:
        return Authenticator(mode, _custom(mode))
    raise AuthConfigError(f"GATEWAY_AUTH {mode!r}: use none, api-keys or package.module:callable")


def _read_keys(source: str) -> dict[str, str]:
    """key → principal, from `principal:key,…` or `@file` (a pair a line, # for comments)."""
    text = source.strip()
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text()
        except OSError as exc:
            raise AuthConfigError(f"GATEWAY_API_KEYS: cannot read {path}: {exc.strerror}") from exc
    pairs = [p.strip() for line in text.splitlines() for p in line.split(",")]
    keys: dict[str, str] = {}
    for pair in pairs:
        if not pair or pair.startswith("#"):
            continue
        principal, sep, key = pair.partition(":")
        if not sep or not principal.strip() or len(key.strip()) < 16:
            raise AuthConfigError(
                "GATEWAY_API_KEYS: expected principal:key pairs, each key at least 16 characters"
            )
        keys[key.strip()] = principal.strip()
    if not keys:
        raise AuthConfigError("GATEWAY_AUTH=api-keys needs GATEWAY_API_KEYS (principal:key,…)")
    return keys


def _api_keys(keys: dict[str, str]) -> Check:
    known = [(key.encode(), principal) for key, principal in keys.items()]

    async def check(request: HTTPConnection) -> str:
        given = credential(request)
        if given is None:
            raise Unauthorized("send an API key: Authorization: Bearer <key>", "missing")
        found = None
        # Every key is compared, each in constant time: the answer takes as long for any key.
        for key, principal in known:
            if hmac.compare_digest(key, given.encode()):
                found = principal
        if found is None:
            raise Unauthorized("unknown API key", "invalid")
        return found

    return check


def _custom(reference: str) -> Check:
    module_name, _, attr = reference.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except Exception as exc:
        raise AuthConfigError(
            f"GATEWAY_AUTH {reference!r}: cannot load it: {type(exc).__name__}: {exc}"
        ) from exc
    if not inspect.iscoroutinefunction(target):
        raise AuthConfigError(
            f"GATEWAY_AUTH {reference!r}: expected an async function taking the request"
        )
    return target  # type: ignore[no-any-return]


class Access:
    """Who may do what, as the routes ask it: the caller's principal, and whether a request
    may read a run's stream (its owner's credentials, or a stream token for it or its thread).
    """

    def __init__(
        self, authenticator: Authenticator, tokens: StreamTokens, metrics: Metrics
    ) -> None:
        self.authenticator = authenticator
        self.tokens = tokens
        self.metrics = metrics

    @property
    def enabled(self) -> bool:
        return self.authenticator.enabled

    async def caller(self, request: HTTPConnection) -> str | None:
        try:
            return await self.authenticator.principal(request)
        except Unauthorized as exc:
            self.metrics.auth_failures.labels(exc.reason).inc()
            raise

    def stream_url(self, record: RunRecord) -> str:
        url = f"/runs/{record.run_id}/stream"
        if not self.enabled:
            return url
        return f"{url}?token={self.tokens.issue(f'run:{record.run_id}', record.principal)}"

    def thread_token(self, thread: ThreadRecord) -> str | None:
        if not self.enabled:
            return None
        return self.tokens.issue(f"thread:{thread.thread_id}", thread.principal)

    async def reader(self, request: HTTPConnection) -> tuple[str | None, set[str] | None]:
        """Who reads, and (with a token) the only runs or threads they may: call before
        looking the run up, so that a request with no credentials learns nothing."""
        token = request.query_params.get("token")
        if not self.enabled or token is None:
            return await self.caller(request), None
        try:
            scope, principal = self.tokens.verify(token)
        except InvalidToken as exc:
            self.metrics.auth_failures.labels(f"token {exc.reason}").inc()
            raise Unauthorized(str(exc), exc.reason) from exc
        return principal, {scope}

    @staticmethod
    def may_read(record: RunRecord, principal: str | None, scopes: set[str] | None) -> bool:
        if record.principal != principal:
            return False
        return scopes is None or bool(
            scopes & {f"run:{record.run_id}", f"thread:{record.thread_id}"}
        )
