"""What each setting may be: text from the environment in, a typed value out.

A parser raises ValueError with one line that names the variable; ``bot.config`` gathers
those lines, all at once.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

OFFICIAL_API_URL = "https://api.telegram.org/bot"
SECRET_MAX = 256  # Telegram's limit for a webhook's secret token
# How long data of an idle patient, and delivered messages, are kept (LDH_RETENTION_DAYS).
DEFAULT_RETENTION_DAYS = 365
RETENTION_MAX_DAYS = 36500  # a century at most: a longer value is a typo
EMERGENCY_NUMBER_MAX = 20  # long enough for any national number with its spaces
URGENT_CONTACT_MAX = 200  # a place and a phone number, on one line
TELEGRAM_RATE = 30.0  # messages a second Telegram allows a bot overall
MAX_RATE = 1000.0  # far above any Telegram limit; a typo such as 3000 is caught
PORT_MAX = 65535
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]
Listen = tuple[str, int]


def _token(raw: str) -> str:
    if ":" not in raw:
        msg = "TELEGRAM_BOT_TOKEN does not look like a bot token (digits:letters)"
        raise ValueError(msg)
    return raw


def _api_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        msg = f"LDH_TELEGRAM_API_URL must start with http:// or https://, not {raw!r}"
        raise ValueError(msg)
    return raw


def parse_database_url(url: str) -> str:
    """The URL as given; only its scheme is named in a fault: the rest may hold a password."""
    if url.startswith(("postgresql://", "postgres://")):
        return url
    if url.startswith("sqlite:///") and url != "sqlite:///":
        return url
    scheme = url.partition(":")[0]
    msg = ("LDH_DATABASE_URL must be sqlite:///path.db or postgresql://user@host/db, not a "
           f"{scheme!r} URL")
    raise ValueError(msg)


def _chat_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        msg = f"LDH_CLINIC_CHAT_ID must be a whole number (a Telegram chat id), not {raw!r}"
        raise ValueError(msg) from None


def _user_ids(raw: str) -> frozenset[int]:
    found: set[int] = set()
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            found.add(int(part))
        except ValueError:
            msg = f"LDH_STAFF_IDS must be comma-separated Telegram user ids; {part!r} is not one"
            raise ValueError(msg) from None
    return frozenset(found)


def _language(raw: str) -> str:
    if raw not in {"en", "zh"}:
        msg = f"LDH_CLINIC_LANGUAGE must be en or zh, not {raw!r}"
        raise ValueError(msg)
    return raw


def _timezone(raw: str) -> str:
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        msg = f"LDH_TIMEZONE {raw!r} is not a known time zone (e.g. Asia/Shanghai)"
        raise ValueError(msg) from None
    return raw


def _listen(name: str, example: str) -> Callable[[str], Listen]:
    """A parser of HOST:PORT for the variable ``name``."""
    def parse(raw: str) -> Listen:
        host, _, port = raw.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) <= PORT_MAX:
            msg = f"{name} must be HOST:PORT (e.g. {example}), not {raw!r}"
            raise ValueError(msg)
        return (host, int(port))
    return parse


def _optional_listen(name: str, example: str) -> Callable[[str], Listen | None]:
    """HOST:PORT, or ``off`` for not listening at all."""
    parse = _listen(name, example)

    def parse_or_off(raw: str) -> Listen | None:
        if raw.lower() == "off":
            return None
        try:
            return parse(raw)
        except ValueError:
            msg = f"{name} must be HOST:PORT (e.g. {example}) or off, not {raw!r}"
            raise ValueError(msg) from None
    return parse_or_off


def _webhook_url(raw: str) -> str:
    if not raw.startswith("https://"):
        msg = "LDH_WEBHOOK_URL must be an https:// address Telegram can reach"
        raise ValueError(msg)
    return raw


def _webhook_secret(raw: str) -> str:
    if not all(c.isalnum() or c in "_-" for c in raw) or len(raw) > SECRET_MAX:
        msg = "LDH_WEBHOOK_SECRET must be 1-256 characters: letters, digits, _ and -"
        raise ValueError(msg)
    return raw


def _retention(raw: str) -> timedelta:
    if not raw.isdigit() or not 0 < int(raw) <= RETENTION_MAX_DAYS:
        msg = f"LDH_RETENTION_DAYS must be a whole number of days from 1, not {raw!r}"
        raise ValueError(msg)
    return timedelta(days=int(raw))


def parse_emergency_number(raw: str) -> str:
    """``LDH_EMERGENCY_NUMBER``: a phone number, its spaces folded."""
    number = " ".join(raw.split())
    allowed = set("0123456789+-() ")
    if set(number) <= allowed and any(c.isdigit() for c in number) and (
            len(number) <= EMERGENCY_NUMBER_MAX):
        return number
    msg = (f"LDH_EMERGENCY_NUMBER must be a phone number (digits, spaces, + - and brackets, "
           f"at most {EMERGENCY_NUMBER_MAX} characters), not {number!r}")
    raise ValueError(msg)


def parse_urgent_contact(raw: str) -> str:
    """``LDH_URGENT_CONTACT``: where to go today, on one line."""
    contact = " ".join(raw.split())
    # Shown inside patients' messages: no markup, nothing that could pass for a command.
    if len(contact) <= URGENT_CONTACT_MAX and contact.isprintable() and not set(contact) & set(
            "<>{}"):
        return contact
    msg = (f"LDH_URGENT_CONTACT must be where to go today, one line of at most "
           f"{URGENT_CONTACT_MAX} characters without < > {{ }}, not {contact[:40]!r}")
    raise ValueError(msg)


def parse_send_rate(raw: str) -> float:
    """``LDH_SEND_RATE``: messages a second, above 0 and at most MAX_RATE."""
    try:
        rate = float(raw)
    except ValueError:
        rate = math.nan
    if not 0 < rate <= MAX_RATE:  # also refuses NaN
        msg = (f"LDH_SEND_RATE must be messages per second, above 0 and at most {MAX_RATE:g}, "
               f"not {raw!r}")
        raise ValueError(msg)
    return rate


def parse_log_format(raw: str) -> LogFormat:
    """``LDH_LOG_FORMAT``: text or json, in any case."""
    if raw.lower() not in {"text", "json"}:
        msg = f"LDH_LOG_FORMAT must be text or json, not {raw!r}"
        raise ValueError(msg)
    return "json" if raw.lower() == "json" else "text"


def _log_level(raw: str) -> str:
    if raw.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        msg = f"LDH_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {raw!r}"
        raise ValueError(msg)
    return raw.upper()


parse_ops_listen = _optional_listen("LDH_OPS_LISTEN", "127.0.0.1:9090")


def _folder(raw: str) -> Path:
    if not Path(raw).is_dir():
        msg = f"LDH_DIALOGUES_DIR {raw!r} is not a folder"
        raise ValueError(msg)
    return Path(raw)


def _dashboard_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")) or len(raw) <= len("https://"):
        msg = f"LDH_DASHBOARD_URL must be the http(s):// address staff open, not {raw!r}"
        raise ValueError(msg)
    return raw


# Which parser reads which field of the settings; a typed value (set in code) is kept.
PARSERS: dict[str, Callable[[str], object]] = {
    "token": _token,
    "api_url": _api_url,
    "database_url": parse_database_url,
    "clinic_chat_id": _chat_id,
    "staff_ids": _user_ids,
    "clinic_language": _language,
    "timezone": _timezone,
    "webhook_listen": _listen("LDH_WEBHOOK_LISTEN", "0.0.0.0:8443"),
    "webhook_url": _webhook_url,
    "webhook_secret": _webhook_secret,
    "retention": _retention,
    "emergency_number": parse_emergency_number,
    "urgent_contact": parse_urgent_contact,
    "send_rate": parse_send_rate,
    "ops_listen": parse_ops_listen,
    "log_format": parse_log_format,
    "log_level": _log_level,
    "dialogues_dir": _folder,
    "dashboard_listen": _optional_listen("LDH_DASHBOARD_LISTEN", "0.0.0.0:8090"),
    "dashboard_url": _dashboard_url,
}
# What a missing required variable is told, by variable.
REQUIRED = {
    "TELEGRAM_BOT_TOKEN": "TELEGRAM_BOT_TOKEN is required (the token @BotFather gave you)",
    "LDH_EMERGENCY_NUMBER": "LDH_EMERGENCY_NUMBER is required by ldh-bot run: the number every "
                            "emergency message names (e.g. 999, 112 or 120)",
}


def database_passwords(url: str) -> list[str]:
    """Passwords written in a database URL, in its user part or as a ``password=`` parameter."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
    except ValueError:
        return []
    found.extend(parse_qs(parts.query).get("password", []))
    return [password for password in found if password]


def address(listen: Listen) -> str:
    """HOST:PORT as written, an IPv6 host in brackets."""
    host, port = listen
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def public_url(url: str) -> str:
    """A database URL fit for a log line: its password, in either place, left out."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return url.partition(":")[0] + "://<unparsable>"
    if parts.scheme == "sqlite":
        return url
    user = f"{parts.username}@" if parts.username else ""
    netloc = f"{user}{host}{f':{port}' if port else ''}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
