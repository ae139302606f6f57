"""What ``ldh-bot run`` reads: the bot's settings, with the emergency number required."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from bot.config import (
    Listen,
    LogFormat,
    Settings,
    SettingsError,
    database_passwords,
    parse_log_format,
    parse_ops_listen,
    read,
    single,
)

__all__ = [
    "OpsSettings",
    "RunSettings",
    "SettingsError",
    "database_passwords",
    "ops_settings",
    "read_settings",
]


@dataclass(frozen=True)
class OpsSettings:
    """Where /healthz and /metrics are served (None: nowhere), and how log lines look."""

    listen: Listen | None
    log_format: LogFormat


class RunSettings(Settings):
    """Settings of ``ldh-bot run``: a bot that serves patients must name the emergency number."""

    # Required here, optional for chat and simulate.
    emergency_number: str = Field(
        validation_alias="LDH_EMERGENCY_NUMBER",
        description="the emergency number every emergency text names, e.g. 999 or 120 "
        "(required)")

    @property
    def bot(self) -> Settings:
        """The settings every part of the bot reads (the same object)."""
        return self

    @property
    def ops(self) -> OpsSettings:
        """The operations part: the ops listener and the log format."""
        return OpsSettings(listen=self.ops_listen, log_format=self.log_format)


def read_settings(env: Mapping[str, str] | None = None,
                  env_file: Path | None = None) -> RunSettings:
    """Every setting of ``ldh-bot run`` at once; SettingsError lists all faults, one per line."""
    return read(RunSettings, env, env_file)


def ops_settings(env: Mapping[str, str] | None = None) -> OpsSettings:
    """``LDH_OPS_LISTEN`` (default off) and ``LDH_LOG_FORMAT``; SettingsError names each fault."""
    faults: list[str] = []
    listen: Listen | None = None
    log_format: LogFormat = "text"
    try:
        listen = single("LDH_OPS_LISTEN", env, parse_ops_listen)
    except SettingsError as error:
        faults.append(str(error))
    try:
        log_format = single("LDH_LOG_FORMAT", env, parse_log_format) or "text"
    except SettingsError as error:
        faults.append(str(error))
    if faults:
        raise SettingsError("\n".join(faults))
    return OpsSettings(listen=listen, log_format=log_format)
