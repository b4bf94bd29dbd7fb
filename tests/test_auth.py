"""Authentication and ownership: API keys, a custom callable, stream tokens for EventSource,
other principals' runs and threads answering 404, and the limit per principal."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import ROOT, TESTS, Server, free_port, start_server
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError
from sse import FAST, read_events, wait_status

from app import cli
from app.settings import Settings

ANN = "key-ann-0123456789abcdef"
BOB = "key-bob-0123456789abcdef"
CID = "key-cid-0123456789abcdef"
KEYS = f"ann:{ANN},bob:{BOB},cid:{CID}"
SECRET = "a test secret, not a real one"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("keyed"),
        auth="api-keys",
        api_keys=KEYS,
        secret=SECRET,
        log_level="info",
        max_runs_per_principal=3,
        stream_token_seconds=3,
    )
    yield srv
    srv.stop()


def as_(srv: Server, key: str | None, header: str = "authorization") -> httpx.Client:
    headers = {}
    if key is not None:
        headers = {header: f"Bearer {key}" if header == "authorization" else key}
    return httpx.Client(base_url=srv.url, headers=headers, timeout=20)


def test_no_credentials_no_data(keyed: Server) -> None:
    with as_(keyed, None) as anon, as_(keyed, "not-a-key-at-all-0000") as wrong:
        for client in (anon, wrong):
            for method, path in (
                ("GET", "/graph"),
                ("POST", "/runs"),
                ("GET", "/runs/abc"),
                ("GET", "/runs/abc/stream"),
                ("GET", "/stream?topic=x"),
                ("POST", "/threads"),
                ("GET", "/threads/abc"),
                ("POST", "/langgraph/threads/search"),
                ("GET", "/langgraph/assistants/demo"),
            ):
                response = client.request(method, path, json={"input": {}})
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["www-authenticate"] == 'Bearer realm="gateway"'
        assert set(anon.post("/runs", json={"input": {}}).json()) == {"error", "message"}
        assert set(anon.get("/langgraph/threads/x").json()) == {"detail"}
        assert anon.get("/healthz").status_code == 200 and anon.get("/").status_code == 200
        # As on LangGraph's server, what a client checks before it logs in needs no key.
        assert anon.get("/langgraph/info").status_code == 200
        assert anon.get("/langgraph/ok").json() == {"ok": True, "services": {}}


def test_either_header_carries_the_key(keyed: Server) -> None:
    with as_(keyed, ANN) as bearer, as_(keyed, ANN, header="x-api-key") as api_key:
        assert bearer.get("/graph").status_code == 200
        assert api_key.get("/graph").status_code == 200


def test_another_principal_s_runs_and_threads_do_not_exist(keyed: Server) -> None:
    with as_(keyed, ANN) as ann, as_(keyed, BOB) as bob:
        run = ann.post("/runs", json={"input": {**FAST, "delay": 0.3}}).json()
        thread = ann.post("/threads", json={}).json()["thread_id"]
        for path in (
            f"/runs/{run['run_id']}",
            f"/runs/{run['run_id']}/stream",
            f"/threads/{thread}",
            f"/threads/{thread}/state",
            f"/threads/{thread}/history",
            f"/threads/{thread}/runs",
        ):
            assert bob.get(path).status_code == 404, path
            assert ann.get(path).status_code == 200, path
        assert bob.post(f"/runs/{run['run_id']}/cancel").status_code == 404
        assert bob.delete(f"/threads/{thread}").status_code == 404
        refused = bob.post(f"/threads/{thread}/runs", json={"input": FAST})
        assert refused.status_code == 404
        created = bob.post(
            f"/threads/{thread}/runs", json={"input": FAST, "if_not_exists": "create"}
        )
        assert created.status_code == 404  # not a way into ann's thread
        resumed = bob.get("/stream", headers={"Last-Event-ID": f"{run['run_id']}.1"})
        assert resumed.status_code == 404
        assert wait_status(ann, run["run_id"], "success")["status"] == "success"


def test_the_langgraph_routes_keep_principals_apart(keyed: Server) -> None:
    async def flow() -> None:
        ann = get_client(url=f"{keyed.url}/langgraph", api_key=ANN)
        bob = get_client(url=f"{keyed.url}/langgraph", api_key=BOB)
        try:
            thread = await ann.threads.create(metadata={"who": "ann"})
            await ann.runs.wait(thread["thread_id"], "demo", input=FAST)
            with pytest.raises(NotFoundError):
                await bob.threads.get(thread["thread_id"])
            with pytest.raises(NotFoundError):
                await bob.threads.get_state(thread["thread_id"])
            assert await bob.threads.search(metadata={"who": "ann"}) == []
            assert len(await ann.threads.search(metadata={"who": "ann"})) == 1
            runs = await ann.runs.list(thread["thread_id"])
            with pytest.raises(NotFoundError):
                await bob.runs.get(thread["thread_id"], runs[0]["run_id"])
        finally:
            await ann.aclose()
            await bob.aclose()

    import asyncio

    asyncio.run(flow())


def test_a_stream_token_reads_one_run_and_nothing_else(keyed: Server) -> None:
    with as_(keyed, ANN) as ann, httpx.Client(base_url=keyed.url, timeout=20) as browser:
        first = ann.post("/runs", json={"input": FAST}).json()
        second = ann.post("/runs", json={"input": FAST}).json()
        assert "?token=" in first["stream_url"]
        events = read_events(browser, first["stream_url"])  # no headers, as EventSource
        assert events[-1].name == "run.end"
        token = first["stream_url"].split("?token=")[1]
        stolen = browser.get(f"/runs/{second['run_id']}/stream?token={token}")
        assert stolen.status_code == 404
        assert browser.get(f"/runs/{first['run_id']}?token={token}").status_code == 401
        assert (
            browser.post("/runs", params={"token": token}, json={"input": FAST}).status_code == 401
        )
        forged = browser.get(f"/runs/{first['run_id']}/stream?token={token[:-2]}xx")
        assert forged.status_code == 401
        # A resume by EventSource (Last-Event-ID) is checked again, and refused once expired.
        middle = {"Last-Event-ID": events[2].id}
        assert len(read_events(browser, first["stream_url"], headers=middle)) == len(events) - 3
        time.sleep(3.5)
        expired = browser.get(first["stream_url"], headers=middle)
        assert expired.status_code == 401 and "expired" in expired.json()["message"]


def test_a_thread_token_reads_that_thread_s_runs(keyed: Server) -> None:
    with as_(keyed, ANN) as ann, httpx.Client(base_url=keyed.url, timeout=20) as browser:
        thread = ann.post("/threads", json={}).json()
        token = thread["stream_token"]
        run = ann.post(f"/threads/{thread['thread_id']}/runs", json={"input": FAST}).json()
        events = read_events(browser, f"/runs/{run['run_id']}/stream?token={token}")
        assert events[-1].data["status"] == "success"
        other = ann.post("/runs", json={"input": FAST}).json()
        assert browser.get(f"/runs/{other['run_id']}/stream?token={token}").status_code == 404


def test_one_principal_cannot_take_every_run(keyed: Server) -> None:
    with as_(keyed, CID) as cid, as_(keyed, BOB) as bob:
        slow = {"input": {**FAST, "delay": 1}}
        mine = [cid.post("/runs", json=slow) for _ in range(3)]
        assert [r.status_code for r in mine] == [201, 201, 201]
        refused = cid.post("/runs", json=slow)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert "cid is running its limit of 3 runs" in refused.json()["message"]
        assert bob.post("/runs", json={"input": FAST}).status_code == 201
        for created in mine:
            cid.post(f"/runs/{created.json()['run_id']}/cancel")


def test_tokens_and_keys_never_reach_the_log(keyed: Server) -> None:
    with as_(keyed, ANN) as ann, httpx.Client(base_url=keyed.url, timeout=20) as browser:
        run = ann.post("/runs", json={"input": FAST}).json()
        read_events(browser, run["stream_url"])
    token = run["stream_url"].split("?token=")[1]
    time.sleep(0.5)
    log = keyed.output()
    assert "token=***" in log and token not in log and ANN not in log


def test_a_custom_callable_decides(make_server) -> None:
    srv: Server = make_server(auth="sample_auth:check")
    with httpx.Client(base_url=srv.url, timeout=20) as client:
        alice = {"authorization": "Bearer token-for-alice"}
        carol = {"authorization": "Bearer token-for-carol"}
        run = client.post("/runs", json={"input": FAST}, headers=alice).json()
        assert client.get(f"/runs/{run['run_id']}", headers=alice).status_code == 200
        assert client.get(f"/runs/{run['run_id']}", headers=carol).status_code == 404
        refused = client.get("/graph", headers={"authorization": "Bearer nope"})
        assert refused.status_code == 401
        assert refused.json()["message"] == "not authenticated: unknown bearer token"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATEWAY_AUTH": "api-keys"}, "GATEWAY_AUTH=api-keys needs GATEWAY_API_KEYS"),
        ({"GATEWAY_AUTH": "api-keys", "GATEWAY_API_KEYS": "ann:short"}, "at least 16"),
        ({"GATEWAY_AUTH": "api-keys", "GATEWAY_API_KEYS": "@/nonexistent"}, "cannot read"),
        ({"GATEWAY_AUTH": "sample_auth:not_async"}, "expected an async function"),
        ({"GATEWAY_AUTH": "sample_auth:missing"}, "cannot load it"),
        ({"GATEWAY_AUTH": "passwords"}, "use none, api-keys or package.module:callable"),
    ],
)
def test_a_bad_auth_setting_is_one_clear_line(env: dict[str, str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(TESTS), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line


@pytest.mark.parametrize(
    ("host", "exposed"),
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("0.0.0.0", True)],
)
def test_serving_beyond_loopback_without_auth_is_warned_of(host: str, exposed: bool) -> None:
    assert (cli.exposed_without_auth(host, Settings()) is not None) is exposed
    assert cli.exposed_without_auth(host, Settings(auth="api-keys")) is None
