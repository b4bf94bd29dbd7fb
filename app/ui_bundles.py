"""Generative UI: each graph's component module (GATEWAY_UI) bundled for LangGraph's
LoadExternalComponent, by the esbuild of that module's own project (ui_bundler.mjs beside this
file), at start-up. A bundle is kept in CACHE_DIR, one JSON file per module, with the hash of
every file that went into it: while none of them changed, starting again needs no Node.js."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("uvicorn.error")

BUNDLER = Path(__file__).resolve().parent / "ui_bundler.mjs"
CACHE_DIR = Path(".ui-bundles")
BUILD_TIMEOUT_SECONDS = 120
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class UiBuildError(Exception):
    """A declared component module cannot be bundled; the message is one line."""


@dataclass(frozen=True)
class Bundle:
    """What the page loads for one graph: file name -> contents (a script, maybe a style),
    and each file's ETag."""

    files: dict[str, bytes]
    etags: dict[str, str]

    @classmethod
    def of(cls, files: dict[str, str]) -> Bundle:
        contents = {name: text.encode() for name, text in files.items()}
        return cls(contents, {name: _digest(data)[:32] for name, data in contents.items()})


def global_name(graph_id: str) -> str:
    """The script's global, as LangGraph names it: the snippet calls its `render`."""
    return "__LGUI_" + re.sub(r"[^a-zA-Z0-9]", "_", graph_id)


async def build_bundles(ui: dict[str, str], cache_dir: Path = CACHE_DIR) -> dict[str, Bundle]:
    names = list(ui)
    built = await asyncio.gather(*(build_bundle(name, ui[name], cache_dir) for name in names))
    return dict(zip(names, built, strict=True))


async def build_bundle(graph_id: str, source: str, cache_dir: Path = CACHE_DIR) -> Bundle:
    path, cache, key, cached = await asyncio.to_thread(_lookup, graph_id, source, cache_dir)
    if cached is not None:
        logger.info("ui %r: %s (cached)", graph_id, source)
        return cached
    output = await _run_bundler(graph_id, path)
    files: dict[str, str] = output["files"]
    await asyncio.to_thread(_store, cache, key, output["inputs"], files)
    logger.info("ui %r: %s (bundled)", graph_id, source)
    return Bundle.of(files)


def _lookup(
    graph_id: str, source: str, cache_dir: Path
) -> tuple[Path, Path, dict[str, str], Bundle | None]:
    """The module's path, its cache file, what the cache must be of, and the cached bundle
    if none of its inputs changed."""
    path = Path(source).resolve()
    if not path.is_file():
        raise UiBuildError(f"GATEWAY_UI {graph_id!r}: {source} is not a file")
    cache = cache_dir / f"{_digest(repr((graph_id, str(path))).encode())[:24]}.json"
    key = {"graph": graph_id, "source": str(path), "bundler": _digest(BUNDLER.read_bytes())}
    return path, cache, key, _read_cache(cache, key)


def _store(cache: Path, key: dict[str, str], inputs: list[str], files: dict[str, str]) -> None:
    digests = {p: _file_digest(Path(p)) for p in inputs}
    _write_cache(cache, {**key, "inputs": digests, "files": files})


async def _run_bundler(graph_id: str, path: Path) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise UiBuildError(f"GATEWAY_UI {graph_id!r}: bundling {path.name} needs Node.js (no node)")
    process = await asyncio.create_subprocess_exec(
        node,
        str(BUNDLER),
        global_name(graph_id),
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), BUILD_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise UiBuildError(
            f"GATEWAY_UI {graph_id!r}: bundling took over {BUILD_TIMEOUT_SECONDS} s"
        ) from None
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines() or ["esbuild failed"]
        raise UiBuildError(f"GATEWAY_UI {graph_id!r}: {lines[0]}")
    return json.loads(out)  # type: ignore[no-any-return]


def _read_cache(cache: Path, key: dict[str, str]) -> Bundle | None:
    try:
        entry = json.loads(cache.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or any(entry.get(k) != v for k, v in key.items()):
        return None
    inputs = entry.get("inputs") or {}
    if any(_file_digest(Path(p)) != digest for p, digest in inputs.items()):
        return None
    return Bundle.of(entry["files"])


def _write_cache(cache: Path, entry: dict[str, Any]) -> None:
    # Whole or not at all (the processes of one gateway may start together): a temporary file,
    # then renamed over the old one. A cache that cannot be written only costs the next start.
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=cache.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(entry, out)
            os.replace(temporary, cache)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("ui bundles are not cached in %s: %s", cache.parent, exc)


def _file_digest(path: Path) -> str | None:
    try:
        return _digest(path.read_bytes())
    except OSError:
        return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
