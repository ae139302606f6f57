"""What the stand-in remembers: users, chats, messages, updates, callback queries, calls, limits."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from support.botapi_spec import ApiError, bad_request

if TYPE_CHECKING:
    from support.botapi_spec import Spec

JsonDict = dict[str, Any]

DEFAULT_TOKEN = "7000000001:AAStandInTokenForEndToEndTests_0123456"  # noqa: S105 - not a secret
DEFAULT_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_USER_IDS = 700_000_000
_GROUP_IDS = -900_000_000
_SUPERGROUP_IDS = -1_000_000_000_000


def _without_none(values: JsonDict) -> JsonDict:
    """Drop the keys whose value is None, as Telegram omits absent optional fields."""
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class User:
    """A Telegram user (or the bot itself)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    @property
    def chat_id(self) -> int:
        """The id of the user's private chat with the bot (the same as the user id)."""
        return self.id

    def to_dict(self) -> JsonDict:
        """The Bot API User object."""
        return _without_none({
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": self.language_code,
        })


@dataclass(frozen=True)
class Chat:
    """A private chat, group or supergroup."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @property
    def chat_id(self) -> int:
        """The chat id (so a Chat can be passed wherever a chat reference is expected)."""
        return self.id

    def to_dict(self) -> JsonDict:
        """The Bot API Chat object."""
        return _without_none({
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "username": self.username,
            "first_name": self.first_name,
            "last_name": self.last_name,
        })


@dataclass(frozen=True)
class Button:
    """One inline keyboard button of a message, with its position."""

    row: int
    column: int
    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ChatMessage:
    """A snapshot of one message in a chat, sent by the bot or by a user."""

    chat_id: int
    message_id: int
    sender_id: int
    from_bot: bool
    date: int
    kind: str = "text"
    text: str | None = None
    entities: tuple[JsonDict, ...] = ()
    caption: str | None = None
    caption_entities: tuple[JsonDict, ...] = ()
    reply_markup: JsonDict | None = None
    content: JsonDict = field(default_factory=dict)
    source_text: str | None = None
    parse_mode: str | None = None
    reply_to: int | None = None
    edit_date: int | None = None

    @property
    def inline_keyboard(self) -> JsonDict | None:
        """The inline keyboard markup, if the message has one."""
        return inline_markup(self.reply_markup)

    def buttons(self) -> list[Button]:
        """The inline keyboard buttons in reading order."""
        markup = self.inline_keyboard or {"inline_keyboard": []}
        return [
            Button(row, column, b["text"], b.get("callback_data"), b.get("url"))
            for row, buttons in enumerate(markup["inline_keyboard"])
            for column, b in enumerate(buttons)
        ]

    def callback_data(self) -> list[str]:
        """The callback_data of every callback button, in reading order."""
        return [b.callback_data for b in self.buttons() if b.callback_data is not None]

    def button(self, text: str) -> Button:
        """The button with this label."""
        for candidate in self.buttons():
            if candidate.text == text:
                return candidate
        labels = [b.text for b in self.buttons()]
        msg = f"message {self.message_id} has no button {text!r}; it has {labels}"
        raise KeyError(msg)


def inline_markup(markup: JsonDict | None) -> JsonDict | None:
    """Only inline keyboards belong to a message; reply keyboards belong to the chat."""
    return markup if markup and "inline_keyboard" in markup else None


@dataclass(frozen=True)
class CallbackQueryInfo:
    """A callback query the stand-in sent to the bot, and how the bot answered it."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float
    answered: bool = False
    answer: JsonDict | None = None


@dataclass(frozen=True)
class Call:
    """One Bot API request the bot made, and the stand-in's reply.

    params are decoded (ints, dicts, UploadedFile...) when decoding succeeded, else the raw
    strings; client_gone marks a reply nobody received (the client had hung up).
    """

    method: str
    params: JsonDict
    status: int
    description: str | None
    result: Any
    at: float
    files: tuple[str, ...] = ()
    client_gone: bool = False

    @property
    def ok(self) -> bool:
        """Whether the call was accepted."""
        return self.status == 200

    @property
    def error_code(self) -> int | None:
        """The Telegram error_code of a refused call."""
        return None if self.ok else self.status


@dataclass(frozen=True)
class StoredFile:
    """A file the stand-in holds (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def to_dict(self) -> JsonDict:
        """Fields shared by Document/Voice/PhotoSize objects."""
        return _without_none({
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_name": self.file_name,
            "mime_type": self.mime_type,
        })


@dataclass
class _Bucket:
    """A token bucket: `capacity` sends at once, refilled at `rate` per second."""

    capacity: float
    rate: float
    tokens: float
    stamp: float

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 when one is there now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class RateLimits:
    """Telegram's broadcast limits: overall, per chat (with a small burst), per group."""

    overall_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    group_per_minute: float = 20.0


class RateLimiter:
    """Decides whether a message may be sent now, and if not, how long to wait."""

    def __init__(self, limits: RateLimits) -> None:
        """Start with full buckets."""
        self.limits = limits
        now = time.monotonic()
        rate = limits.overall_per_second
        self.overall = _Bucket(rate, rate, rate, now)
        self.chats: dict[int, _Bucket] = {}
        self.groups: dict[int, _Bucket] = {}

    def _buckets(self, chat_id: int, now: float) -> list[_Bucket]:
        """The buckets one message to this chat draws from."""
        limits = self.limits
        burst = limits.per_chat_burst
        chat = self.chats.setdefault(
            chat_id, _Bucket(burst, limits.per_chat_per_second, burst, now)
        )
        if chat_id > 0:
            return [self.overall, chat]
        per_minute = limits.group_per_minute
        group = self.groups.setdefault(
            chat_id, _Bucket(per_minute, per_minute / 60, per_minute, now)
        )
        return [self.overall, chat, group]

    def admit(self, chat_id: int) -> int | None:
        """Take a token from every bucket, or return retry_after seconds without taking any."""
        now = time.monotonic()
        buckets = self._buckets(chat_id, now)
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1
        return None


class World:
    """All state; every access happens with `lock` held (it is a Condition over an RLock)."""

    def __init__(self, spec: Spec, token: str, *, strict_ampersand: bool) -> None:
        """An empty world for the bot with this token."""
        self.lock = threading.Condition(threading.RLock())
        self.spec = spec
        self.token = token
        self.strict_ampersand = strict_ampersand
        bot_id = int(token.split(":", maxsplit=1)[0])
        self.bot = User(bot_id, "Stand-in Bot", username="standin_bot", is_bot=True)
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.not_started: set[int] = set()
        self.chat_messages: dict[int, dict[int, ChatMessage]] = {}
        self.shown_callback_data: dict[tuple[int, int], set[str]] = {}
        self.deleted: dict[int, list[ChatMessage]] = {}
        self.reply_keyboards: dict[int, JsonDict | None] = {}
        self.chat_actions: dict[int, list[str]] = {}
        self.last_message_id: dict[int, int] = {}
        self.updates: list[JsonDict] = []
        self.filtered_updates: list[JsonDict] = []
        self.next_update_id = 10_001
        self.highest_fetched = 0
        self.allowed_updates: list[str] = []
        self.queries: dict[str, CallbackQueryInfo] = {}
        self.callback_timeout: float | None = None
        self.calls: list[Call] = []
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.webhook: JsonDict = {"url": ""}
        self.blocked: set[int] = set()
        self.limiter: RateLimiter | None = None
        self.too_many_requests = 0
        # Refusals a test scripted for a chat's next sends, as (status, retry_after), in order.
        self.scripted: dict[int, deque[tuple[int, int | None]]] = {}
        self.delivered: Counter[int] = Counter()
        self.files: dict[str, StoredFile] = {}
        self.poll_generation = 0
        self.waiting_polls = 0
        self.closed = False
        self._serial = itertools.count(1)

    def serial(self) -> int:
        """A fresh number for ids."""
        return next(self._serial)

    def add_user(self, user: User, *, started: bool) -> User:
        """Register a user and their private chat."""
        self.users[user.id] = user
        chat = Chat(user.id, "private", username=user.username, first_name=user.first_name,
                    last_name=user.last_name)
        self.add_chat(chat)
        if not started:
            self.not_started.add(user.id)
        return user

    def add_chat(self, chat: Chat) -> Chat:
        """Register a chat."""
        self.chats[chat.id] = chat
        self.chat_messages.setdefault(chat.id, {})
        return chat

    def new_user_id(self) -> int:
        """A fresh positive user id."""
        return _USER_IDS + self.serial()

    def new_group_id(self, *, supergroup: bool) -> int:
        """A fresh negative chat id in the range Telegram uses for groups or supergroups."""
        return (_SUPERGROUP_IDS if supergroup else _GROUP_IDS) - self.serial()

    def chat_for(self, chat_ref: object) -> Chat:
        """Resolve a chat_id parameter (id or @username), or refuse as Telegram does."""
        if isinstance(chat_ref, str) and chat_ref.startswith("@"):
            found = [c for c in self.chats.values() if c.username == chat_ref[1:]]
            if found:
                return found[0]
        elif isinstance(chat_ref, int) and chat_ref in self.chats:
            return self.chats[chat_ref]
        msg = "chat not found"
        raise bad_request(msg)

    def check_reachable(self, chat: Chat) -> None:
        """403 when the user blocked the bot or never started it."""
        if chat.id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.id in self.not_started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")

    def check_rate(self, chat: Chat) -> None:
        """429 with retry_after when rate limits are on and this message would exceed them."""
        scripted = self.scripted.get(chat.id)
        if scripted:
            status, after = scripted.popleft()
            if status == 429:
                self.too_many_requests += 1
                raise ApiError(429, f"Too Many Requests: retry after {after}",
                               {"retry_after": after})
            raise ApiError(status, "Bad Gateway" if status == 502 else "Internal Server Error")
        retry_after = self.limiter.admit(chat.id) if self.limiter else None
        if retry_after is not None:
            self.too_many_requests += 1
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def next_message_id(self, chat_id: int) -> int:
        """Message ids increase per chat, shared by the bot's and the users' messages."""
        self.last_message_id[chat_id] = self.last_message_id.get(chat_id, 0) + 1
        return self.last_message_id[chat_id]

    def store(self, message: ChatMessage) -> ChatMessage:
        """Save (or replace after an edit) a message; remember every callback button it showed."""
        self.chat_messages[message.chat_id][message.message_id] = message
        shown = self.shown_callback_data.setdefault((message.chat_id, message.message_id), set())
        shown.update(message.callback_data())
        return message

    def find(self, chat_id: int, message_id: int) -> ChatMessage | None:
        """A message that exists (not deleted) in a chat."""
        return self.chat_messages.get(chat_id, {}).get(message_id)

    def delete(self, message: ChatMessage) -> None:
        """Remove a message, remembering it as deleted."""
        del self.chat_messages[message.chat_id][message.message_id]
        self.deleted.setdefault(message.chat_id, []).append(message)

    def store_file(self, data: bytes, *, file_name: str | None = None,
                   mime_type: str | None = None) -> StoredFile:
        """Keep file contents under a fresh file_id."""
        number = self.serial()
        stored = StoredFile(f"BQACAgIAAxkStandIn{number:08d}", f"AgADStandIn{number:06d}", data,
                            file_name, mime_type)
        self.files[stored.file_id] = stored
        return stored

    def message_dict(self, message: ChatMessage, *, with_reply: bool = True) -> JsonDict:
        """The Bot API Message object for a stored message."""
        sender = self.bot if message.from_bot else self.users[message.sender_id]
        out: JsonDict = {
            "message_id": message.message_id,
            "from": sender.to_dict(),
            "chat": self.chats[message.chat_id].to_dict(),
            "date": message.date,
        }
        out.update(_text_fields(message))
        out.update(message.content)
        if markup := inline_markup(message.reply_markup):
            out["reply_markup"] = markup
        if message.edit_date is not None:
            out["edit_date"] = message.edit_date
        target = self.find(message.chat_id, message.reply_to) if message.reply_to else None
        if with_reply and target is not None:
            out["reply_to_message"] = self.message_dict(target, with_reply=False)
        return out

    def enqueue(self, kind: str, payload: JsonDict) -> int:
        """Add an update for the bot (unless allowed_updates filters it out); wake pollers."""
        update: JsonDict = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        if self._wanted(kind):
            self.updates.append(update)
        else:
            self.filtered_updates.append(update)
        self.lock.notify_all()
        return int(update["update_id"])

    def _wanted(self, kind: str) -> bool:
        """Whether the bot's allowed_updates lets this kind of update through."""
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in DEFAULT_UPDATE_TYPES

    def get_updates(self, params: JsonDict) -> list[JsonDict]:
        """getUpdates: confirm by offset, then return at once or long-poll for up to `timeout`."""
        if self.webhook["url"]:
            msg = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook"
            raise ApiError(409, f"{msg} to delete the webhook first")
        self.poll_generation += 1
        generation = self.poll_generation
        self.lock.notify_all()
        self._confirm(params.get("offset", 0))
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"])
        limit = min(max(params.get("limit", 100), 1), 100)
        self._long_poll(generation, max(params.get("timeout", 0), 0))
        batch = self.updates[:limit]
        if batch:
            self.highest_fetched = max(self.highest_fetched, batch[-1]["update_id"])
        return batch

    def _long_poll(self, generation: int, timeout: float) -> None:
        """Wait until an update arrives, the timeout passes, or a newer poll takes over (409)."""
        deadline = time.monotonic() + timeout
        self.waiting_polls += 1
        try:
            while not self.updates and not self.closed and time.monotonic() < deadline:
                self.lock.wait(deadline - time.monotonic())
                if generation != self.poll_generation:
                    msg = "Conflict: terminated by other getUpdates request; make sure that only"
                    raise ApiError(409, f"{msg} one bot instance is running")
        finally:
            self.waiting_polls -= 1

    def _confirm(self, offset: int) -> None:
        """Forget updates below a positive offset, or all but the last -offset ones."""
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]


def _text_fields(message: ChatMessage) -> JsonDict:
    """text/entities or caption/caption_entities of a Message object."""
    out: JsonDict = {}
    if message.text is not None:
        out["text"] = message.text
        if message.entities:
            out["entities"] = list(message.entities)
    if message.caption is not None:
        out["caption"] = message.caption
        if message.caption_entities:
            out["caption_entities"] = list(message.caption_entities)
    return out
