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
    """The process running the run stopped, and no other could continue it."""


class Draining(Exception):
    """This process is shutting down: it starts no more runs (another process will)."""

    def __init__(self) -> None:
        super().__init__("this server is shutting down and starts no new runs; retry shortly")


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
    # A run id the client chose (AG-UI's runId); the gateway makes one otherwise. The caller
    # checks that no run has it yet.
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """What another process needs to continue the run (everything came in as JSON)."""
        return {
            "input": self.input,
            "command": self.command,
            "config": self.config,
            "on_disconnect": self.on_disconnect,
            "mode": self.mode,
            "thread_id": self.thread_id,
            "strategy": self.strategy,
            "recorded": sorted(self.recorded),
            "graph_options": self.graph_options,
            "meta": self.meta,
            "principal": self.principal,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        policy = data.get("on_disconnect")
        return cls(
            input=data.get("input"),
            command=data.get("command"),
            config=data.get("config") or {},
            on_disconnect=DisconnectPolicy(policy) if policy else None,
            mode=data.get("mode", "events"),
            thread_id=data.get("thread_id"),
            strategy=MultitaskStrategy(data.get("strategy", MultitaskStrategy.REJECT)),
            recorded=frozenset(data.get("recorded", ())),
            graph_options=data.get("graph_options") or {},
            meta=data.get("meta") or {},
            principal=data.get("principal"),
        )


@dataclass
class ActiveRun:
    run_id: str
    policy: DisconnectPolicy
    spec: RunSpec
    principal: str | None = None
    task: asyncio.Task[None] | None = None
    grace_timer: asyncio.TimerHandle | None = None
    cancelling: bool = False
    # Set when this process stops: the run is left for another process to continue, not ended.
    handing_over: bool = False
    # Why this process continues a run another one began (run.attempt's `reason`), if it does.
    taken_over: str | None = None
    # Set when the run may start: at once, or when the runs before it on its thread have ended.
    turn: asyncio.Event = field(default_factory=asyncio.Event)
