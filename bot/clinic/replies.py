"""What a staff command answers with: messages, a chart photo, files; channel-agnostic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from bot.dialogue.turn import Message, Text


@dataclass(frozen=True)
class Photo:
    """A PNG image with a caption."""

    png: bytes
    caption: Text


@dataclass(frozen=True)
class Document:
    """A file to download, with a caption.

    Large files come as a ``Path`` to a temporary file, never as bytes in memory: whoever
    receives the document deletes that file once it is sent (``discard``).
    """

    filename: str
    data: bytes | Path
    caption: Text


def discard(outputs: Iterable[object]) -> None:
    """Delete the temporary files of the documents among ``outputs``."""
    for output in outputs:
        if isinstance(output, Document) and isinstance(output.data, Path):
            output.data.unlink(missing_ok=True)


@dataclass(frozen=True)
class StaffRequest:
    """A staff command as typed: who, in which chat, the command and the rest of the line."""

    user_id: int
    chat_id: int
    command: str
    args: str = ""
    update_id: int | None = None
    name: str = ""  # the staff member's name as their messenger shows it


Output = Message | Photo | Document
# How far a long command has got: patients so far, and whether it is done.
Progress = Callable[[int, bool], Awaitable[None]]


def say(key: str, **values: object) -> Message:
    """One message of one text."""
    return Message((Text(key, values),))


def clock_time(moment: datetime, zone: tzinfo) -> str:
    """A time as staff read it: local date, hours and minutes."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
