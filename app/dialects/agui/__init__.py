"""AG-UI, the Agent-User Interaction protocol: `/ag-ui` (routes.py)."""

from app.dialects.agui.routes import router

__all__ = ["router"]
