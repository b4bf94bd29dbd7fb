"""The HTTP routes, by resource: thin handlers that parse, call, and return."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import metrics, pages, runs, store, threads
from app.api.pages import STATIC_DIR
from app.api.schemas import ErrorBody

__all__ = ["STATIC_DIR", "router"]

router = APIRouter()
router.include_router(pages.router)
router.include_router(runs.router)
router.include_router(threads.router)
router.include_router(store.store_router(ErrorBody))
router.include_router(metrics.router)
