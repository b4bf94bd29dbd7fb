"""Wire protocols other than the gateway's own. A dialect renders a run's log for one reader and
describes runs and threads its way; it never runs a graph. Where it needs data the log lacks,
the run records it once (see translate.LANGGRAPH_MODES)."""

# Where LangGraph's server protocol is served.
LANGGRAPH_PREFIX = "/langgraph"
