"""Every error the API answers with: a status and a JSON body `{"error", "message"}`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.auth import Unauthorized
from app.dialects import LANGGRAPH_PREFIX
from app.payload import dumps
from app.runs import AtCapacity, Draining
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


# RFC 6750: a 401 names the scheme to use.
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gateway"'}


async def unauthorized(request: Request, exc: Exception) -> Response:
    return JSONBody(_body("unauthorized", str(exc)), 401, headers=CHALLENGE)


async def at_capacity(request: Request, exc: Exception) -> Response:
    return JSONBody(_body("at_capacity", str(exc)), 429, headers={"Retry-After": "1"})


async def draining(request: Request, exc: Exception) -> Response:
    return JSONBody(_body("draining", str(exc)), 503, headers={"Retry-After": "1"})


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    in_body = any(error.get("loc", ("",))[0] == "body" for error in errors)
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid')}" if first else "invalid request"
    details = jsonable_encoder(errors, exclude={"input", "ctx", "url"})
    return JSONBody(_body("invalid_body" if in_body else "invalid_request", message, details), 422)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith(f"{LANGGRAPH_PREFIX}/"):
        # A path the LangGraph app's mount does not take (one holding a newline, say) still
        # gets LangGraph's error shape.
        return JSONBody({"detail": str(exc.detail)}, exc.status_code, headers=exc.headers)
    if exc.status_code == 413:
        limit = request.app.state.settings.max_request_bytes
        return JSONBody(_body("body_too_large", f"the body is larger than {limit} bytes"), 413)
    return JSONBody(_body("http_error", str(exc.detail)), exc.status_code, headers=exc.headers)


HANDLERS = {
    ApiError: api_error,
    StoreUnavailable: store_unavailable,
    AtCapacity: at_capacity,
    Draining: draining,
    Unauthorized: unauthorized,
    RequestValidationError: validation_error,
    StarletteHTTPException: http_error,
}
