"""Log lines an operator can ship anywhere: secrets masked, optionally one JSON object each.

A JSON line carries the exception's type and where it was raised, never its message: messages
of database and library errors can quote values (a chat id, a patient's answer), and patient
data stays out of logs. Chats are named only by ``bot.logsafe.chat_ref``.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
MASK = "[redacted]"
MIN_SECRET = 4  # shorter strings would mask ordinary words
TRACE_FRAMES = 8  # the innermost frames of a traceback in a JSON line
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def mask(secret: str) -> str:
    """How a secret is shown: a bot token keeps its bot id (public), never its secret half."""
    bot_id, colon, _ = secret.partition(":")
    return f"{bot_id}:{MASK}" if colon and bot_id.isdigit() else MASK


class Redactor:
    """Replaces every known secret in a text by its mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        """Mask ``secrets`` (the longest first, so one inside another is still masked whole)."""
        kept = {s for s in secrets if len(s) >= MIN_SECRET}
        self._secrets = sorted(kept, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, mask(secret))
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and an error's type and place."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = type(error).__name__
            frames = traceback.extract_tb(error.__traceback__)[-TRACE_FRAMES:]
            entry["where"] = [f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in frames]
        return json.dumps(entry, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """Another formatter's whole output (message, arguments, traceback) with secrets masked."""

    def __init__(self, inner: logging.Formatter, redact: Redactor) -> None:
        """Wrap ``inner``; ``redact`` masks what it writes."""
        super().__init__()
        self._inner = inner
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The inner formatter's line, secrets masked."""
        return self._redact(self._inner.format(record))


def configure_logging(
    log_format: LogFormat, secrets: Iterable[str], stream: TextIO | None = None
) -> Redactor:
    """Log to standard error in ``log_format`` with ``secrets`` masked; return the masker."""
    redact = Redactor(secrets)
    inner = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(inner, redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Warnings would go straight to standard error; through the log they are masked too.
    logging.captureWarnings(capture=True)
    # httpx logs every request URL, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # transitions logs every state change at INFO: one line per answer, of no use to operators.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    return redact


def _short(filename: str) -> str:
    """A source file as package/module.py: enough to find it, without the machine's layout."""
    parts = PurePath(filename).parts
    return "/".join(parts[-2:])
