"""Helpers of the clinic tests: a movable clock, the test's constants, staff replies as text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from support.clock import ManualClock

from bot.clinic.replies import Output
from bot.content import Content
from bot.conversation import Reply
from bot.dialogue.turn import Message

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
CLINIC = -500
STAFF = 7
CLINIC_ZONE = "Europe/London"
# Nine red flags "no", age (over 55, so pregnancy is not asked), no leg pain, then the pain
# score: a routine, conservative result.
SCREENING_ANSWERS = ("no",) * 11 + ("60", "no")

# screen(chat, pain=6, hint="en"): a patient's whole screening; ask(command, args=""): staff.
Screen = Callable[..., Awaitable[Reply]]
Ask = Callable[..., Awaitable[list[Output]]]


class Clock(ManualClock):
    """The clinic tests' clock, starting at their ``NOW``."""

    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)


def plain(content: Content, outputs: list[Output], language: str = "en") -> str:
    """Every message of a staff reply as plain text."""
    return "\n\n".join(content.catalog.message_plain(o, language)
                       for o in outputs if isinstance(o, Message))
