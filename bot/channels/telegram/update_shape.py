"""Whether a webhook body can be a Telegram update: checked before python-telegram-bot reads it.

python-telegram-bot builds an Update from nearly anything: a text that is a number, a chat
that is a string, an ``update_id`` of 2**70. Such a body would fail later, inside a step (and
the chat would be told "Sorry"), or overflow the database's integers. Only the fields the bot
reads are checked here, as Telegram documents them; any other field passes as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 32  # Telegram's updates nest a few levels (a reply's message's entities, ...)
INT64 = 1 << 63  # every Telegram id fits a signed 64-bit integer, as the database stores it

Check = Callable[[Any], bool]


def _int(value: Any) -> bool:  # noqa: ANN401  # any JSON value
    return isinstance(value, int) and not isinstance(value, bool) and -INT64 <= value < INT64


def _str(value: Any) -> bool:  # noqa: ANN401  # any JSON value
    return isinstance(value, str)


def _bool(value: Any) -> bool:  # noqa: ANN401  # any JSON value
    return isinstance(value, bool)


def _object(fields: dict[str, Check], optional: dict[str, Check]) -> Check:
    """An object with every field of ``fields`` and, where present, those of ``optional``."""

    def check(value: Any) -> bool:  # noqa: ANN401  # any JSON value
        if not isinstance(value, dict):
            return False
        if not all(name in value and ok(value[name]) for name, ok in fields.items()):
            return False
        return all(ok(value[name]) for name, ok in optional.items() if name in value)

    return check


def _list_of(item: Check) -> Check:
    def check(value: Any) -> bool:  # noqa: ANN401  # any JSON value
        return isinstance(value, list) and all(item(element) for element in value)

    return check


_USER = _object({"id": _int, "is_bot": _bool, "first_name": _str},
                {"language_code": _str, "username": _str, "last_name": _str})
_CHAT = _object({"id": _int, "type": _str}, {"title": _str, "username": _str})
_ENTITY = _object({"type": _str, "offset": _int, "length": _int}, {})
_MESSAGE = _object({"message_id": _int, "date": _int, "chat": _CHAT},
                   {"from": _USER, "text": _str, "entities": _list_of(_ENTITY),
                    "caption": _str})
_CALLBACK = _object({"id": _str, "from": _USER, "chat_instance": _str},
                    {"data": _str, "message": _MESSAGE})
# The kinds of update the bot reads; any other kind is checked for depth and numbers only.
_KINDS: dict[str, Check] = {
    "message": _MESSAGE, "edited_message": _MESSAGE, "channel_post": _MESSAGE,
    "edited_channel_post": _MESSAGE, "callback_query": _CALLBACK,
}


def problem(data: object) -> str | None:
    """Why ``data`` (parsed JSON) cannot be a Telegram update, or None if it can."""
    if not isinstance(data, dict):
        return "the body is not a JSON object"
    if not _int(data.get("update_id")) or data["update_id"] < 0:
        return "no update_id that Telegram would send"
    too_deep = _beyond(data)
    if too_deep is not None:
        return too_deep
    for kind, check in _KINDS.items():
        if kind in data and not check(data[kind]):
            return f"its {kind} is not one Telegram would send"
    return None


def _beyond(data: object) -> str | None:
    """Nesting deeper than ``MAX_DEPTH``, or an integer no Telegram field holds (iteratively)."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return "nested deeper than any update"
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, int) and not isinstance(value, bool) and not _int(value):
            return "a number larger than any Telegram field"
        elif isinstance(value, float) and not math.isfinite(value):
            return "a number that is not finite"
    return None
