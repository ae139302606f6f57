"""What the engine returns to a channel: messages, the open question and effects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Text:
    """A message key in the text catalog plus the values for its placeholders.

    A value may be a plain string (patient-supplied or a literal, escaped on rendering),
    an integer, another Text (rendered in the same language) or a list of Texts (a list).
    """

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def raw(literal: str) -> Text:
        """A literal string that needs no translation, e.g. a number on a button."""
        return Text(key="", values={"": literal})

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data, e.g. for an outbox row rendered later in the patient's language."""
        return {"key": self.key, "values": {k: _value_json(v) for k, v in self.values.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Text:
        """Rebuild a Text saved by ``to_json``."""
        return cls(str(data["key"]), {k: _value_from_json(v) for k, v in data["values"].items()})


def _value_json(value: object) -> object:
    if isinstance(value, Text):
        return {"text": value.to_json()}
    if isinstance(value, list):
        return {"list": [_value_json(item) for item in value]}
    return value


def _value_from_json(value: object) -> object:
    if isinstance(value, Mapping) and "text" in value:
        return Text.from_json(value["text"])
    if isinstance(value, Mapping) and "list" in value:
        return [_value_from_json(item) for item in value["list"]]
    return value


@dataclass(frozen=True)
class Message:
    """One chat message: its parts are rendered and joined by blank lines.

    ``buttons`` belong to this message alone (e.g. a result's "tell me more" buttons), apart
    from the open question's and the reply's menu. They are a live reply's only: ``to_json``
    keeps the words, and a stored message is sent without them.
    """

    parts: tuple[Text, ...]
    buttons: tuple[Option, ...] = ()

    def to_json(self) -> list[dict[str, Any]]:
        """JSON-ready data."""
        return [part.to_json() for part in self.parts]

    @classmethod
    def from_json(cls, data: list[Mapping[str, Any]]) -> Message:
        """Rebuild a Message saved by ``to_json``."""
        return cls(tuple(Text.from_json(part) for part in data))


@dataclass(frozen=True)
class Option:
    """An answer button: its label and the value it submits."""

    label: Text
    value: str


@dataclass(frozen=True)
class Question:
    """The question now awaiting an answer; ``seq`` tells a current button from a stale one."""

    state: str
    fact: str | None
    text: Text
    options: tuple[Option, ...]
    hint: Text
    seq: int


@dataclass(frozen=True)
class Effect:
    """Something the conversation asks the world to do: notify the clinic, offer check-ins."""

    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """The engine's answer to one patient action."""

    messages: tuple[Message, ...] = ()
    question: Question | None = None
    effects: tuple[Effect, ...] = ()
    answered: Text | None = None

    @property
    def finished(self) -> bool:
        """Whether the dialogue has ended (no question is open)."""
        return self.question is None
