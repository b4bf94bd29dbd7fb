"""What route handlers are given: the caller's principal, the app's settings, run manager,
access rules, and threads as the caller sees them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth import Access
from app.runs import RunManager
from app.settings import Settings
from app.threads import Threads


def get_manager(request: Request) -> RunManager:
    return request.app.state.manager  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_access(request: Request) -> Access:
    return request.app.state.access  # type: ignore[no-any-return]


async def get_caller(request: Request) -> str | None:
    """The caller's principal: 401 without valid credentials (when auth is on)."""
    return await get_access(request).caller(request)


def get_threads(request: Request, principal: Annotated[str | None, Depends(get_caller)]) -> Threads:
    return request.app.state.threads.scoped(principal)  # type: ignore[no-any-return]


Manager = Annotated[RunManager, Depends(get_manager)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AccessDep = Annotated[Access, Depends(get_access)]
Caller = Annotated[str | None, Depends(get_caller)]
ThreadsDep = Annotated[Threads, Depends(get_threads)]
