"""Service menus (language, confirmations, offers): a registry, so each feature adds its own.

A menu owns a value prefix (``"lang:"``): its buttons submit ``prefix + rest`` and its handler
gets ``rest``. A menu that waits for an answer is remembered with the session while it is open,
so a typed answer is read by it (clinical spec §2a) and never dropped; what it cannot read is
asked again, with its buttons.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.content import Content
from bot.conversation.reply import Reply
from bot.dialogue.answers import NO, YES, normalise
from bot.dialogue.engine import Engine
from bot.dialogue.session import Session
from bot.dialogue.turn import Message, Option, Text, Turn
from bot.storage.base import Transaction

OPEN = "menu"  # the key in Session.care of the menu shown last, while it waits for an answer


class Desk(Protocol):
    """What a menu's handler may use of the conversation service."""

    content: Content
    clock: Clock
    timezone: ZoneInfo
    clinic_chat_id: int | None  # None: no clinic is told anything, so nothing says it is

    def engine(self, session: Session) -> Engine:
        """The engine of the session's dialogue."""
        ...

    def current(self, session: Session) -> Turn:
        """Where the patient is: the open question, the advice that stands, or the closing note."""
        ...

    def with_current(self, session: Session, note: Text) -> Turn:
        """A note, then where the patient is."""
        ...

    async def notify_clinic(self, tx: Transaction, *parts: Text) -> bool:
        """Tell the clinic through the outbox; False with no clinic set."""
        ...


@dataclass(frozen=True)
class Step:
    """One action being handled: the service, the patient's transaction and session."""

    desk: Desk
    tx: Transaction
    session: Session

    @property
    def now(self) -> datetime:
        """The time of this step."""
        return self.tx.now

    def reply(self, turn: Turn, menu: tuple[Option, ...] = ()) -> Reply:
        """A reply in the patient's language."""
        return Reply(self.session.language, turn, menu)

    def noted(self, key: str, **values: object) -> Reply:
        """A note, then where the patient is."""
        return self.reply(self.desk.with_current(self.session, Text(key, values)))


@dataclass(frozen=True)
class Again:
    """Typed text a menu could not read: ask again with ``note``, the prompt and the buttons.

    ``prompt`` and ``options`` are needed only when the menu was not open (an idle reading).
    """

    note: Text = field(default_factory=lambda: Text("menu.again"))
    prompt: tuple[Message, ...] = ()
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class OpenMenu:
    """A menu shown and waiting: its prefix, what it asked and its buttons."""

    prefix: str
    prompt: tuple[Message, ...]
    options: tuple[Option, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data, kept with the session."""
        return {"prefix": self.prefix, "prompt": [m.to_json() for m in self.prompt],
                "options": [{"label": o.label.to_json(), "value": o.value}
                            for o in self.options]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenMenu:
        """Rebuild a menu saved by ``to_json``."""
        return cls(str(data["prefix"]), tuple(Message.from_json(m) for m in data["prompt"]),
                   tuple(Option(Text.from_json(o["label"]), str(o["value"]))
                         for o in data["options"]))


Handler = Callable[[Step, str], Awaitable[Reply]]
# A typed answer while the menu is open: the value it stands for, or Again.
Reader = Callable[[Step, str, OpenMenu], Awaitable["str | Again"]]
# Typed text while nothing is open: the value, Again (the menu's own), or None (not this menu's).
IdleReader = Callable[[Step, str], Awaitable["str | Again | None"]]


@dataclass(frozen=True)
class Menu:
    """A feature's buttons: the prefix of their values and what handles them.

    ``passive``: choosing it shows something and leaves an open menu open (e.g. details).
    """

    prefix: str
    handle: Handler
    read: Reader | None = None
    idle: IdleReader | None = None
    passive: bool = False


class Menus:
    """The registered menus, found by the prefix of a submitted value."""

    def __init__(self, menus: Iterable[Menu] = ()) -> None:
        """Register ``menus``; two with one prefix are refused."""
        self._menus: dict[str, Menu] = {}
        for menu in menus:
            self.register(menu)

    def register(self, menu: Menu) -> None:
        """Add a menu; a prefix already taken is a programming error."""
        if menu.prefix in self._menus:
            msg = f"menu prefix {menu.prefix!r} is registered twice"
            raise ValueError(msg)
        self._menus[menu.prefix] = menu

    def find(self, value: str) -> tuple[Menu, str] | None:
        """The menu whose prefix starts ``value``, and the rest of it."""
        for prefix, menu in self._menus.items():
            if value.startswith(prefix):
                return menu, value.removeprefix(prefix)
        return None

    def get(self, prefix: str) -> Menu | None:
        """The menu of ``prefix``, if registered."""
        return self._menus.get(prefix)

    def idle(self) -> list[Menu]:
        """The menus that may read typed text while nothing else is open."""
        return [menu for menu in self._menus.values() if menu.idle is not None]


def open_menu(session: Session) -> OpenMenu | None:
    """The menu that waits for an answer, if one does."""
    data = session.care.get(OPEN)
    return OpenMenu.from_json(data) if isinstance(data, dict) else None


def keep_open(session: Session, prefix: str, prompt: Sequence[Message],
              options: Sequence[Option]) -> None:
    """Remember a menu just shown, so a typed answer is read by it."""
    # Only the words: a message's own buttons are not part of what the menu asked.
    words = tuple(Message(m.parts) for m in prompt)
    session.care[OPEN] = OpenMenu(prefix, words, tuple(options)).to_json()


def close(session: Session) -> None:
    """Forget the open menu: the patient has moved on."""
    session.care.pop(OPEN, None)


def by_label(content: Content, typed: str, options: Sequence[Option], *,
             positions: bool = True) -> str | None:
    """The option whose whole label (in any language), or position, is what was typed."""
    text = normalise(typed)
    if not text:
        return None
    if positions and text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1].value
    catalog = content.catalog
    for option in options:
        if any(normalise(catalog.plain(option.label, lang)) == text for lang in catalog.templates):
            return option.value
    return None


def yes_or_no(content: Content, typed: str) -> str | None:
    """``yes`` or ``no`` when the whole of ``typed`` says so clearly (spec §2a); else None."""
    return content.vocabulary.choice(typed, (YES, NO))
