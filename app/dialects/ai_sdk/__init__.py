"""The AI SDK's UI message stream, as `useChat` reads it: `/ai-sdk/chat` (routes.py)."""

from app.dialects.ai_sdk.routes import router

__all__ = ["router"]
