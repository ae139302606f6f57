"""What a staff command answers with: messages, a chart photo, files; channel-agnostic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.dialogue.turn import Message, Text


@dataclass(frozen=True)
class Photo:
    """A PNG image with a caption."""

    png: bytes
    caption: Text


@dataclass(frozen=True)
class Document:
    """A file to download, with a caption."""

    filename: str
    data: bytes
    caption: Text


@dataclass(frozen=True)
class StaffRequest:
    """A staff command as typed: who, in which chat, the command and the rest of the line."""

    user_id: int
    chat_id: int
    command: str
    args: str = ""
    update_id: int | None = None


Output = Message | Photo | Document


def say(key: str, **values: object) -> Message:
    """One message of one text."""
    return Message((Text(key, values),))


def clock_time(moment: datetime, zone: tzinfo) -> str:
    """A time as staff read it: local date, hours and minutes."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
