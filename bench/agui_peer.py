"""ag-ui-langgraph, AG-UI's own LangGraph adapter, serving the bench graph at /ag-ui (with
checkpoints in memory, which its threads need): the peer of the gateway's AG-UI dialect."""

from __future__ import annotations

from ag_ui_langgraph import LangGraphAgent, add_langgraph_fastapi_endpoint
from fastapi import FastAPI
from langgraph.checkpoint.memory import InMemorySaver

from bench.graphs import build

app = FastAPI()
agent = LangGraphAgent(name="bench", graph=build().compile(checkpointer=InMemorySaver()))
add_langgraph_fastapi_endpoint(app, agent, "/ag-ui")
