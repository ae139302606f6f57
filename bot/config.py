"""Typed settings from environment variables, validated at start with one clear line each."""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

OFFICIAL_API_URL = "https://api.telegram.org/bot"
SECRET_MAX = 256  # Telegram's limit for a webhook's secret token
# How long data of an idle patient, and delivered messages, are kept (LDH_RETENTION_DAYS).
DEFAULT_RETENTION_DAYS = 365


class SettingsError(ValueError):
    """Settings that cannot start the bot; the message lists every fault, one per line."""


@dataclass(frozen=True)
class Settings:
    """What the bot needs to run; the token has no default on purpose."""

    token: str
    api_url: str
    database_url: str
    clinic_chat_id: int | None
    clinic_language: str
    staff_ids: frozenset[int]
    timezone: str
    webhook_url: str | None
    webhook_listen: tuple[str, int]
    webhook_secret: str | None
    retention: timedelta = timedelta(days=DEFAULT_RETENTION_DAYS)
    emergency_number: str | None = None


def default_database_url(env: Mapping[str, str] | None = None) -> str:
    """``LDH_DATABASE_URL``, else an SQLite file under ``LDH_DATA_DIR`` (default ``./data``)."""
    values = os.environ if env is None else env
    if values.get("LDH_DATABASE_URL"):
        return values["LDH_DATABASE_URL"]
    data_dir = Path(values.get("LDH_DATA_DIR") or "data")
    return f"sqlite:///{data_dir / 'ldh-bot.db'}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; SettingsError names each missing or wrong one."""
    values = os.environ if env is None else env
    faults: list[str] = []

    token = values.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        faults.append("TELEGRAM_BOT_TOKEN is required (the token @BotFather gave you)")
    elif ":" not in token:
        faults.append("TELEGRAM_BOT_TOKEN does not look like a bot token (digits:letters)")

    api_url = values.get("LDH_TELEGRAM_API_URL", "").strip() or OFFICIAL_API_URL
    if not api_url.startswith(("http://", "https://")):
        faults.append(f"LDH_TELEGRAM_API_URL must start with http:// or https://, not {api_url!r}")

    database_url = default_database_url(values)
    faults.extend(_database_faults(database_url))
    clinic = _integer(values, "LDH_CLINIC_CHAT_ID", faults)
    staff = _integers(values, "LDH_STAFF_IDS", faults)
    clinic_language = values.get("LDH_CLINIC_LANGUAGE", "").strip() or "en"
    if clinic_language not in {"en", "zh"}:
        faults.append(f"LDH_CLINIC_LANGUAGE must be en or zh, not {clinic_language!r}")

    timezone = values.get("LDH_TIMEZONE", "").strip() or "UTC"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        faults.append(f"LDH_TIMEZONE {timezone!r} is not a known time zone (e.g. Asia/Shanghai)")

    webhook_url = values.get("LDH_WEBHOOK_URL", "").strip() or None
    secret = values.get("LDH_WEBHOOK_SECRET", "").strip() or None
    # A webhook listens on every interface by default, as the deployment expects.
    listen = _listen(values.get("LDH_WEBHOOK_LISTEN", "").strip() or "0.0.0.0:8443", faults)
    if webhook_url is not None:
        faults.extend(_webhook_faults(webhook_url, secret))

    retention = _retention(values, faults)
    emergency = emergency_number(values, faults)

    if faults:
        raise SettingsError("\n".join(faults))
    return Settings(
        token=token,
        api_url=api_url,
        database_url=database_url,
        clinic_chat_id=clinic,
        clinic_language=clinic_language,
        staff_ids=staff,
        timezone=timezone,
        webhook_url=webhook_url,
        webhook_listen=listen,
        webhook_secret=secret,
        retention=retention,
        emergency_number=emergency,
    )


def _webhook_faults(url: str, secret: str | None) -> list[str]:
    """What is wrong with a webhook's address and secret token, if anything."""
    faults = []
    if not url.startswith("https://"):
        faults.append("LDH_WEBHOOK_URL must be an https:// address Telegram can reach")
    if secret is None:
        faults.append("LDH_WEBHOOK_SECRET is required with LDH_WEBHOOK_URL")
    elif not all(c.isalnum() or c in "_-" for c in secret) or len(secret) > SECRET_MAX:
        faults.append("LDH_WEBHOOK_SECRET must be 1-256 characters: letters, digits, _ and -")
    return faults


def _database_faults(url: str) -> list[str]:
    """What is wrong with a database URL; only its scheme is named: the rest may hold a secret."""
    if url.startswith(("postgresql://", "postgres://")):
        return []
    if url.startswith("sqlite:///") and url != "sqlite:///":
        return []
    scheme = url.partition(":")[0]
    fault = "LDH_DATABASE_URL must be sqlite:///path.db or postgresql://user@host/db, not a "
    return [f"{fault}{scheme!r} URL"]


def _retention(values: Mapping[str, str], faults: list[str]) -> timedelta:
    """``LDH_RETENTION_DAYS``: days an idle patient's data and sent messages are kept."""
    raw = values.get("LDH_RETENTION_DAYS", "").strip()
    if not raw:
        return timedelta(days=DEFAULT_RETENTION_DAYS)
    if not raw.isdigit() or not 0 < int(raw) <= 36500:  # noqa: PLR2004  # a century at most
        faults.append(f"LDH_RETENTION_DAYS must be a whole number of days from 1, not {raw!r}")
        return timedelta(days=DEFAULT_RETENTION_DAYS)
    return timedelta(days=int(raw))


def _integer(values: Mapping[str, str], name: str, faults: list[str]) -> int | None:
    raw = values.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        faults.append(f"{name} must be a whole number (a Telegram chat id), not {raw!r}")
        return None


def _integers(values: Mapping[str, str], name: str, faults: list[str]) -> frozenset[int]:
    raw = values.get(name, "").strip()
    found: set[int] = set()
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            found.add(int(part))
        except ValueError:
            faults.append(f"{name} must be comma-separated Telegram user ids; {part!r} is not one")
    return frozenset(found)


def _listen(raw: str, faults: list[str]) -> tuple[str, int]:
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:  # noqa: PLR2004  # TCP port range
        faults.append(f"LDH_WEBHOOK_LISTEN must be HOST:PORT, not {raw!r}")
        return ("0.0.0.0", 8443)  # noqa: S104  # the documented default, only used alongside a fault
    return (host, int(port))


EMERGENCY_NUMBER_MAX = 20  # long enough for any national number with its spaces


def emergency_number(env: Mapping[str, str] | None = None, faults: list[str] | None = None
                     ) -> str | None:
    """``LDH_EMERGENCY_NUMBER`` (e.g. 999, 112, 120), or None to say "your local emergency number".

    Without ``faults`` a bad value raises SettingsError; with it, the fault is added there.
    """
    values = os.environ if env is None else env
    raw = " ".join(values.get("LDH_EMERGENCY_NUMBER", "").split())
    if not raw:
        return None
    allowed = set("0123456789+-() ")
    if set(raw) <= allowed and any(c.isdigit() for c in raw) and len(raw) <= EMERGENCY_NUMBER_MAX:
        return raw
    fault = (f"LDH_EMERGENCY_NUMBER must be a phone number (digits, spaces, + - and brackets, "
             f"at most {EMERGENCY_NUMBER_MAX} characters), not {raw!r}")
    if faults is None:
        raise SettingsError(fault)
    faults.append(fault)
    return None


URGENT_CONTACT_MAX = 200  # a name and a number or two, e.g. "your GP practice or NHS 111"


def urgent_contact(env: Mapping[str, str] | None = None) -> str | None:
    """``LDH_URGENT_CONTACT``: where a patient goes today with an urgent sign, or None if unset.

    Unset, the texts say "your doctor or an urgent care service". A value too long to be a
    contact raises SettingsError rather than being cut, so a patient never gets half a number.
    """
    values = os.environ if env is None else env
    raw = " ".join(values.get("LDH_URGENT_CONTACT", "").split())
    if not raw:
        return None
    if len(raw) > URGENT_CONTACT_MAX:
        msg = f"LDH_URGENT_CONTACT must be at most {URGENT_CONTACT_MAX} characters"
        raise SettingsError(msg)
    return raw
