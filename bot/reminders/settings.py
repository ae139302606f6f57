"""The dispatcher's one setting, ``LDH_SEND_RATE``, read alone (it lives in ``bot.config``)."""

from __future__ import annotations

from bot.config import MAX_RATE, send_rate

__all__ = ["MAX_RATE", "send_rate"]
