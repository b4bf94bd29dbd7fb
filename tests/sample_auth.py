"""A custom GATEWAY_AUTH callable, as a team would plug in its own check (JWT, OIDC…)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

USERS = {"token-for-alice": "alice", "token-for-carol": "carol"}


async def check(request: HTTPConnection) -> str:
    header = request.headers.get("authorization", "")
    user = USERS.get(header.removeprefix("Bearer "))
    if user is None:
        raise PermissionError("unknown bearer token")
    return user


def not_async(request: HTTPConnection) -> str:
    return "nobody"
