"""The reminder daemon's configuration: a TOML file, every value with a default.

    [daemon]
    interval = "5m"                  # how often it looks for due reminders
    channels = ["log", "email"]      # where reminders go; default ["log"]
    person = "BTI-påminnelser"       # the name the daemon records its events under
    unit = "Søndre Land kommune"

    [delivery]
    poll = "30s"                     # how often the outbox is looked at for retries
    backoff = "1m"                   # wait after the first failure; doubles each time …
    max_backoff = "1h"               # … up to this
    max_attempts = 10                # then the daemon gives up (ReminderDeliveryFailed, no retry_at)

    [webhook]
    url = "https://varsel.kommune.no/bti"
    timeout = "10s"
    headers = { Authorization = "Bearer …" }   # or headers_env to read them from the environment

    [email]
    host = "smtp.kommune.no"
    port = 587
    starttls = true
    sender = "bti-paminnelser@kommune.no"
    username = "bti"
    password_env = "BTI_SMTP_PASSWORD"   # the password is read from this variable, never the file
    language = "nb"

    [email.addresses]
    "Kari Lærer" = "kari.laerer@kommune.no"

Durations are a number and a unit: `ms`, `s`, `m`, `h`, `d` (`"90s"`, `"5m"`, `"1.5h"`).
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ledger import messages
from ledger.errors import LedgerError
from ledger.problems import problem_words

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}

ChannelKind = Literal["log", "webhook", "email"]


def parse_duration(value: object) -> timedelta:
    """`"5m"` → 5 minutes; a timedelta or a number of seconds passes through."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if match is None:
        raise PydanticCustomError(
            "duration_unreadable", "not a duration: {value} (write e.g. '30s', '5m', '1h', '2d')",
            {"value": repr(value)},
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise PydanticCustomError("duration_not_positive", "must be longer than zero")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DaemonSettings(_Settings):
    """When the daemon looks, where reminders go, and whose name it records them under."""

    interval: PositiveDuration = timedelta(minutes=5)
    channels: tuple[ChannelKind, ...] = Field(default=("log",), min_length=1)
    person: str = Field(default="BTI-påminnelser", min_length=1, max_length=200)
    unit: str = Field(default="kommune", min_length=1, max_length=200)
    service: str = Field(default="kommune", pattern=r"^[a-z][a-z0-9_-]{0,39}$")

    @model_validator(mode="after")
    def _each_channel_once(self) -> Self:
        if len(set(self.channels)) != len(self.channels):
            raise PydanticCustomError("channel_listed_twice", "channels: each channel once")
        return self


class DeliverySettings(_Settings):
    """How often the outbox is looked at, and how failed deliveries are retried."""

    poll: PositiveDuration = timedelta(seconds=30)
    backoff: PositiveDuration = timedelta(minutes=1)
    max_backoff: PositiveDuration = timedelta(hours=1)
    max_attempts: int = Field(default=10, ge=1, le=100)

    def retry_delay(self, failed_attempts: int) -> timedelta:
        """How long to wait after the `failed_attempts`-th failure: doubling, capped."""
        delay: timedelta = self.backoff * (2 ** min(max(failed_attempts - 1, 0), 30))
        return min(delay, self.max_backoff)


class WebhookSettings(_Settings):
    """Where the webhook channel POSTs reminders."""

    url: str = Field(pattern=r"^https?://\S+$")
    timeout: Duration = timedelta(seconds=10)
    headers: dict[str, str] = Field(default_factory=dict)
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="Header name → environment variable holding its value."
    )


class EmailSettings(_Settings):
    """The SMTP server and the address of each person the daemon may remind."""

    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None
    timeout: Duration = timedelta(seconds=10)
    language: Literal["nb", "en"] = "nb"
    addresses: dict[str, Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(
        default_factory=dict
    )


class DaemonConfig(_Settings):
    """The whole configuration file."""

    daemon: DaemonSettings = DaemonSettings()
    delivery: DeliverySettings = DeliverySettings()
    webhook: WebhookSettings | None = None
    email: EmailSettings | None = None

    @model_validator(mode="after")
    def _channels_have_settings(self) -> Self:
        for kind in ("webhook", "email"):
            if kind in self.daemon.channels and getattr(self, kind) is None:
                raise PydanticCustomError(
                    "channel_without_section",
                    "channel '{channel}' is listed but there is no [{channel}] section",
                    {"channel": kind},
                )
        return self

    def with_interval(self, interval: timedelta | None) -> DaemonConfig:
        """The same configuration with another interval (from `--interval`)."""
        if interval is None:
            return self
        return self.model_copy(
            update={"daemon": self.daemon.model_copy(update={"interval": _positive(interval)})}
        )


def _problems(error: ValidationError) -> str:
    """`section.key: what is wrong; …`, in the catalogue's words (no key: the whole file)."""
    return "; ".join(
        ": ".join(filter(None, (".".join(str(p) for p in e["loc"]), problem_words(e))))
        for e in error.errors(include_url=False)
    )


def parse_config(text: str, origin: str) -> DaemonConfig:
    """A configuration from TOML text; `origin` names it in errors."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LedgerError(
            "daemon_config_invalid", path=origin,
            problems=messages.text("problem.toml_invalid", detail=str(error)),
        ) from None
    try:
        return DaemonConfig.model_validate(data)
    except ValidationError as error:
        raise LedgerError("daemon_config_invalid", path=origin, problems=_problems(error)) from None


def load_config(path: Path | None) -> DaemonConfig:
    """The configuration in `path`, or every default (the log channel) when there is none."""
    if path is None:
        return DaemonConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise LedgerError("daemon_config_unreadable", path=path, reason=reason) from None
    return parse_config(text, str(path))
