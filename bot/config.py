"""The bot's settings: one typed object read from the environment (and ``.env``) by pydantic.

Every variable is a field whose alias is its name in the environment. Each fault is one line
that names the variable, and all of them are reported at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.setting_values import (
    DEFAULT_RETENTION_DAYS,
    EMERGENCY_NUMBER_MAX,
    MAX_RATE,
    OFFICIAL_API_URL,
    PARSERS,
    REQUIRED,
    SECRET_MAX,
    TELEGRAM_RATE,
    URGENT_CONTACT_MAX,
    Listen,
    LogFormat,
    LogLevel,
    address,
    database_passwords,
    parse_database_url,
    parse_emergency_number,
    parse_log_format,
    parse_ops_listen,
    parse_send_rate,
    parse_urgent_contact,
    public_url,
)

# Names other modules import from here.
__all__ = [
    "EMERGENCY_NUMBER_MAX",
    "MAX_RATE",
    "OFFICIAL_API_URL",
    "SECRET_MAX",
    "TELEGRAM_RATE",
    "URGENT_CONTACT_MAX",
    "Listen",
    "LogFormat",
    "LogLevel",
    "Settings",
    "SettingsError",
    "database_passwords",
    "default_database_url",
    "emergency_number",
    "load_settings",
    "parse_database_url",
    "parse_log_format",
    "parse_ops_listen",
    "public_url",
    "read",
    "send_rate",
    "settings_help",
    "single",
    "urgent_contact",
]

T = TypeVar("T")


class SettingsError(ValueError):
    """Settings that cannot start the bot; the message lists every fault, one per line."""


def default_database_url(env: Mapping[str, str] | None = None) -> str:
    """``LDH_DATABASE_URL``, else an SQLite file under ``LDH_DATA_DIR`` (default ``./data``)."""
    values = os.environ if env is None else env
    if values.get("LDH_DATABASE_URL", "").strip():
        return values["LDH_DATABASE_URL"].strip()
    data_dir = Path(values.get("LDH_DATA_DIR", "").strip() or "data")
    return f"sqlite:///{data_dir / 'ldh-bot.db'}"


class Settings(BaseSettings):
    """Everything the bot reads from its environment; the token has no default on purpose."""

    # Names are matched exactly; a list is written as text (11,22), never as JSON.
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True,
                                      enable_decoding=False)

    token: str = Field(validation_alias="TELEGRAM_BOT_TOKEN",
                       description="the bot's token from @BotFather (required)")
    api_url: str = Field(OFFICIAL_API_URL, validation_alias="LDH_TELEGRAM_API_URL",
                         description="Bot API base URL, e.g. http://127.0.0.1:8081/bot")
    data_dir: Path = Field(Path("data"), validation_alias="LDH_DATA_DIR",
                           description="folder of the SQLite database when LDH_DATABASE_URL "
                           "is unset")
    database_url: str = Field("", validation_alias="LDH_DATABASE_URL", validate_default=True,
                              description="sqlite:///path.db or postgresql://user@host/db; "
                              "unset: ldh-bot.db in LDH_DATA_DIR")
    clinic_chat_id: int | None = Field(None, validation_alias="LDH_CLINIC_CHAT_ID",
                                       description="chat told of emergency and urgent "
                                       "screenings")
    staff_ids: frozenset[int] = Field(frozenset(), validation_alias="LDH_STAFF_IDS",
                                      description="comma-separated Telegram user ids of staff")
    clinic_language: str = Field("en", validation_alias="LDH_CLINIC_LANGUAGE",
                                 description="en or zh: messages to the clinic and staff")
    timezone: str = Field("UTC", validation_alias="LDH_TIMEZONE",
                          description="the clinic's time zone (reminders, appointments)")
    webhook_listen: Listen = Field(("0.0.0.0", 8443), validation_alias="LDH_WEBHOOK_LISTEN",  # noqa: S104  # a webhook listens on every interface, as the deployment expects
                                   description="HOST:PORT the webhook listens on")
    webhook_url: str | None = Field(None, validation_alias="LDH_WEBHOOK_URL",
                                    description="https:// address for Telegram: webhook mode "
                                    "instead of long polling")
    webhook_secret: str | None = Field(None, validation_alias="LDH_WEBHOOK_SECRET",
                                       description="checked on every webhook request; required "
                                       "with LDH_WEBHOOK_URL")
    retention: timedelta = Field(timedelta(days=DEFAULT_RETENTION_DAYS),
                                 validation_alias="LDH_RETENTION_DAYS",
                                 description="days an idle patient's data is kept")
    emergency_number: str | None = Field(None, validation_alias="LDH_EMERGENCY_NUMBER",
                                         description="the emergency number every emergency "
                                         "text names, e.g. 999 or 120 (required by run)")
    urgent_contact: str | None = Field(None, validation_alias="LDH_URGENT_CONTACT",
                                       description="where to go today with an urgent sign "
                                       "(unset: a generic wording)")
    send_rate: float = Field(TELEGRAM_RATE, validation_alias="LDH_SEND_RATE",
                             description="messages a second, replies and reminders together")
    ops_listen: Listen | None = Field(None, validation_alias="LDH_OPS_LISTEN",
                                      description="HOST:PORT of /healthz and /metrics, or off")
    log_format: LogFormat = Field("text", validation_alias="LDH_LOG_FORMAT",
                                  description="text or json")
    log_level: LogLevel = Field("INFO", validation_alias="LDH_LOG_LEVEL",
                                description="DEBUG, INFO, WARNING or ERROR")
    log_salt: str | None = Field(None, validation_alias="LDH_LOG_SALT",
                                 description="keeps the hashed chat references in logs stable "
                                 "across restarts (unset: new each start)")
    dialogues_dir: Path | None = Field(None, validation_alias="LDH_DIALOGUES_DIR",
                                       description="the dialogue files, for an installed "
                                       "package (unset: the project's dialogues/)")
    dashboard_listen: Listen | None = Field(None, validation_alias="LDH_DASHBOARD_LISTEN",
                                            description="HOST:PORT of the clinic's dashboard, "
                                            "or off")
    dashboard_url: str | None = Field(None, validation_alias="LDH_DASHBOARD_URL",
                                      description="http(s):// address staff open; required "
                                      "when the dashboard listens")

    def __init__(self, **values: Any) -> None:  # noqa: ANN401  # pydantic's own signature
        """Settings given in code by field name; anything not given comes from the environment."""
        aliases = {name: field.validation_alias for name, field in type(self).model_fields.items()}
        super().__init__(**{str(aliases.get(key) or key): value for key, value in values.items()})

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:  # noqa: ANN401  # whatever the source gave
        """A value of only spaces counts as unset, as an empty one does; the rest is trimmed."""
        if not isinstance(data, Mapping):
            return data
        return {key: value.strip() if isinstance(value, str) else value
                for key, value in data.items()
                if not (isinstance(value, str) and not value.strip())}

    @field_validator(*PARSERS, mode="before")
    @classmethod
    def _parse(cls, value: object, info: ValidationInfo) -> object:
        """Text from the environment is read by the field's parser; typed values pass as given."""
        if info.field_name == "database_url" and value == "":
            data_dir = info.data.get("data_dir", Path("data"))
            return f"sqlite:///{Path(data_dir) / 'ldh-bot.db'}"
        if isinstance(value, str) and info.field_name is not None:
            return PARSERS[info.field_name](value)
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _together(cls, data: Any, handler: Callable[[Any], Settings]) -> Settings:  # noqa: ANN401  # whatever the source gave
        """Faults between settings are reported with those of single settings, all at once."""
        errors: list[InitErrorDetails] = []
        settings = None
        try:
            settings = handler(data)
        except ValidationError as error:
            errors.extend(InitErrorDetails(type=PydanticCustomError("setting", _fault(e)),
                                           loc=e["loc"], input=None)
                          for e in error.errors())
        raw = data if isinstance(data, Mapping) else {}
        known = {str(e["type"]) for e in errors}
        for alias, fault in _cross_faults(raw):
            if fault in known:
                continue  # already found by a validation this one wraps
            errors.append(InitErrorDetails(type=PydanticCustomError("setting", fault),
                                           loc=(alias,), input=None))
        if errors or settings is None:
            errors.sort(key=lambda e: _ORDER.get(str(e["loc"][0]) if e["loc"] else "", 99))
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return settings

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never appear in a log line: the token, the webhook's secret, passwords."""
        found = [self.token, self.webhook_secret or "", self.log_salt or "",
                 *database_passwords(self.database_url)]
        return tuple(secret for secret in found if secret)

    def describe(self, username: str | None) -> str:
        """The start-up line: mode, bot, database (no password), dashboard and ops addresses."""
        mode = ("by long polling" if self.webhook_url is None
                else f"by webhook at {self.webhook_url} on {address(self.webhook_listen)}")
        dashboard = "off"
        if self.dashboard_listen is not None:
            dashboard = f"{address(self.dashboard_listen)} ({self.dashboard_url})"
        ops = "off" if self.ops_listen is None else address(self.ops_listen)
        bot = f"@{username}" if username else f"bot {self.token.partition(':')[0]}"
        return (f"serving {bot} {mode}; database {public_url(self.database_url)}; "
                f"dashboard {dashboard}; ops {ops}")

    def warnings(self) -> list[str]:
        """Settings that are allowed but probably not meant: said at start, once each."""
        found = []
        if self.send_rate > TELEGRAM_RATE:
            found.append(f"LDH_SEND_RATE {self.send_rate:g} is above Telegram's "
                         f"{TELEGRAM_RATE:g} messages a second: expect 429 refusals and delays")
        return found


def _fault(error: Any) -> str:  # noqa: ANN401  # pydantic's ErrorDetails
    """One line naming the variable, whatever kind of error pydantic found."""
    name = str(error["loc"][0]) if error["loc"] else "settings"
    if error["type"] == "missing":
        return REQUIRED.get(name, f"{name} is required")
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    if error["type"] == "setting":
        return str(error["msg"])
    return f"{name}: {error['msg']}"


def _cross_faults(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Faults of settings that need another one: (variable, line)."""
    def given(alias: str, name: str) -> bool:
        value = raw.get(alias, raw.get(name))
        return value is not None and not (isinstance(value, str) and value.lower() in {"", "off"})

    found = []
    if given("LDH_WEBHOOK_URL", "webhook_url") and not given("LDH_WEBHOOK_SECRET",
                                                             "webhook_secret"):
        found.append(("LDH_WEBHOOK_SECRET", "LDH_WEBHOOK_SECRET is required with LDH_WEBHOOK_URL"))
    if given("LDH_DASHBOARD_LISTEN", "dashboard_listen") and not given("LDH_DASHBOARD_URL",
                                                                       "dashboard_url"):
        found.append(("LDH_DASHBOARD_URL",
                      ("LDH_DASHBOARD_URL is required with LDH_DASHBOARD_LISTEN: the address "
                       "staff open (e.g. https://bot.example.org/)")))
    return found


# Faults are listed in the order the settings are declared.
_ORDER = {str(field.validation_alias): index
          for index, field in enumerate(Settings.model_fields.values())}


S = TypeVar("S", bound="Settings")


def read(settings_class: type[S], env: Mapping[str, str] | None = None,
         env_file: Path | None = None) -> S:
    """``settings_class`` from ``env`` alone, or from the environment and ``env_file``."""
    try:
        if env is not None:
            return settings_class.model_validate(dict(env))
        return settings_class(_env_file=env_file)
    except OSError as error:  # an unreadable .env
        msg = f"cannot read {env_file}: {error.strerror or error}"
        raise SettingsError(msg) from None
    except ValidationError as error:
        raise SettingsError("\n".join(_fault(e) for e in error.errors())) from None


def load_settings(env: Mapping[str, str] | None = None, env_file: Path | None = None) -> Settings:
    """Read and check every setting; SettingsError names each missing or wrong one."""
    return read(Settings, env, env_file)


def _one(name: str, env: Mapping[str, str] | None) -> str | None:
    """One variable as written, blank counting as unset."""
    values = os.environ if env is None else env
    return values.get(name, "").strip() or None


def single(name: str, env: Mapping[str, str] | None, parse: Callable[[str], T]) -> T | None:
    """One variable read alone by ``parse``; None when unset, SettingsError when wrong."""
    raw = _one(name, env)
    try:
        return None if raw is None else parse(raw)
    except ValueError as error:
        raise SettingsError(str(error)) from None


def emergency_number(env: Mapping[str, str] | None = None) -> str | None:
    """``LDH_EMERGENCY_NUMBER`` (e.g. 999, 112, 120), or None for "your local emergency number".

    A bad value raises SettingsError: ``chat`` and ``simulate`` read it alone.
    """
    return single("LDH_EMERGENCY_NUMBER", env, parse_emergency_number)


def urgent_contact(env: Mapping[str, str] | None = None) -> str | None:
    """``LDH_URGENT_CONTACT``, where to go today with an urgent sign; None for the generic words."""
    return single("LDH_URGENT_CONTACT", env, parse_urgent_contact)


def send_rate(env: Mapping[str, str] | None = None) -> float:
    """``LDH_SEND_RATE`` (default 30, Telegram's broadcast limit); SettingsError if invalid."""
    rate = single("LDH_SEND_RATE", env, parse_send_rate)
    return TELEGRAM_RATE if rate is None else rate


def _shown(value: object) -> str:
    """A default as an operator would write it."""
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return ":".join(str(part) for part in value)
    if isinstance(value, frozenset):
        return ",".join(str(part) for part in sorted(value)) or "none"
    if isinstance(value, timedelta):
        return str(value.days)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def settings_help(settings_class: type[Settings] = Settings) -> str:
    """Every setting, its default and its meaning, one line each, for ``--help``."""
    rows = []
    for field in settings_class.model_fields.values():
        if field.is_required():
            default = "required"
        elif field.validation_alias == "LDH_DATABASE_URL":
            default = "sqlite:///data/ldh-bot.db"
        elif field.default is None and "or off" in (field.description or ""):
            default = "off"
        else:
            default = _shown(field.get_default(call_default_factory=True))
        rows.append((str(field.validation_alias), default, field.description or ""))
    width = max(len(name) for name, _, _ in rows)
    return "\n".join(f"  {name:<{width}}  {text} (default: {default})"
                     if default != "required" else f"  {name:<{width}}  {text}"
                     for name, default, text in rows)
