"""Replies as Telegram messages: escaped HTML, split under 4096 characters, inline keyboards."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.conversation import Reply
from bot.dialogue.texts import Catalog
from bot.dialogue.turn import Option

MAX_TEXT = 4096  # Telegram's limit, in UTF-16 code units after entity parsing
MAX_CALLBACK = 64  # bytes
KEYBOARDS_KEPT = 1024  # distinct keyboards (question, seq, language) kept built
_TAG = re.compile(r"<[^>]+>")
_SHORT_LABEL = 4
_ROW_OF_SHORT = 6

ANSWER_PREFIX = "a"
MENU_PREFIX = "m"


@dataclass(frozen=True)
class Outgoing:
    """One message to send: HTML text and, maybe, buttons."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


def visible_length(markup: str) -> int:
    """Length as Telegram counts it: tags removed, entities decoded, UTF-16 code units."""
    text = html.unescape(_TAG.sub("", markup))
    return len(text.encode("utf-16-le")) // 2


def split_html(markup: str, limit: int = MAX_TEXT) -> list[str]:
    """Split at paragraph, then line boundaries so each piece fits Telegram's limit."""
    return _pack(markup, ("\n\n", "\n"), limit)


def _pack(markup: str, separators: tuple[str, ...], limit: int) -> list[str]:
    """Join parts back up to ``limit``; a part still too long is split at the next separator."""
    if visible_length(markup) <= limit:
        return [markup]
    if not separators:
        # A single line over the limit has no markup in our texts; cut it plainly.
        return [html.escape(piece, quote=False)
                for piece in _cut(html.unescape(_TAG.sub("", markup)), limit)]
    separator, finer = separators[0], separators[1:]
    pieces: list[str] = []
    current = ""
    for part in markup.split(separator):
        candidate = f"{current}{separator}{part}" if current else part
        if visible_length(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        *done, current = _pack(part, finer, limit)
        pieces.extend(done)
    if current:
        pieces.append(current)
    return pieces


def _cut(plain: str, limit: int) -> list[str]:
    """Plain text in pieces of at most ``limit`` UTF-16 code units, as Telegram counts."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in plain:
        width = 2 if ord(char) > 0xFFFF else 1  # noqa: PLR2004  # beyond the BMP: a surrogate pair
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    pieces.append("".join(current))
    return pieces


def answer_data(seq: int, value: str) -> str:
    """Callback data of an answer button: which question it answers, and the value."""
    return f"{ANSWER_PREFIX}:{seq}:{value}"


def menu_data(value: str) -> str:
    """Callback data of a service-menu button (language, confirmation)."""
    return f"{MENU_PREFIX}:{value}"


def _keyboard(
    buttons: list[tuple[str, str]], *, one_per_row: bool = False
) -> InlineKeyboardMarkup | None:
    """Buttons in rows; ``one_per_row`` for long labels such as the names of treatments."""
    if not buttons:
        return None
    return _built_keyboard(tuple(buttons), one_per_row=one_per_row)


# Patients at the same question see the same keyboard: building one is a good part of an
# update's encoding work, and Telegram objects are frozen, so one instance serves them all.
@lru_cache(maxsize=KEYBOARDS_KEPT)
def _built_keyboard(
    buttons: tuple[tuple[str, str], ...], *, one_per_row: bool
) -> InlineKeyboardMarkup:
    for _, data in buttons:
        if len(data.encode()) > MAX_CALLBACK:
            msg = f"callback data {data!r} is over {MAX_CALLBACK} bytes"
            raise ValueError(msg)
    keys = [InlineKeyboardButton(label, callback_data=data) for label, data in buttons]
    if one_per_row:
        rows = [[key] for key in keys]
    elif all(len(label) <= _SHORT_LABEL for label, _ in buttons):
        rows = [keys[i : i + _ROW_OF_SHORT] for i in range(0, len(keys), _ROW_OF_SHORT)]
    elif len(keys) == 2:  # noqa: PLR2004  # a yes/no pair reads best side by side
        rows = [keys]
    else:
        rows = [[key] for key in keys]
    return InlineKeyboardMarkup(rows)


def render(reply: Reply, catalog: Catalog) -> list[Outgoing]:
    """The messages of a reply, the question (with its buttons) last."""
    language = reply.language
    outgoing: list[Outgoing] = []
    for message in reply.turn.messages:
        pieces = [Outgoing(p) for p in split_html(catalog.message_html(message, language))]
        # A message's own buttons (e.g. a result's details) go under that message.
        buttons = [(_label(o, catalog, language), menu_data(o.value)) for o in message.buttons]
        outgoing.extend(_attach(pieces, _keyboard(buttons, one_per_row=True)))
    question = reply.turn.question
    if reply.menu:
        buttons = [(_label(o, catalog, language), menu_data(o.value)) for o in reply.menu]
        return _attach(outgoing, _keyboard(buttons))
    if question is not None:
        buttons = [(_label(o, catalog, language), answer_data(question.seq, o.value))
                   for o in question.options]
        outgoing.extend(Outgoing(p) for p in split_html(catalog.html(question.text, language)))
        return _attach(outgoing, _keyboard(buttons))
    return outgoing


def _label(option: Option, catalog: Catalog, language: str) -> str:
    return catalog.plain(option.label, language)


def _attach(outgoing: list[Outgoing], keyboard: InlineKeyboardMarkup | None) -> list[Outgoing]:
    if keyboard is None or not outgoing:
        return outgoing
    last = outgoing[-1]
    return [*outgoing[:-1], Outgoing(last.text, keyboard)]
