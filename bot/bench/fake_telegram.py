"""An in-process Bot API for the bench: answers as Telegram does, counts calls, sends nothing."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_ID = 7000000001
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
_TAG = re.compile(r"<[^>]+>")
_KEPT_KEYBOARDS = 3  # older keyboards a patient may still press (stale buttons)

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Keyboard:
    """A bot message with buttons still on it: ``(label, callback data)`` pairs."""

    message_id: int
    text: str
    buttons: tuple[tuple[str, str], ...]


@dataclass
class ChatView:
    """What a patient's screen shows: the newest message and the keyboards still pressable."""

    last_text: str = ""
    keyboards: list[Keyboard] = field(default_factory=list)


def plain_text(markup: str) -> str:
    """The text Telegram shows for HTML markup (entities are not kept here)."""
    return html.unescape(_TAG.sub("", markup))


def _buttons(markup: str | None) -> tuple[tuple[str, str], ...]:
    if not markup:
        return ()
    rows = json.loads(markup).get("inline_keyboard", [])
    return tuple((b["text"], b.get("callback_data", "")) for row in rows for b in row)


class FakeTelegram(BaseRequest):
    """Answers Bot API requests in-process, as Telegram would, and keeps each chat's screen."""

    def __init__(self) -> None:
        """No calls yet, no chats."""
        self.calls: Counter[str] = Counter()
        self.chats: dict[int, ChatView] = {}
        self._message_ids = count(1)

    @property
    def read_timeout(self) -> float | None:
        """No network, so no timeout."""
        return None

    async def initialize(self) -> None:
        """Nothing to connect."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def total(self) -> int:
        """How many Bot API calls were made."""
        return sum(self.calls.values())

    async def do_request(  # noqa: PLR0913, PLR0917  # BaseRequest's signature
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = None,
        write_timeout: object = None,
        connect_timeout: object = None,
        pool_timeout: object = None,
    ) -> tuple[int, bytes]:
        """Answer one call; the parameters are encoded as an HTTP request would encode them."""
        del method, read_timeout, write_timeout, connect_timeout, pool_timeout
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.json_parameters if request_data is not None else {}
        self.calls[endpoint] += 1
        body = {"ok": True, "result": self._answer(endpoint, params)}
        return 200, json.dumps(body).encode()

    def _answer(self, endpoint: str, params: dict[str, str]) -> object:
        if endpoint == "getMe":
            return {**BOT_USER, "can_join_groups": False, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        if endpoint == "getUpdates":
            return []
        if endpoint == "sendMessage":
            return self._sent(int(params["chat_id"]), next(self._message_ids), params)
        if endpoint == "editMessageText":
            return self._edited(int(params["chat_id"]), int(params["message_id"]), params)
        if endpoint.startswith("send"):  # photos and the like: a message without text
            return self._message(int(params["chat_id"]), next(self._message_ids), "")
        return True

    def _message(self, chat_id: int, message_id: int, text: str) -> JsonDict:
        return {"message_id": message_id, "date": 1767607200, "from": BOT_USER,
                "chat": {"id": chat_id, "type": "private", "first_name": "Patient"},
                "text": text}

    def _sent(self, chat_id: int, message_id: int, params: dict[str, str]) -> JsonDict:
        view = self.chats.setdefault(chat_id, ChatView())
        view.last_text = params["text"]
        buttons = _buttons(params.get("reply_markup"))
        if buttons:
            view.keyboards = [*view.keyboards[-_KEPT_KEYBOARDS + 1:],
                              Keyboard(message_id, params["text"], buttons)]
        message = self._message(chat_id, message_id, plain_text(params["text"]))
        if "reply_markup" in params:
            message["reply_markup"] = json.loads(params["reply_markup"])
        return message

    def _edited(self, chat_id: int, message_id: int, params: dict[str, str]) -> JsonDict:
        view = self.chats.setdefault(chat_id, ChatView())
        buttons = _buttons(params.get("reply_markup"))
        # An edit without buttons takes them off the message: they can no longer be pressed.
        view.keyboards = [k if k.message_id != message_id else Keyboard(message_id, k.text, buttons)
                          for k in view.keyboards]
        view.keyboards = [k for k in view.keyboards if k.buttons]
        return self._message(chat_id, message_id, plain_text(params["text"]))
