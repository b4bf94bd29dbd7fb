"""What a run is asked to do, the state of one this process runs, and the errors that stop
one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from app.settings import DisconnectPolicy
from app.store.base import MultitaskStrategy

# Where a run's principal goes in its config's metadata, and so into its checkpoints'.
PRINCIPAL_KEY = "principal"


class AtCapacity(Exception):
    def __init__(self, limit: int, whose: str = "the gateway is") -> None:
        super().__init__(f"{whose} running its limit of {limit} runs; retry shortly")
        self.limit = limit


class WorkerLost(Exception):
    """The process running the run stopped."""


class CheckpointerRequired(Exception):
    """The graph paused at interrupt(), which needs a checkpointer to be resumed."""

    def __init__(self) -> None:
        super().__init__(
            "the graph called interrupt(), which needs a checkpointer to pause and resume: "
            "serve it with GATEWAY_CHECKPOINTER set (memory://, sqlite:///file.db or "
            "postgresql://…)"
        )


@dataclass(frozen=True)
class RunSpec:
    """What a run is asked to do: its input (or, to resume a thread, a command) and where."""

    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    on_disconnect: DisconnectPolicy | None = None
    mode: str = "events"
    thread_id: str | None = None
    strategy: MultitaskStrategy = MultitaskStrategy.REJECT
    # For a dialect: LangGraph server stream modes to record (translate.LANGGRAPH_MODES), more
    # arguments for the graph's astream (subgraphs, context, interrupt_before…), and what the
    # run's record keeps for it.
    recorded: frozenset[str] = frozenset()
    graph_options: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    principal: str | None = None


@dataclass
class ActiveRun:
    run_id: str
    policy: DisconnectPolicy
    spec: RunSpec
    principal: str | None = None
    task: asyncio.Task[None] | None = None
    grace_timer: asyncio.TimerHandle | None = None
    cancelling: bool = False
    # Set when the run may start: at once, or when the runs before it on its thread have ended.
    turn: asyncio.Event = field(default_factory=asyncio.Event)
