"""The settings of operations, and the one check of every setting ``ldh-bot run`` reads."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from bot.config import Settings, SettingsError, load_settings
from bot.ops.logs import LOG_FORMATS, LogFormat
from bot.reminders.settings import send_rate

T = TypeVar("T")


@dataclass(frozen=True)
class OpsSettings:
    """Where /healthz and /metrics are served (None: nowhere), and how log lines look."""

    listen: tuple[str, int] | None
    log_format: LogFormat


@dataclass(frozen=True)
class RunSettings:
    """Everything ``ldh-bot run`` reads from the environment, checked together."""

    bot: Settings
    send_rate: float
    ops: OpsSettings

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never appear in a log line: the token, the webhook's secret, passwords."""
        found = [self.bot.token, self.bot.webhook_secret or ""]
        found.extend(database_passwords(self.bot.database_url))
        return tuple(secret for secret in found if secret)


def ops_settings(env: Mapping[str, str] | None = None) -> OpsSettings:
    """``LDH_OPS_LISTEN`` (default off) and ``LDH_LOG_FORMAT``; SettingsError names each fault."""
    values = os.environ if env is None else env
    faults: list[str] = []
    raw_listen = values.get("LDH_OPS_LISTEN", "").strip()
    listen = None if raw_listen.lower() in {"", "off"} else _listen(raw_listen, faults)
    log_format = values.get("LDH_LOG_FORMAT", "").strip().lower() or "text"
    if log_format not in LOG_FORMATS:
        faults.append(f"LDH_LOG_FORMAT must be text or json, not {log_format!r}")
    if faults:
        raise SettingsError("\n".join(faults))
    return OpsSettings(listen=listen, log_format="json" if log_format == "json" else "text")


def read_settings(env: Mapping[str, str] | None = None) -> RunSettings:
    """Every setting of ``ldh-bot run`` at once; SettingsError lists all faults, one per line."""
    faults: list[str] = []
    bot = _gather(load_settings, env, faults)
    rate = _gather(send_rate, env, faults)
    ops = _gather(ops_settings, env, faults)
    if bot is None or rate is None or ops is None:
        raise SettingsError("\n".join(faults))
    return RunSettings(bot=bot, send_rate=rate, ops=ops)


def _gather(
    read: Callable[[Mapping[str, str] | None], T], env: Mapping[str, str] | None, faults: list[str]
) -> T | None:
    """What ``read`` found, or None with its faults added to ``faults``."""
    try:
        return read(env)
    except SettingsError as error:
        faults.extend(str(error).splitlines())
        return None


def database_passwords(url: str) -> list[str]:
    """Passwords written in a database URL, in its user part or as a ``password=`` parameter."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
    except ValueError:
        return []
    found.extend(parse_qs(parts.query).get("password", []))
    return [password for password in found if password]


def _listen(raw: str, faults: list[str]) -> tuple[str, int] | None:
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:  # noqa: PLR2004  # TCP ports
        faults.append(f"LDH_OPS_LISTEN must be HOST:PORT (e.g. 127.0.0.1:9090) or off, not {raw!r}")
        return None
    return (host, int(port))
