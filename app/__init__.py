"""Server-Sent Events gateway for LangGraph."""
