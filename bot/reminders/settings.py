"""The dispatcher's one setting: ``LDH_SEND_RATE``, messages per second overall."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from bot.config import SettingsError
from bot.reminders.pacing import DEFAULT_RATE

MAX_RATE = 1000.0  # far above any Telegram limit; a typo such as 3000 is caught


def send_rate(env: Mapping[str, str] | None = None) -> float:
    """``LDH_SEND_RATE`` (default 30, Telegram's broadcast limit); SettingsError if invalid."""
    values = os.environ if env is None else env
    raw = values.get("LDH_SEND_RATE", "").strip()
    if not raw:
        return DEFAULT_RATE
    try:
        rate = float(raw)
    except ValueError:
        rate = math.nan
    if not 0 < rate <= MAX_RATE:  # also refuses NaN
        msg = f"LDH_SEND_RATE must be messages per second, above 0 and at most {MAX_RATE:g}, "
        msg += f"not {raw!r}"
        raise SettingsError(msg)
    return rate
