"""What goes in and out of the conversation: a patient's Action, the Reply, and turn helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.dialogue.texts import DEFAULT_LANGUAGE
from bot.dialogue.turn import Message, Option, Text, Turn

BeforeCommit = Callable[["Reply"], Awaitable[None]]

# A message the bot cannot read (sticker, photo, voice): answered with a note, never ignored.
UNSUPPORTED = "_unsupported"


@dataclass(frozen=True)
class Action:
    """What a patient did: a command (``/back``), an answer, or a menu choice."""

    chat_id: int
    command: str | None = None
    text: str = ""
    seq: int | None = None
    update_id: int | None = None
    language_hint: str | None = None
    # Who the chat is, as the channel knows them (name, username), so the clinic can find them.
    contact: Contact | None = None


@dataclass(frozen=True)
class Contact:
    """A patient's name and username as their messenger shows them (either may be missing)."""

    name: str | None = None
    username: str | None = None

    def to_json(self) -> dict[str, str]:
        """JSON-ready data kept with the patient's care."""
        return {key: value for key, value in (("name", self.name), ("username", self.username))
                if value}


@dataclass(frozen=True)
class Reply:
    """What to show the patient: a Turn, in a language, with any service-menu buttons."""

    language: str
    turn: Turn
    menu: tuple[Option, ...] = ()
    duplicate: bool = False


def language_from_hint(hint: str | None) -> str:
    """Chinese for a ``zh*`` Telegram language, English otherwise."""
    return "zh" if hint and hint.lower().startswith("zh") else DEFAULT_LANGUAGE


def say(*keys: str, **values: object) -> Turn:
    """A turn of one message made of the texts ``keys``, sharing ``values``."""
    return Turn(messages=(Message(tuple(Text(key, values) for key in keys)),))


def then(first: Turn, second: Turn) -> Turn:
    """Two turns as one: all the messages, and the second's question and effects."""
    return Turn((*first.messages, *second.messages), second.question, second.effects,
                first.answered)


def noted(note: Text, turn: Turn) -> Turn:
    """A note before ``turn``'s messages, keeping its question."""
    return Turn((Message((note,)), *turn.messages), turn.question, turn.effects, turn.answered)
