"""Runs: RunManager starts runs as background tasks that write their log, and owns their
lifecycle. One job a module:

- spec.py      what a run is asked to do, the state of an active one, the errors
- manager.py   RunManager: start, cancel, limits, drain, shutdown
- driving.py   driving a run: the graph's events into its log, to run.end
- turns.py     a run's turn on its thread, across processes
- readers.py   a run's readers and the disconnect policy
- liveness.py  other processes: control messages, stopped processes' runs, expired threads
- takeover.py  a run another process began, continued here as a new attempt (or ended lost)
- attempts.py  what a new attempt says first: the unfinished work of the one before
- delay.py     a delayed run's start, no earlier than the instant its spec names
"""

from app.runs.manager import RunManager
from app.runs.spec import (
    PRINCIPAL_KEY,
    AtCapacity,
    CheckpointerRequired,
    Draining,
    RunSpec,
    WorkerLost,
)
from app.runs.turns import ThreadBell
from app.writer import RunWriter, iso_now

__all__ = [
    "PRINCIPAL_KEY",
    "AtCapacity",
    "CheckpointerRequired",
    "Draining",
    "RunManager",
    "RunSpec",
    "RunWriter",
    "ThreadBell",
    "WorkerLost",
    "iso_now",
]
