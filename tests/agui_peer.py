"""ag-ui-langgraph, AG-UI's own LangGraph adapter, serving the demo graph (with checkpoints in
memory, as it needs for threads): the peer the AG-UI side-by-side tests compare with.
`uvicorn agui_peer:app` from the tests folder."""

from __future__ import annotations

from ag_ui_langgraph import LangGraphAgent, add_langgraph_fastapi_endpoint
from fastapi import FastAPI
from langgraph.checkpoint.memory import InMemorySaver

from app.graphs.demo import build_demo_graph

app = FastAPI()
agent = LangGraphAgent(
    name="demo", graph=build_demo_graph().compile(name="demo", checkpointer=InMemorySaver())
)
add_langgraph_fastapi_endpoint(app, agent, "/ag-ui")
