"""LangGraph's own server protocol, under /langgraph: the official SDKs and `useStream` talk to
the gateway as to a LangGraph server, with exact resume."""

from app.dialects.langgraph.app import create_langgraph_app

__all__ = ["create_langgraph_app"]
