"""Starting and stopping the contenders, each its own process on a free loopback port."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
# Where each serves LangGraph's thread protocol, and what useStream subscribes to.
THREAD_PROTOCOL = {"gateway-v2": "/langgraph", "langgraph-dev-v2": ""}
# AG-UI (scenarios 1 and 2): the gateway's dialect, and AG-UI's own LangGraph adapter.
AGUI = ("gateway-agui", "agui-adapter")
# The AI SDK's UI message stream (scenarios 1 and 2): the gateway's dialect, and the AI SDK's
# own stream writer in Node (the same parts written directly, no graph behind them).
AI_SDK = ("gateway-ai-sdk", "ai-sdk-writer")
THREAD_CHANNELS = ["values", "checkpoints", "lifecycle", "input", "messages", "tools"]
_ROOT_LIFECYCLE = b'"method":"lifecycle","params":{"namespace":[],'
_TERMINAL = (b'"event":"completed"', b'"event":"failed"', b'"event":"interrupted"')


def run_ended(frame: bytes) -> bool:
    """The root's terminal lifecycle event: the run is over."""
    return _ROOT_LIFECYCLE in frame and any(word in frame for word in _TERMINAL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Contender:
    name: str
    # gateway | gateway-variant, gateway-thread (scenarios 1 and 2 only) | langgraph-dev | naive
    # | ceiling | gateway-v2, langgraph-dev-v2 (LangGraph's thread protocol: scenarios 1 to 3)
    # | gateway-agui, agui-adapter (AG-UI: scenarios 1 and 2)
    # | gateway-ai-sdk, ai-sdk-writer (the AI SDK's UI message stream: scenarios 1 and 2)
    kind: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self.ps = psutil.Process(self.process.pid)

    def request(self, input_: dict[str, Any]) -> dict[str, Any]:
        """How this contender starts a run of the bench graph and streams it."""
        if self.kind == "langgraph-dev":
            body = {"assistant_id": "bench", "input": input_, "stream_mode": "events"}
            return {"method": "POST", "path": "/runs/stream", "body": body}
        if self.kind == "ceiling":
            return {"path": f"/stream?events={input_.get('tokens', 10)}"}
        if self.kind in THREAD_PROTOCOL:
            # A client of LangGraph's thread protocol: a thread it names, its events stream,
            # and a run.start command; the stream stays open, so the client stops at the
            # run's terminal lifecycle event.
            thread = f"{THREAD_PROTOCOL[self.kind]}/threads/{uuid.uuid4().hex}"
            command = {
                "id": 1,
                "method": "run.start",
                "params": {"assistant_id": "bench", "input": input_},
            }
            return {
                "method": "POST",
                "path": f"{thread}/stream/events",
                "body": {"channels": THREAD_CHANNELS},
                "start": (f"{thread}/commands", command),
                "stop_when": run_ended,
            }
        if self.kind in AGUI:
            # HttpAgent's request: a thread and run of the client's naming, the input as state.
            body = {
                "threadId": uuid.uuid4().hex,
                "runId": uuid.uuid4().hex,
                "messages": [],
                "state": input_,
                "tools": [],
                "context": [],
                "forwardedProps": {},
            }
            # The adapter also passes LangGraph's own events on (RAW): not AG-UI's, not counted.
            return {"method": "POST", "path": "/ag-ui", "body": body, "skip_data": b'"type":"RAW"'}
        if self.kind in AI_SDK:
            # useChat's request: a chat of its own naming and its first message.
            message = {"id": "m1", "role": "user", "parts": [{"type": "text", "text": "bench"}]}
            body = {
                "id": uuid.uuid4().hex,
                "messages": [message],
                "trigger": "submit-message",
                "input": input_,
            }
            path = "/ai-sdk/chat" if self.kind == "gateway-ai-sdk" else "/api/chat"
            return {"method": "POST", "path": path, "body": body}
        if self.kind == "gateway-thread":
            # Each run on a thread made for it by the same request: a conversation's first run.
            body = {"input": input_, "thread_id": uuid.uuid4().hex, "if_not_exists": "create"}
            return {"method": "POST", "path": "/stream", "body": body}
        query = urllib.parse.quote(json.dumps(input_, separators=(",", ":")))
        return {"path": f"/stream?input={query}"}

    def processes(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def rss(self) -> int:
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start in time")


def _spawn(
    name: str,
    kind: str,
    command: list[str],
    env: dict[str, str],
    ready: str,
    logs: Path,
    port: int | None = None,
) -> Contender:
    port = port or free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**_base_env(), **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}{ready}", process, log)
    except BaseException:
        # Not a contender yet, so nobody else would stop it.
        process.kill()
        process.wait(5)
        raise
    return Contender(name, kind, port, process, log)


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["PYTHONPATH"] = str(ROOT)
    env["LANGGRAPH_NO_ANALYTICS"] = "1"  # langgraph dev: no telemetry, nothing off this machine
    env["LANGSMITH_TRACING"] = "false"
    return env


def gateway(
    name: str,
    logs: Path,
    store_url: str = "memory://",
    kind: str = "gateway",
    loop: str = "auto",
    workers: int = 1,
    port: int | None = None,
    **settings: Any,
) -> Contender:
    """A gateway on a free port, or on `port` (a restarted process taking its place)."""
    env = {
        "GATEWAY_STORE_URL": store_url,
        "GATEWAY_MAX_RUNS": "10000",
        **{f"GATEWAY_{k.upper()}": str(v) for k, v in settings.items()},
    }
    command = [
        sys.executable,
        "-m",
        "app",
        "serve",
        "bench.graphs:graph",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        "--loop",
        loop,
        "--workers",
        str(workers),
    ]
    return _spawn(name, kind, command, env, "/healthz", logs, port)


def langgraph_dev(logs: Path, jobs: int = 1000) -> Contender:
    command = [
        str(Path(sys.executable).with_name("langgraph")),
        "dev",
        "--config",
        "bench/langgraph.json",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--n-jobs-per-worker",
        str(jobs),
        "--server-log-level",
        "WARNING",
    ]
    return _spawn("langgraph dev", "langgraph-dev", command, {}, "/ok", logs)


def plain_app(name: str, kind: str, module: str, logs: Path) -> Contender:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        module,
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
    ]
    return _spawn(name, kind, command, {}, "/openapi.json", logs)


def ai_sdk_writer(logs: Path) -> Contender:
    """The AI SDK's own stream writer (tests/js/ai_sdk_writer.mjs), on Node."""
    node = shutil.which("node")
    script = ROOT / "tests" / "js" / "ai_sdk_writer.mjs"
    if node is None or not (script.parent / "node_modules" / "ai").exists():
        raise RuntimeError("the AI SDK writer needs Node and `make js` (tests/js/node_modules)")
    command = [node, str(script), "{port}"]
    return _spawn("AI SDK writer (Node)", "ai-sdk-writer", command, {}, "/healthz", logs)


class RedisServer:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.port = free_port()
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        # Append-only file, fsync every second: the setting the README recommends.
        self.command = [
            executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.dir,
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def halt(self) -> None:
        """Stop the server, keeping its data for `start` (a restart)."""
        self.process.terminate()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    """Debian's PostgreSQL, its cluster in a temporary folder. initdb refuses to run as root,
    so as root it runs as the `postgres` user (else `nobody`)."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL is not installed (make test installs Debian's package)")
        bin_dir = Path(found[-1]).parent
        user = None
        if os.geteuid() == 0:
            user = "postgres" if "postgres" in {e.pw_name for e in pwd.getpwall()} else "nobody"
        self.dir = tempfile.mkdtemp(prefix="bench-pg-")
        if user is not None:
            shutil.chown(self.dir, user)
        self.port = free_port()
        self.url = f"postgresql://gateway@127.0.0.1:{self.port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None
        data = Path(self.dir) / "data"
        try:
            with (Path(self.dir) / "postgres.log").open("ab") as log:
                subprocess.run(
                    [bin_dir / "initdb", "-D", data, "-U", "gateway", "--auth=trust", "-E", "UTF8"],
                    user=user,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=120,
                )
                # No fsync: the bench measures the gateway, not this machine's disk.
                self.process = subprocess.Popen(
                    [
                        *(bin_dir / "postgres", "-D", data, "-p", str(self.port)),
                        *("-c", "listen_addresses=127.0.0.1"),
                        *("-c", f"unix_socket_directories={self.dir}", "-c", "fsync=off"),
                    ],
                    user=user,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            ready = [bin_dir / "pg_isready", "-h", "127.0.0.1", "-p", str(self.port)]
            deadline = time.monotonic() + 30
            while subprocess.run(ready, capture_output=True, timeout=10).returncode != 0:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("PostgreSQL did not start")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
