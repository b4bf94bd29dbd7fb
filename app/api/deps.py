"""What route handlers are given: the app's settings, run manager and threads."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.runs import RunManager
from app.settings import Settings
from app.threads import Threads


def get_manager(request: Request) -> RunManager:
    return request.app.state.manager  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_threads(request: Request) -> Threads:
    return request.app.state.threads  # type: ignore[no-any-return]


Manager = Annotated[RunManager, Depends(get_manager)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ThreadsDep = Annotated[Threads, Depends(get_threads)]
