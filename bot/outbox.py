"""What an outbox row carries: messages as text keys, rendered when sent.

A reminder written today is rendered in the recipient's language on the day it is due.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dialogue.turn import Message, Text

# Outbox kinds: who a row is for and why. The dispatcher sends them all the same way.
CLINIC_NOTIFICATION = "clinic_notification"
CHECKIN = "checkin"
APPOINTMENT_REMINDER = "appointment_reminder"


@dataclass(frozen=True)
class Button:
    """An inline button of an outbox message: a label and its callback data."""

    label: Text
    data: str


@dataclass(frozen=True)
class Payload:
    """One message to deliver: its parts, language, buttons, and an optional chart."""

    language: str
    messages: tuple[Message, ...]
    buttons: tuple[Button, ...] = ()
    chart_of: int | None = None  # a patient whose pain chart is sent with the message
    # After this moment the message is pointless (a reminder of a visit that has happened):
    # the dispatcher retires it instead of sending it late.
    expires_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data for ``Transaction.enqueue``."""
        return {
            "language": self.language,
            "messages": [message.to_json() for message in self.messages],
            "buttons": [{"label": b.label.to_json(), "data": b.data} for b in self.buttons],
            "chart_of": self.chart_of,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Payload:
        """Rebuild a payload read from an outbox row."""
        buttons: Sequence[Mapping[str, Any]] = data.get("buttons", [])
        return cls(
            language=str(data["language"]),
            messages=tuple(Message.from_json(m) for m in data["messages"]),
            buttons=tuple(Button(Text.from_json(b["label"]), str(b["data"])) for b in buttons),
            chart_of=data.get("chart_of"),
            expires_at=expires_at(data),
        )


def expires_at(data: Mapping[str, Any]) -> datetime | None:
    """When a payload, read straight from an outbox row, stops being worth sending."""
    raw = data.get("expires_at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None
