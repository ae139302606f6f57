"""The per-patient record of a conversation: plain data, JSON in storage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.dialogue.conditions import FactValue


@dataclass
class Answered:
    """A question the patient answered: the facts it set, what they held before (for /back).

    ``typed`` is the answer as the patient typed it; None when they pressed a button.
    """

    state: str
    facts: list[str]
    before: dict[str, FactValue] = field(default_factory=dict)
    typed: str | None = None


@dataclass
class Session:
    """Where a patient is in a dialogue and what they have told it so far."""

    dialogue: str
    state: str
    language: str
    facts: dict[str, FactValue] = field(default_factory=dict)
    history: list[Answered] = field(default_factory=list)
    seq: int = 0
    version: int = 0
    # What outlives one dialogue (e.g. the follow-up plan); owned by the conversation layer.
    care: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        """Rebuild a record saved by ``to_json``."""
        history = [
            Answered(state=h["state"], facts=list(h["facts"]), before=dict(h.get("before", {})),
                     typed=h.get("typed"))
            for h in data["history"]
        ]
        return cls(
            dialogue=str(data["dialogue"]),
            state=str(data["state"]),
            language=str(data["language"]),
            facts=dict(data["facts"]),
            history=history,
            seq=int(data["seq"]),
            version=int(data.get("version", 0)),
            care=dict(data.get("care", {})),
        )
