"""Stream tokens: a browser's EventSource cannot send headers, so a stream's URL carries a
short-lived token (`?token=`) instead, signed with GATEWAY_SECRET (HMAC-SHA256), bound to one
run or one thread, good for reading its streams and nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import orjson


class InvalidToken(Exception):
    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # invalid | expired


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StreamTokens:
    def __init__(self, secret: bytes, lifetime_seconds: float) -> None:
        self._secret = secret
        self.lifetime = lifetime_seconds

    def issue(self, scope: str, principal: str | None, now: float | None = None) -> str:
        """A token for `scope`: "run:<id>" or "thread:<id>"."""
        expires = int((now if now is not None else time.time()) + self.lifetime)
        payload = orjson.dumps({"s": scope, "p": principal, "e": expires})
        return f"{_encode(payload)}.{_encode(self._sign(payload))}"

    def verify(self, token: str, now: float | None = None) -> tuple[str, str | None]:
        """(scope, principal) of a genuine token that has not expired."""
        try:
            encoded, _, signature = token.partition(".")
            payload = _decode(encoded)
            valid = hmac.compare_digest(_decode(signature), self._sign(payload))
            claims = orjson.loads(payload) if valid else None
        except (ValueError, orjson.JSONDecodeError):
            claims = None
        if not isinstance(claims, dict) or not isinstance(claims.get("s"), str):
            raise InvalidToken("the stream token is not valid", "invalid")
        if claims.get("e", 0) < (now if now is not None else time.time()):
            raise InvalidToken("the stream token has expired", "expired")
        return claims["s"], claims.get("p")

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()
