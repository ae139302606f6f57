"""Reminder dispatch against a stand-in that enforces Telegram's 30 messages per second.

Not measured yet: the delivery work brings its own measurement; wire it in here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReminderFigures:
    """Sustained reminders sent per second, and how many 429 answers came back."""

    per_s: float
    responses_429: int


def measure_reminders(patients: int) -> ReminderFigures | None:
    """Reminder dispatch while patients chat; None until the measurement is wired in."""
    del patients
    return None
