from __future__ import annotations

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import redis

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
JS = TESTS / "js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    log_dir: Path,
    cli_graph: str | None = None,
    log_level: str = "warning",
    start_timeout: float = 30,
    **settings: object,
) -> Server:
    """A real uvicorn serving the gateway on a free loopback port; settings become GATEWAY_*."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["PYTHONPATH"] = str(TESTS)
    # A test's server is stopped with its runs still going: it drains them for a second, not
    # the default's twenty (the tests of draining set their own).
    settings.setdefault("drain_seconds", 1)
    env.update({f"GATEWAY_{k.upper()}": str(v) for k, v in settings.items()})
    command = [sys.executable, "-m", "app", "serve", "--port", str(port), "--log-level", log_level]
    if cli_graph:
        command.insert(4, cli_graph)
    log = log_dir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not start in time:\n{server.output()}")


class RedisServer:
    """Debian's redis-server on a free loopback port, with its data in a temporary folder.
    Every write is fsynced to its append-only file, so a restart loses nothing."""

    def __init__(self, directory: Path, port: int | None = None, *options: str) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("redis-server is not installed (make test installs Debian's package)")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.command = [
            executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            *options,
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _cluster_port() -> int:
    """A free port whose cluster bus port (10000 above it) is free too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port + 10000)) != 0:
                return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


class RedisClusterServers:
    """Debian redis-servers as one Redis Cluster: three masters, each with `replicas`."""

    def __init__(self, directory: Path, replicas: int = 0, node_timeout_ms: int = 5000) -> None:
        self.replicas = replicas
        self.nodes = []
        for index in range(3 * (1 + replicas)):
            folder = directory / f"node{index}"
            folder.mkdir()
            port = _cluster_port()
            self.nodes.append(
                RedisServer(
                    folder,
                    port,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(folder / "nodes.conf"),
                    "--cluster-node-timeout",
                    str(node_timeout_ms),
                )
            )
        self.url = f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        replicas = ["--cluster-replicas", str(self.replicas)]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, *replicas, "--cluster-yes"],
            capture_output=True,
            check=True,
            timeout=30,
        )
        deadline = time.monotonic() + 30
        for node in self.nodes:
            while True:
                info = subprocess.run(
                    ["redis-cli", "-p", str(node.port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout
                if "cluster_state:ok" in info and "master_link_status:down" not in _replication(
                    node.port
                ):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the Redis Cluster did not come up:\n{info}")
                time.sleep(0.1)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def _clients(self) -> list[redis.Redis]:
        return [redis.Redis(port=node.port, socket_timeout=10) for node in self.nodes]

    def kill(self, index: int) -> None:
        process = self.nodes[index].process
        assert process is not None
        process.kill()
        process.wait(10)

    def owner(self, key: str) -> tuple[int, int]:
        """(the slot of `key`, the index of the node serving it), as a running node sees it."""
        running = next(n for n in self.nodes if n.process and n.process.poll() is None)
        client = redis.Redis(port=running.port, socket_timeout=10)
        slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
        for start, end, (_, port, *_rest), *_replicas in client.execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return slot, next(i for i, n in enumerate(self.nodes) if n.port == port)
        raise AssertionError(f"no node serves slot {slot}")

    def move_slot(self, slot: int, source: int, target: int) -> None:
        """Migrates one slot and its keys from node `source` to node `target`, in the order
        `redis-cli --cluster reshard` does: importing and migrating, the keys, then every
        node told the new owner (the target first, the source next)."""
        clients = self._clients()
        ids = [client.execute_command("CLUSTER", "MYID").decode() for client in clients]
        clients[target].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
        clients[source].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
        to = ("127.0.0.1", self.nodes[target].port, "", 0, 5000)
        while keys := clients[source].execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            clients[source].execute_command("MIGRATE", *to, "KEYS", *keys)
        others = [i for i in range(len(clients)) if i not in (source, target)]
        for index in (target, source, *others):
            clients[index].execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])

    def listeners(self, index: int, channel: str) -> int:
        """How many connections listen to shard channel `channel` on node `index`."""
        client = redis.Redis(port=self.nodes[index].port, socket_timeout=10)
        return int(client.execute_command("PUBSUB", "SHARDNUMSUB", channel)[1])


def _replication(port: int) -> str:
    """INFO replication of one node: a replica says whether its first sync is done."""
    return subprocess.run(
        ["redis-cli", "-p", str(port), "info", "replication"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout


class PostgresServer:
    """Debian's PostgreSQL on a free loopback port, its cluster in a temporary folder. initdb
    refuses to run as root, so as root it runs as the `postgres` user (else `nobody`)."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            pytest.fail("PostgreSQL is not installed (make test installs Debian's package)")
        self.bin = Path(found[-1]).parent
        self.user: str | None = None
        if os.geteuid() == 0:
            names = {entry.pw_name for entry in pwd.getpwall()}
            self.user = "postgres" if "postgres" in names else "nobody"
        # Not under pytest's own temporary folders: those are private to root.
        self.directory = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
        if self.user is not None:
            shutil.chown(self.directory, self.user)
        self.port = free_port()
        self.url = f"postgresql://gateway@127.0.0.1:{self.port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        data = self.directory / "data"
        with (self.directory / "postgres.log").open("ab") as log:
            subprocess.run(
                [self.bin / "initdb", "-D", data, "-U", "gateway", "--auth=trust", "-E", "UTF8"],
                user=self.user,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=120,
            )
            self.process = subprocess.Popen(
                [
                    self.bin / "postgres",
                    "-D",
                    data,
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.directory}",
                    "-c",
                    "fsync=off",
                ],
                user=self.user,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            ready = subprocess.run(
                [self.bin / "pg_isready", "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                timeout=10,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("PostgreSQL did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    postgres = PostgresServer()
    try:
        postgres.start()
        yield postgres
    finally:
        postgres.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis = RedisServer(tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    cluster = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, to stop and start."""
    redis = RedisServer(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="session", params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each end-to-end contract test runs once over each event store."""
    if request.param == "memory":
        return "memory://"
    return request.getfixturevalue("redis_server").url


@pytest.fixture(scope="session")
def checkpointer_url(request: pytest.FixtureRequest, store_url: str) -> str:
    """Threads' checkpoints: in memory beside the memory store, in PostgreSQL beside Redis."""
    if store_url.startswith("memory"):
        return "memory://"
    return request.getfixturevalue("postgres_server").url


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, store_url: str, checkpointer_url: str
) -> Iterator[Server]:
    """The demo graph with default settings, shared by the tests that change nothing."""
    srv = start_server(
        tmp_path_factory.mktemp("server"),
        heartbeat_seconds=1,
        store_url=store_url,
        checkpointer=checkpointer_url,
    )
    yield srv
    srv.stop()


Spawn = Callable[..., Server]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Starts gateways (serving the graph named, or the demo) with the given settings; each is
    killed when the test ends."""
    started: list[Server] = []

    def make(cli_graph: str | None = None, **settings: object) -> Server:
        srv = start_server(tmp_path, cli_graph, **settings)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop(signal.SIGKILL)


@pytest.fixture
def make_server(spawn: Spawn, store_url: str, checkpointer_url: str) -> Spawn:
    """`spawn`, on the store the test runs over (and its checkpointer) unless told otherwise."""

    def make(cli_graph: str | None = None, **settings: object) -> Server:
        settings.setdefault("store_url", store_url)
        if str(settings["store_url"]).partition("?")[0] == store_url:  # the usual pair
            settings.setdefault("checkpointer", checkpointer_url)
        return spawn(cli_graph, **settings)

    return make


def client_for(srv: Server) -> httpx.Client:
    return httpx.Client(base_url=srv.url, timeout=httpx.Timeout(20, connect=5))


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=httpx.Timeout(20, connect=5)) as c:
        yield c


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed (make test installs Debian's chromium package)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (whose own download is never used)."""
    # Imported here: the suite's fast subset runs without Playwright (`make test-lowest`).
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def node(package: str) -> str:
    """Node.js, once the JS packages (`package` among them) are installed."""
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed (the JS client tests need Node.js 20)")
    if not (JS / "node_modules" / package).exists():
        pytest.fail("the JS packages are not installed: run `make test` (it runs npm ci)")
    return path


def run_js(script: str, *args: str, package: str, timeout: float = 120) -> Any:
    """Runs tests/js/<script> with Node: the JSON object it prints."""
    done = subprocess.run(
        [node(package), script, *args],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)
