"""The per-patient record of a conversation: plain data, JSON in storage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.conditions import FactValue


@dataclass
class Answered:
    """A question the patient answered: the facts it set, what they held before (for /back).

    ``typed`` is the answer as the patient typed it; None when they pressed a button.
    ``unread`` holds what they typed to this question before, that could not be taken (spec
    §2a: nothing typed is thrown away), each ``{"typed": text, "reading": "unread"|"hedge"}``.
    """

    state: str
    facts: list[str]
    before: dict[str, FactValue] = field(default_factory=dict)
    typed: str | None = None
    unread: list[dict[str, str]] = field(default_factory=list)


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
    # Typed answers not (yet) taken, each ``{"state", "typed", "reading"}``: kept with the
    # question until it is answered. A hedge here means the bot is waiting for a confirmation.
    attempts: list[dict[str, str]] = field(default_factory=list)

    def attempts_at(self, state: str) -> list[dict[str, str]]:
        """The typed answers not taken at ``state``, oldest first."""
        return [a for a in self.attempts if a.get("state") == state]

    def unclear(self, flags: Iterable[str]) -> list[dict[str, Any]]:
        """Red flags recorded no after answers that could not be read: fact and what was typed."""
        wanted = set(flags)
        return [{"fact": fact, "typed": [a["typed"] for a in entry.unread]}
                for entry in self.history if entry.unread
                for fact in entry.facts if fact in wanted and self.facts.get(fact) == "no"]

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data, sharing nothing mutable with the session."""
        # By hand, not dataclasses.asdict: its generic deep copy cost a tenth of an update.
        data = {name: _json_copy(value) for name, value in vars(self).items()}
        data["history"] = [{name: _json_copy(value) for name, value in vars(entry).items()}
                           for entry in self.history]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        """Rebuild a record saved by ``to_json``."""
        history = [
            Answered(state=h["state"], facts=list(h["facts"]), before=dict(h.get("before", {})),
                     typed=h.get("typed"), unread=[dict(a) for a in h.get("unread", [])])
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
            attempts=[dict(a) for a in data.get("attempts", [])],
        )


def _json_copy(value: Any) -> Any:  # noqa: ANN401  # JSON data is of any JSON type
    """A copy of JSON data (dicts, lists, scalars), as deep as the data goes."""
    # Scalars are tested inline rather than by a call each: most of a session is scalars.
    if isinstance(value, dict):
        return {key: _json_copy(item) if isinstance(item, _CONTAINERS) else item
                for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) if isinstance(item, _CONTAINERS) else item for item in value]
    return value


_CONTAINERS = (dict, list)
