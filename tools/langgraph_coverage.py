"""How much of LangGraph's server API the gateway answers under /langgraph: LangGraph's own
OpenAPI document (shipped with `langgraph-api`, a test dependency) against the gateway's.

`python -m tools.langgraph_coverage` prints the counts and a table of every operation:
supported, differs (and how) or absent (and why); `--check README.md` fails when the README's
counts or table are not the ones it finds. Operations are compared by method and path, whatever
their parameters are called.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

# What is absent, and why (kept beside the code, so the table says it).
ABSENT_BECAUSE = {
    "/a2a/": (
        "the A2A protocol (tasks and messages over JSON-RPC): a dialect of its own, not built yet"
    ),
    "/docs": "LangGraph's API reference page: the gateway serves /langgraph/openapi.json",
    "/metrics": "the gateway's metrics are at /metrics (Prometheus), outside /langgraph",
}
# Where an operation answered here differs from LangGraph's server (the README's sections say
# more); every other answered operation takes the same bodies and gives the same shapes.
DIFFERS_BECAUSE = {
    "POST /assistants": "a new assistant is made over a served graph; the served graphs are the "
    "system assistants, read-only (409)",
    "PATCH /assistants/{}": "a system assistant (a served graph) is read-only: 409",
    "DELETE /assistants/{}": "a system assistant (a served graph) is read-only: 409",
    "POST /mcp/": "stateless, JSON answers, no Mcp-Session-Id",
    "GET /mcp/": "405: no stream to open (stateless MCP)",
    "DELETE /mcp/": "405: no session to end (stateless MCP)",
    "GET /ok": "check_db asks only stores outside the process; check_db other than 0 or 1 is 422",
    "POST /runs/cancel": "by status: the runs on the caller's threads",
    "POST /store/items/search": "query (semantic search) is refused: no embedding index",
    "PUT /store/items": "ttl only with the PostgreSQL store (the in-memory one refuses it: 422)",
    "POST /threads": "ttl is refused (422)",
    "POST /threads/prune": "keep_latest is refused: LangGraph's checkpointers cannot prune history",
    "POST /threads/search": "extract is refused (422)",
    "POST /threads/{}/commands": "state.* and input.inject answer unknown_command",
    "POST /threads/{}/runs/{}/cancel": "action=rollback with runs queued behind it is 409",
    "GET /threads/{}/stream": "the state_update mode is accepted and sends nothing",
}
RUN_CREATION = ("/runs", "/runs/batch", "/runs/stream", "/runs/wait")
for route in (
    *RUN_CREATION,
    "/threads/{}/runs",
    "/threads/{}/runs/stream",
    "/threads/{}/runs/wait",
):
    DIFFERS_BECAUSE[f"POST {route}"] = (
        "feedback_keys is refused (422); a resume that answers no pending interrupt is 409"
        + ("; the stream mode tools is refused (422)" if route.endswith("/stream") else "")
    )
COUNTS = "LangGraph's API document has {theirs} operations; the gateway answers {covered} of them"

Operation = tuple[str, str]


def langgraph_document() -> dict[str, Any]:
    """LangGraph's server's own document, installed with it (where its validation reads it)."""
    import langgraph_api

    path = Path(langgraph_api.__file__).resolve().parent.parent / "openapi.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def gateway_document() -> dict[str, Any]:
    from app.dialects.langgraph import create_langgraph_app

    return create_langgraph_app().openapi()


def operations(document: dict[str, Any]) -> set[Operation]:
    methods = ("get", "post", "put", "patch", "delete")
    return {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in methods
    }


def why(path: str) -> str:
    best = max((p for p in ABSENT_BECAUSE if path.startswith(p)), key=len, default=None)
    return ABSENT_BECAUSE[best] if best else "not done"


def report() -> tuple[str, str]:
    theirs = operations(langgraph_document())
    ours = operations(gateway_document())
    covered = theirs & ours
    counts = COUNTS.format(theirs=len(theirs), covered=len(covered))
    rows = ["| operation | here | how, or why not |", "|---|---|---|"]
    for method, path in sorted(theirs, key=lambda op: (op[1], op[0])):
        operation = f"{method} {path}"
        if (method, path) not in ours:
            rows.append(f"| `{operation}` | absent | {why(path)} |")
        elif operation in DIFFERS_BECAUSE:
            rows.append(f"| `{operation}` | differs | {DIFFERS_BECAUSE[operation]} |")
        else:
            rows.append(f"| `{operation}` | supported | |")
    return counts, "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.langgraph_coverage")
    parser.add_argument("--check", metavar="README", help="fail unless it states these counts")
    args = parser.parse_args(argv)
    counts, table = report()
    if args.check:
        text = Path(args.check).read_text()
        if counts not in text or table not in text:
            print(f"{args.check} is out of date; it should say:\n\n{counts}.\n\n{table}")
            return 1
        return 0
    print(f"{counts}.\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
