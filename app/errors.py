"""Every error the API answers with: a status and a JSON body `{"error", "message"}`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.payload import dumps
from app.runs import AtCapacity
from app.store.base import StoreUnavailable


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


def not_found(run_id: str) -> ApiError:
    return ApiError(404, "run_not_found", f"no run {run_id!r} (unknown, or expired)")


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONBody(_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers)


async def store_unavailable(request: Request, exc: Exception) -> Response:
    return JSONBody(_body("store_unavailable", str(exc)), 503, headers={"Retry-After": "2"})


async def at_capacity(request: Request, exc: Exception) -> Response:
    return JSONBody(_body("at_capacity", str(exc)), 429, headers={"Retry-After": "1"})


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONBody(
        _body("invalid_request", "the request does not match the API", exc.errors()), 422
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return JSONBody(_body("http_error", str(exc.detail)), exc.status_code, headers=exc.headers)


HANDLERS = {
    ApiError: api_error,
    StoreUnavailable: store_unavailable,
    AtCapacity: at_capacity,
    RequestValidationError: validation_error,
    StarletteHTTPException: http_error,
}
