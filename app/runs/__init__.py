"""Runs: RunManager starts runs as background tasks that write their log, and owns their
lifecycle. One job a module:

- spec.py      what a run is asked to do, the state of an active one, the errors
- manager.py   RunManager: start, cancel, limits, shutdown
- driving.py   driving a run: the graph's events into its log, to run.end
- turns.py     a run's turn on its thread, across processes
- readers.py   a run's readers and the disconnect policy
- liveness.py  other processes: control messages, runs of a stopped process, expired threads
"""

from app.runs.manager import RunManager
from app.runs.spec import PRINCIPAL_KEY, AtCapacity, CheckpointerRequired, RunSpec, WorkerLost
from app.runs.turns import ThreadBell
from app.writer import RunWriter, iso_now

__all__ = [
    "PRINCIPAL_KEY",
    "AtCapacity",
    "CheckpointerRequired",
    "RunManager",
    "RunSpec",
    "RunWriter",
    "ThreadBell",
    "WorkerLost",
    "iso_now",
]
