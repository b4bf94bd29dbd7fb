"""Tables for the terminal and PNG plots for the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display here
import matplotlib.pyplot as plt

HIDDEN = {"latencies"}


def table(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns and k not in HIDDEN]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-|-".join("-" * w for w in widths))
    lines += [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def plot(report: dict[str, Any], out: Path) -> list[Path]:
    written = []
    scenarios = report["scenarios"]
    if rows := [r for r in scenarios.get("overhead", []) if "events/s" in r]:
        fig, ax = plt.subplots(figsize=(8, 3.6))
        names = [r["contender"] for r in rows]
        ax.barh(names, [r["events/s"] for r in rows], color="#2f6fed")
        for i, r in enumerate(rows):
            ax.text(r["events/s"], i, f"  {r['events/s']:,} ({r['ratio']}x)", va="center")
        ax.invert_yaxis()
        ax.set_xlabel("events per second, one run streaming tokens (higher is better)")
        ax.set_xlim(0, max(r["events/s"] for r in rows) * 1.35)
        fig.tight_layout()
        written.append(_save(fig, out / "overhead.png"))
    if rows := [r for r in scenarios.get("fanout", []) if r.get("latencies")]:
        fig, ax = plt.subplots(figsize=(8, 3.6))
        for r in rows:
            values = sorted(r["latencies"])
            ax.plot(
                values,
                [i / len(values) for i in range(len(values))],
                label=f"{r['contender']}, {r['subscribers']} subscribers",
            )
        ax.set_xlabel("delivery latency, event ts → client receipt (ms)")
        ax.set_ylabel("fraction of token events")
        ax.legend()
        fig.tight_layout()
        written.append(_save(fig, out / "fanout-latency.png"))
    if rows := [r for r in scenarios.get("first_event", []) if r.get("p50 ms") is not None]:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        names = [r["contender"] for r in rows]
        ax.barh(names, [r["p50 ms"] for r in rows], color="#1f9d55", label="p50")
        ax.scatter([r["p95 ms"] for r in rows], names, color="#d92d20", label="p95", zorder=3)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("request → first graph event (ms, log scale; lower is better)")
        ax.legend()
        fig.tight_layout()
        written.append(_save(fig, out / "first-event.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
