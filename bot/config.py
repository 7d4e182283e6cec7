"""The one Settings object, read once at start from the environment or a ``.env`` file.

Variable names are the contract of DESIGN.md section 2 (plus a few ``VPNBOT_TASK_*`` and ``VPNBOT_SIM_*`` knobs
documented in the README). :func:`load_settings` turns any problem into :class:`ConfigError`, whose text is one
line naming the variable and what to do.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_ENDPOINTS = {"v2": "https://vpc.api.qcloud.com/v2/index.php", "v3": "https://vpc.tencentcloudapi.com/"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_APPROVER = re.compile(r"^[UWS][A-Z0-9]{2,}$")


class ConfigError(Exception):
    """A setting is missing or malformed; the text is one line naming the variable and what to do."""


def parse_duration(value: Any) -> timedelta:
    """``90``, ``90s``, ``30m``, ``24h`` or ``2d`` (a number alone is seconds)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("write a duration such as 90s, 30m, 24h or 2d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])


Duration = Annotated[timedelta, NoDecode]


class Settings(BaseSettings):
    """Everything vpnbot reads from its environment. Secrets are SecretStr: they never print."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    tencentcloud_secret_id: str | None = None
    tencentcloud_secret_key: SecretStr | None = None
    tencentcloud_session_token: SecretStr | None = None
    tencentcloud_region: str = "ap-guangzhou"
    vpnbot_cloud_api: Literal["v2", "v3"] = "v2"
    vpnbot_cloud_endpoint: str | None = None
    vpnbot_signature_method: Literal["HmacSHA256", "HmacSHA1"] = "HmacSHA256"
    vpnbot_cloud_timeout: Duration = timedelta(seconds=10)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    vpnbot_approvers: Annotated[tuple[str, ...], NoDecode] = ()
    vpnbot_allow_self_approval: bool = False
    vpnbot_approval_channel: str | None = None
    vpnbot_request_ttl: Duration = timedelta(hours=24)
    vpnbot_state_path: Path = Path("./vpnbot-state.sqlite")
    vpnbot_store_key: SecretStr | None = None
    vpnbot_max_open_per_user: int = Field(default=3, ge=1)

    vpnbot_task_poll_initial: Duration = timedelta(seconds=2)
    vpnbot_task_poll_max: Duration = timedelta(seconds=30)
    vpnbot_task_deadline: Duration = timedelta(minutes=30)
    vpnbot_settle_window: Duration = timedelta(minutes=2)
    vpnbot_crypto_policy: Literal["warn", "block"] = "warn"
    vpnbot_watch: Duration = timedelta(minutes=5)
    vpnbot_watch_interval: Duration = timedelta(seconds=15)
    vpnbot_peer_vendor: str | None = None
    vpnbot_peer_interface: str = Field(default="eth0", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9/._:-]+$")
    vpnbot_sim_task_seconds: float | None = Field(default=None, ge=0)
    vpnbot_sim_world: Path | None = None

    @field_validator("vpnbot_approvers", mode="before")
    @classmethod
    def _split_approvers(cls, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [item for item in re.split(r"[\s,]+", value) if item]
        ids = tuple(str(item) for item in value)
        bad = [item for item in ids if not _APPROVER.match(item)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a Slack user id (U...) or user group id (S...)")
        return ids

    @field_validator(
        "vpnbot_request_ttl",
        "vpnbot_cloud_timeout",
        "vpnbot_task_poll_initial",
        "vpnbot_task_poll_max",
        "vpnbot_task_deadline",
        "vpnbot_settle_window",
        "vpnbot_watch_interval",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        duration = parse_duration(value)
        if duration.total_seconds() <= 0:
            raise ValueError("must be longer than zero")
        return duration

    @field_validator("vpnbot_watch", mode="before")
    @classmethod
    def _watch(cls, value: Any) -> timedelta:
        """``0`` turns the watch off; otherwise a duration like the others."""
        duration = parse_duration(value)
        if duration.total_seconds() < 0:
            raise ValueError("must not be negative (0 turns the watch off)")
        return duration

    @field_validator("vpnbot_peer_vendor")
    @classmethod
    def _vendor(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9._ -]{1,40}(/[A-Za-z0-9._ -]{1,40}){0,2}", value):
            raise ValueError("write the vendor as VENDOR[/PLATFORM[/VERSION]], e.g. cisco/ios")
        return value or None

    @field_validator("vpnbot_cloud_endpoint", "slack_api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def cloud_endpoint(self) -> str:
        """``VPNBOT_CLOUD_ENDPOINT``, or the default of the API in use (``VPNBOT_CLOUD_API``)."""
        return self.vpnbot_cloud_endpoint or DEFAULT_ENDPOINTS[self.vpnbot_cloud_api]


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once; raises ConfigError with one line naming the first bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        variable = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{variable}: {reason}; fix it in the environment or .env") from None
