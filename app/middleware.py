"""What wraps every request, the LangGraph routes' included: the body limit and CORS. Their
options come from the settings, which are read when the app starts (not when it is built), so
the stack is put together on the first request."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings

# Browsers on another origin may read these from the gateway's answers (the LangGraph SDK
# finds its run through Content-Location and reconnects through Location).
CORS_RESPONSE_HEADERS = (
    "Content-Location",
    "Location",
    "Retry-After",
    "X-Pagination-Next",
    "X-Pagination-Total",
)


class BodyLimit:
    """413 for a body over `max_bytes`, whether it says so (Content-Length) or not (chunks):
    raised where the app reads it, so each app answers in its own error shape."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        too_large = declared.isdigit() and int(declared) > self.max_bytes
        received = 0

        async def limited() -> Message:
            nonlocal received
            if too_large:
                raise HTTPException(413)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413)
            return message

        await self.app(scope, limited, send)


def build_stack(app: ASGIApp, settings: Settings) -> ASGIApp:
    stack: ASGIApp = BodyLimit(app, settings.max_request_bytes)
    origins = settings.cors_origin_list()
    if origins:
        # Credentials (cookies, Authorization from a browser) only with origins named: a
        # wildcard would hand them to any site.
        stack = CORSMiddleware(
            stack,
            allow_origins=origins,
            allow_credentials=origins != ["*"],
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            # "*" answers a preflight with the headers it asks for.
            allow_headers=settings.cors_header_list(),
            expose_headers=list(CORS_RESPONSE_HEADERS),
            max_age=600,
        )
    return stack


class Configured:
    """The middleware stack of build_stack, made from the running app's settings."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if self._stack is None:
            self._stack = build_stack(self.app, scope["app"].state.settings)
        await self._stack(scope, receive, send)
