"""The front doors' settings: keys, CORS, framing, limits, logging and Slack.

One pydantic-settings class with the core's ``ADVISOR_`` prefix and the same variable
names as ever, so no configuration changes; the core's own settings stay in
``advisor.Settings``. Built on first use behind a cached getter, never at import.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from advisor import settings_from_env


class DoorSettings(BaseSettings):
    """Settings of the HTTP API, the chat page and Slack; each is ADVISOR_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="ADVISOR_", env_file=None, extra="ignore")

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated keys; when set, /v1/* needs `Authorization: Bearer <key>`.",
    )
    admin_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated admin keys; they alone open /v1/documents (upload, list, "
        "delete). Unset, those routes are closed.",
    )
    metrics: Literal["on", "off"] = Field(
        "on", description="Serve Prometheus metrics at /metrics (`off` removes the route)."
    )
    metrics_key: SecretStr | None = Field(
        None, description="When set, /metrics needs `Authorization: Bearer <key>`."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed to call the API."
    )
    embed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to frame the chat page (CSP frame-ancestors).",
    )
    max_body_bytes: int = Field(
        262_144, ge=1024, le=16_777_216, description="Largest request body accepted, in bytes."
    )
    body_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds a client has to send a request body, from its headers; a "
        "slower one gets 408 (document uploads get ten times as long).",
    )
    rate_limit: int = Field(
        120,
        ge=0,
        description="Requests per minute per API key (per client address without keys); 0 is off.",
    )
    rate_burst: int = Field(20, ge=1, description="Requests a key may make at once before pacing.")
    rate_store: Literal["memory", "database"] = Field(
        "memory",
        description="Where requests are counted: per process, or in the store for all workers.",
    )
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = Field(
        "INFO", description="Level of the advisor's own log lines (`serve --log-level` sets it)."
    )

    slack_bot_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-…).")
    slack_signing_secret: SecretStr | None = Field(
        None, description="Slack signing secret; with the bot token it enables /slack/events."
    )
    slack_app_token: SecretStr | None = Field(
        None, description="Slack app-level token (xapp-…) for Socket Mode."
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Base URL of the Slack Web API (tests use a fake)."
    )
    slack_update_interval: float = Field(
        1.2,
        ge=0.0,
        le=30.0,
        description="Least seconds between edits of a streaming Slack reply (rate limits).",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        """Accept debug as well as DEBUG."""
        return value.upper() if isinstance(value, str) else value

    @field_validator("api_keys", "admin_keys", "cors_origins", "embed_origins", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """Accept 'a,b' or a JSON list from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value


@lru_cache
def get_door_settings() -> DoorSettings:
    """The process-wide front-door settings; ConfigError names each bad variable."""
    return settings_from_env(DoorSettings)
