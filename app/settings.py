"""The gateway's one configuration class; read from the environment only when built."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_GRAPH = "app.graphs.demo:graph"


class DisconnectPolicy(StrEnum):
    CONTINUE = "continue"
    CANCEL = "cancel"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    graph: str = Field(
        DEMO_GRAPH,
        description="package.module:attr of the graph to serve, or a langgraph.json (its graphs)",
    )
    heartbeat_seconds: float = Field(15, gt=0)
    retry_ms: int = Field(2000, ge=0)
    on_disconnect: DisconnectPolicy = DisconnectPolicy.CONTINUE
    disconnect_grace_seconds: float = Field(5, ge=0)
    max_events_per_run: int = Field(10_000, ge=1)
    run_ttl_seconds: float = Field(600, ge=0)
    max_runs: int = Field(1000, ge=1)
    max_payload_bytes: int = Field(65_536, ge=1024)
    max_request_bytes: int = Field(1_048_576, ge=1024)
    send_timeout_seconds: float = Field(30, gt=0)
    shutdown_grace_seconds: float = Field(2, ge=0)
    store_url: str = "memory://"
    checkpointer: str | None = Field(
        None, description="memory://, sqlite:///file.db, postgresql://… or none"
    )
    graph_store: str | None = Field(
        None, description="LangGraph's store (long-term memory): memory://, postgresql://… or none"
    )
    graph_store_sweep_minutes: float = Field(
        5, gt=0, description="how often the PostgreSQL store deletes expired items"
    )
    store_retry_seconds: float = Field(5, gt=0)
    cron_poll_seconds: float = Field(
        1, gt=0, description="how often each process looks for a cron whose tick has come"
    )
    cors_origins: str = Field("", description="comma-separated origins, or *")
    cors_headers: str = Field(
        "*", description="request headers those origins may send: comma-separated, or * for any"
    )
    run_lease_seconds: float = Field(10, gt=0)
    auth: str = Field("none", description="none, api-keys, or package.module:callable")
    api_keys: SecretStr = Field(SecretStr(""), description="principal:key,… or @file")
    secret: SecretStr = Field(SecretStr(""), description="signs stream tokens")
    stream_token_seconds: float = Field(3600, gt=0)
    max_runs_per_principal: int = Field(100, ge=1)
    metrics_key: SecretStr = Field(SecretStr(""), description="protects /metrics when set")
    log_format: Literal["text", "json"] = "text"
    header_timeout_seconds: float = Field(10, gt=0)
    run_max_attempts: int = Field(
        3, ge=1, description="attempts a run gets when its process dies (1: no retries)"
    )
    drain_seconds: float = Field(
        20, ge=0, description="on SIGTERM, how long running runs may finish before handover"
    )
    thread_poll_seconds: float = Field(
        0.5, gt=0, description="how often a thread's event stream looks for runs of other processes"
    )
    ui: dict[str, str] = Field(
        default_factory=dict,
        description="generative UI: graph name -> its component module (.tsx, .jsx, .ts, .js), "
        "bundled with esbuild at start-up",
    )
    webhook_allow: str = Field(
        "",
        description="comma-separated URL prefixes (http[s]://host[:port][/path]) a run's "
        "webhook may go to; empty: webhooks are refused",
    )

    @field_validator("webhook_allow")
    @classmethod
    def _webhook_prefixes(cls, value: str) -> str:
        # A bare host, or another scheme, is refused at start-up rather than matching nothing.
        for prefix in _items(value):
            try:
                split = urlsplit(prefix)
                split.port  # noqa: B018 (raises for a port that is not one)
            except ValueError:
                split = None
            if split is None or split.scheme.lower() not in ("http", "https") or not split.hostname:
                raise ValueError(f"{prefix!r} is not an http:// or https:// URL prefix")
        return value

    def cors_origin_list(self) -> list[str]:
        origins = [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]
        return ["*"] if "*" in origins else origins

    def cors_header_list(self) -> list[str]:
        headers = [h.strip() for h in self.cors_headers.split(",") if h.strip()]
        return ["*"] if "*" in headers else headers

    def webhook_allow_list(self) -> list[str]:
        return _items(self.webhook_allow)


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]
