"""A LangGraph project's `langgraph.json`, as far as a gateway can serve it: its graphs, its
`env` and its `ui`; the rest is named, so that nothing in it is ignored unseen."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import orjson

# The keys a gateway has nothing to do with: they build LangGraph's container image.
IMAGE_KEYS = (
    "python_version",
    "node_version",
    "pip_config_file",
    "pip_installer",
    "dockerfile_lines",
    "image_distro",
    "keep_pkg_tools",
    "base_image",
    "api_version",
)
# What the gateway does itself, and the setting that says how.
INSTEAD = {
    "auth": "GATEWAY_AUTH",
    "http": "GATEWAY_CORS_ORIGINS and the gateway's own routes",
    "checkpointer": "GATEWAY_CHECKPOINTER",
    "store": "GATEWAY_GRAPH_STORE",
    "webhooks": "GATEWAY_WEBHOOK_ALLOW",
    "encryption": "nothing: the gateway does not encrypt what it keeps",
}


class ProjectError(Exception):
    """The file cannot be served; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Project:
    path: Path
    # Graph id → `package.module:attr` or `path/to/file.py:attr` (relative to the file).
    graphs: dict[str, str]
    ui: dict[str, str]
    env: dict[str, str]
    # Where its code is imported from: the file's folder and its local dependencies.
    folders: list[Path]
    not_honoured: list[str]

    @property
    def root(self) -> Path:
        return self.path.parent


def is_project(reference: str) -> bool:
    return reference.endswith(".json")


def read_project(reference: str) -> Project:
    path = Path(reference).resolve()
    try:
        config = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ProjectError(f"{reference}: cannot read it: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise ProjectError(f"{reference}: not JSON: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(config.get("graphs"), dict):
        raise ProjectError(f"{reference}: expected an object with `graphs`, as langgraph.json")
    graphs = {name: _graph_reference(reference, name, g) for name, g in config["graphs"].items()}
    if not graphs:
        raise ProjectError(f"{reference}: `graphs` names no graph")
    ui = config.get("ui") or {}
    if not isinstance(ui, dict) or not all(isinstance(v, str) for v in ui.values()):
        raise ProjectError(f"{reference}: `ui` should map graph ids to component files")
    unknown_ui = sorted(set(ui) - set(graphs))
    if unknown_ui:
        raise ProjectError(f"{reference}: `ui` names graphs it does not serve: {unknown_ui}")
    return Project(
        path=path,
        graphs=graphs,
        ui={name: str((path.parent / file).resolve()) for name, file in ui.items()},
        env=_env(reference, path.parent, config.get("env")),
        folders=[
            path.parent,
            *(
                (path.parent / d).resolve()
                for d in config.get("dependencies") or []
                if isinstance(d, str) and d.startswith(".")
            ),
        ],
        not_honoured=_not_honoured(config),
    )


def _graph_reference(reference: str, name: str, given: Any) -> str:
    # LangGraph also takes {"path": …, "description": …}.
    target = given.get("path") if isinstance(given, dict) else given
    if not isinstance(target, str) or ":" not in target:
        raise ProjectError(
            f"{reference}: graph {name!r}: expected './file.py:attr' or 'package.module:attr'"
        )
    return target


def _env(reference: str, root: Path, given: Any) -> dict[str, str]:
    if given is None:
        return {}
    if isinstance(given, dict):
        return {str(k): str(v) for k, v in given.items()}
    if not isinstance(given, str):
        raise ProjectError(f"{reference}: `env` should be a file or an object")
    file = root / given
    try:
        lines = file.read_text().splitlines()
    except OSError as exc:
        raise ProjectError(f"{reference}: env file {given!r}: {exc.strerror}") from exc
    env = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def _not_honoured(config: dict[str, Any]) -> list[str]:
    named = []
    for key in config:
        if key in INSTEAD:
            named.append(f"{key} (set {INSTEAD[key]})")
        elif key == "dependencies":
            packages = [d for d in config[key] or [] if not str(d).startswith(".")]
            if packages:
                named.append(f"dependencies {packages} (install them yourself)")
        elif key not in ("graphs", "env", "ui", "$schema", *IMAGE_KEYS):
            named.append(key)
    return named


def enter(project: Project) -> None:
    """Before its graphs are imported: its `env` (what the environment already has wins), and
    its local dependencies and folder importable, as `langgraph dev` has them."""
    for key, value in project.env.items():
        os.environ.setdefault(key, value)
    for folder in reversed(project.folders):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
