"""Log lines: the gateway's and uvicorn's, as text or (GATEWAY_LOG_FORMAT=json) one JSON object
a line. A stream token in a URL is masked before any handler sees it; keys and graph inputs
are never logged in the first place."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"]+")
# What the gateway's own lines carry (`logger.info(..., extra={...})`), in this order.
FIELDS = (
    "event",
    "run_id",
    "thread_id",
    "principal",
    "status",
    "duration_ms",
    "events",
    "after",
    "bytes_sent",
    "error",
)
LOGGERS = ("app", "uvicorn", "uvicorn.error", "uvicorn.access")


class MaskTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                TOKEN_IN_URL.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = TOKEN_IN_URL.sub(r"\1***", record.msg)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: getattr(record, k) for k in FIELDS if hasattr(record, k)})
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            client, method, path, _version, status = record.args
            line.update(client=client, method=method, path=path, status=status)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """uvicorn's look, with the gateway's fields after the message."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname + ':':<9} {record.getMessage()}"
        extras = " ".join(
            f"{k}={getattr(record, k)}" for k in FIELDS if getattr(record, k, None) is not None
        )
        if extras:
            text = f"{text} ({extras})"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return text


def configure(log_format: str, level: str | None = None) -> None:
    """By `python -m app serve` before uvicorn starts (at `level`), and again when the app
    starts, over what uvicorn set up when it was started by other means (keeping its levels)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(MaskTokens())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        if level is not None:
            logger.setLevel(level.upper())
    if level is None:
        logging.getLogger("app").setLevel(logging.getLogger("uvicorn.error").getEffectiveLevel())
