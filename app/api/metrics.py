"""GET /metrics: Prometheus' text format; with GATEWAY_METRICS_KEY set, only for that key."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.auth import Unauthorized, credential

router = APIRouter()


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        401: {"description": "GATEWAY_METRICS_KEY is set and the request does not carry it"},
    },
)
async def metrics(request: Request) -> Response:
    """Runs, streams, resumes, heartbeats, store errors and auth failures (see the README)."""
    key = request.app.state.settings.metrics_key.get_secret_value()
    given = credential(request) or ""
    if key and not hmac.compare_digest(given.encode(), key.encode()):
        raise Unauthorized("send the metrics key: Authorization: Bearer <key>", "metrics")
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
