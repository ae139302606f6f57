"""An in-process stand-in for api.telegram.org, for end-to-end tests of the bot over real HTTP.

Usage::

    with StandIn() as api:
        user = api.new_user(language_code="en")
        ...  # run the bot with LDH_TELEGRAM_API_URL=api.base_url and the token api.token
        api.send_text(user, "/start")
        reply = api.wait_for_bot_message(user)
        api.press(user, reply.message_id, reply.callback_data()[0])
        api.assert_no_rejections()
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import replace
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from support.botapi_methods import execute, photo_sizes
from support.botapi_spec import SPEC_PATH, ApiError, Spec, UploadedFile, bad_request
from support.botapi_state import (
    DEFAULT_TOKEN,
    Button,
    Call,
    CallbackQueryInfo,
    Chat,
    ChatMessage,
    RateLimiter,
    RateLimits,
    User,
    World,
)
from support.botapi_text import utf16_len

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from types import TracebackType

__all__ = [
    "DEFAULT_TOKEN",
    "Button",
    "Call",
    "CallbackQueryInfo",
    "Chat",
    "ChatMessage",
    "RateLimits",
    "StandIn",
    "User",
]

JsonDict = dict[str, Any]
ChatRef = User | Chat | int
FileParts = dict[str, UploadedFile]
T = TypeVar("T")

_METHOD_PATH = re.compile(r"/bot([^/]+)/([A-Za-z]+)/?")
_FILE_PATH = re.compile(r"/file/bot([^/]+)/documents/([^/]+)")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?")
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
_OGG = b"OggS\x00\x02" + bytes(22)


def _chat_id(chat: ChatRef) -> int:
    """The chat id of a user (their private chat), a chat, or a bare id."""
    return chat if isinstance(chat, int) else chat.chat_id


def _last_values(query: Mapping[str, list[str]]) -> dict[str, str]:
    """parse_qs gives lists; Telegram takes the last value of a repeated parameter."""
    return {key: values[-1] for key, values in query.items()}


def _from_json(body: bytes) -> dict[str, str]:
    """A JSON body: top-level strings stay strings, other values are JSON-encoded (as Telegram)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        msg = "can't parse JSON request body"
        raise bad_request(msg) from None
    if not isinstance(data, dict):
        msg = "JSON request body must be an object"
        raise bad_request(msg)
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in data.items()
        if value is not None
    }


def _from_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], FileParts]:
    """Fields and file parts of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_param("filename", header="content-disposition")
        if filename is None:
            fields[name] = data.decode("utf-8")
        else:
            files[name] = UploadedFile(name, str(filename), part.get_content_type(), data)
    return fields, files


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], FileParts]:
    """Request parameters from a JSON, urlencoded or multipart body."""
    mime = content_type.split(";", maxsplit=1)[0].strip().lower()
    if not body:
        return {}, {}
    if mime == "application/json":
        return _from_json(body), {}
    if mime == "multipart/form-data":
        return _from_multipart(content_type, body)
    return _last_values(parse_qs(body.decode("utf-8"), keep_blank_values=True)), {}


class _Server(ThreadingHTTPServer):
    """The HTTP server, carrying the world its handlers serve."""

    daemon_threads = True
    # A bot sends for dozens of chats at once; the default listen backlog of 5 drops them.
    request_queue_size = 256

    def __init__(self, world: World) -> None:
        """Listen on a free port of 127.0.0.1."""
        super().__init__(("127.0.0.1", 0), _Handler)
        self.world = world

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up (a bot shutting down mid long-poll) are not errors."""
        del request, client_address


class _Handler(BaseHTTPRequestHandler):
    """Serves /bot<token>/<method> and /file/bot<token>/documents/<file_id>."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        """GET requests (parameters in the query string)."""
        self._serve()

    def do_POST(self) -> None:
        """POST requests (parameters in the body and/or query string)."""
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - overridden signature
        """Stay quiet; calls are recorded in StandIn.calls instead."""
        del format, args

    def _serve(self) -> None:
        """Route one request."""
        url = urlsplit(self.path)
        path = unquote(url.path)
        body = self._read_body()
        if file_match := _FILE_PATH.fullmatch(path):
            self._serve_file(file_match.group(1), file_match.group(2))
            return
        method_match = _METHOD_PATH.fullmatch(path)
        if method_match is None:
            self._reply_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        try:
            fields, files = parse_body(self.headers.get("Content-Type", ""), body)
        except ApiError as error:
            self._reply_json(error.code, {"ok": False, "error_code": error.code,
                                          "description": error.description})
            return
        raw = {**_last_values(parse_qs(url.query, keep_blank_values=True)), **fields}
        status, reply = execute(self.server.world, method_match.group(1), method_match.group(2),
                                raw, files, client_alive=self._client_alive)
        self._reply_json(status, reply)

    def _client_alive(self) -> bool:
        """False when the client hung up (its socket reads EOF) while the call was running."""
        try:
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True  # nothing to read: the client is waiting for our reply
        except OSError:
            return False
        return peeked != b""

    def _read_body(self) -> bytes:
        """The request body, by Content-Length or chunked transfer encoding."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve_file(self, token: str, file_id: str) -> None:
        """Download of a file the stand-in holds."""
        world = self.server.world
        with world.lock:
            stored = world.files.get(file_id) if token == world.token else None
        if stored is None:
            self._reply_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        self._reply(200, stored.data, stored.mime_type or "application/octet-stream")

    def _reply_json(self, status: int, body: JsonDict) -> None:
        """Send a JSON reply."""
        self._reply(status, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    def _reply(self, status: int, data: bytes, content_type: str) -> None:
        """Send a reply; a client that hung up is ignored."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


class StandIn:
    """api.telegram.org for one bot, in-process, with a thread-safe API for tests."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        spec_path: Path = SPEC_PATH,
        strict_ampersand: bool = True,
        callback_timeout: float | None = None,
    ) -> None:
        """Prepare (not start) a stand-in; strict_ampersand rejects a bare '&' in HTML text."""
        self._world = World(Spec.load(spec_path), token, strict_ampersand=strict_ampersand)
        self._world.callback_timeout = callback_timeout
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving on a free port of 127.0.0.1."""
        if self._server is None:
            self._server = _Server(self._world)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name="botapi-standin", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Wake long polls, stop serving and release the port."""
        with self._world.lock:
            self._world.closed = True
            self._world.lock.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        """Start on entry."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop on exit."""
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the stand-in listens on."""
        if self._server is None:
            msg = "the stand-in is not started"
            raise RuntimeError(msg)
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Bot API base URL; clients append <token>/<method> (python-telegram-bot's base_url)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """File download base URL; clients append <token>/<file_path>."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def token(self) -> str:
        """The only token the stand-in accepts."""
        return self._world.token

    @property
    def bot(self) -> User:
        """The bot user getMe returns."""
        return self._world.bot

    @property
    def spec(self) -> Spec:
        """The Bot API spec calls are validated against."""
        return self._world.spec

    # -- building the world ----------------------------------------------------------------------

    def new_user(
        self,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        started: bool = True,
    ) -> User:
        """A user with a private chat (chat id == user id); started=False: never pressed Start."""
        with self._world.lock:
            user = User(self._world.new_user_id(), first_name, last_name, username, language_code)
            return self._world.add_user(user, started=started)

    def new_group(
        self, title: str = "Test group", *, supergroup: bool = False, username: str | None = None
    ) -> Chat:
        """A group (or supergroup) chat the bot is a member of."""
        with self._world.lock:
            chat_id = self._world.new_group_id(supergroup=supergroup)
            kind = "supergroup" if supergroup else "group"
            return self._world.add_chat(Chat(chat_id, kind, title=title, username=username))

    # -- injecting updates -----------------------------------------------------------------------

    def inject_update(self, kind: str, payload: JsonDict) -> int:
        """Queue any update (e.g. "my_chat_member"); returns its update_id."""
        with self._world.lock:
            return self._world.enqueue(kind, payload)

    def send_message(self, chat: ChatRef, user: User, **fields: Any) -> int:
        """A user's message with arbitrary ChatMessage fields (text, caption, content...)."""
        world = self._world
        with world.lock:
            chat_id = _chat_id(chat)
            if chat_id not in world.chats or user.id not in world.users:
                msg = f"unknown chat {chat_id} or user {user.id}; create them first"
                raise ValueError(msg)
            message = ChatMessage(chat_id, world.next_message_id(chat_id), user.id,
                                  from_bot=False, date=int(time.time()), **fields)
            world.store(message)
            world.enqueue("message", world.message_dict(message))
            return message.message_id

    def send_text(self, user: User, text: str) -> int:
        """The user writes in their private chat; a leading /command gets a bot_command entity."""
        return self.send_in_group(user.chat_id, user, text)

    def send_in_group(self, group: ChatRef, user: User, text: str) -> int:
        """The user writes text in a chat (a group, or their private chat)."""
        command = _COMMAND_RE.match(text)
        entities = (
            ({"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))},)
            if command else ()
        )
        return self.send_message(group, user, text=text, entities=entities)

    def send_sticker(self, user: User, emoji: str = "👍") -> int:
        """The user sends a sticker."""
        stored = self._store_file(b"RIFF-sticker", None, "image/webp")
        sticker = {**stored.to_dict(), "type": "regular", "width": 512, "height": 512,
                   "is_animated": False, "is_video": False, "emoji": emoji}
        sticker.pop("mime_type", None)
        return self.send_message(user, user, kind="sticker", content={"sticker": sticker})

    def send_photo(self, user: User, *, caption: str | None = None, data: bytes = _PNG) -> int:
        """The user sends a photo (downloadable through getFile)."""
        stored = self._store_file(data, None, "image/png")
        return self.send_message(user, user, kind="photo", caption=caption,
                                 content={"photo": photo_sizes(stored)})

    def send_voice(self, user: User, *, duration: int = 2, data: bytes = _OGG) -> int:
        """The user sends a voice note."""
        stored = self._store_file(data, None, "audio/ogg")
        voice = {**stored.to_dict(), "duration": duration}
        return self.send_message(user, user, kind="voice", content={"voice": voice})

    def send_document(self, user: User, *, file_name: str = "report.pdf", data: bytes = b"%PDF-1.4",
                      mime_type: str = "application/pdf") -> int:
        """The user sends a document."""
        stored = self._store_file(data, file_name, mime_type)
        return self.send_message(user, user, kind="document",
                                 content={"document": stored.to_dict()})

    def _store_file(self, data: bytes, file_name: str | None, mime_type: str) -> Any:
        """Hold a file a user sends."""
        with self._world.lock:
            return self._world.store_file(data, file_name=file_name, mime_type=mime_type)

    def edit_text(self, user: User, message_id: int, new_text: str, *,
                  chat: ChatRef | None = None) -> int:
        """The user edits one of their text messages; returns the edited_message update_id."""
        world = self._world
        with world.lock:
            message = world.find(_chat_id(chat or user), message_id)
            if message is None or message.sender_id != user.id or message.text is None:
                msg = f"user {user.id} has no text message {message_id} to edit"
                raise ValueError(msg)
            edited = world.store(replace(message, text=new_text, entities=(),
                                         edit_date=int(time.time())))
            return world.enqueue("edited_message", world.message_dict(edited))

    def press(self, user: User, message_id: int, callback_data: str, *,
              chat: ChatRef | None = None) -> str:
        """The user presses a callback button of a bot message; returns the callback query id.

        The button may be one an edit has since removed (a tap racing the edit, or a stale
        client); the callback query then carries the message as it is now.
        """
        world = self._world
        with world.lock:
            chat_id = _chat_id(chat or user)
            message = world.find(chat_id, message_id)
            shown = world.shown_callback_data.get((chat_id, message_id), set())
            if message is None or not message.from_bot or callback_data not in shown:
                msg = f"bot message {message_id} in chat {chat_id} never showed a button "
                msg += f"{callback_data!r}; it showed {sorted(shown)}"
                raise ValueError(msg)
            query = CallbackQueryInfo(f"{world.serial() + 4_000_000_000_000_000}", user.id,
                                      chat_id, message_id, callback_data, time.monotonic())
            world.queries[query.id] = query
            world.enqueue("callback_query", {
                "id": query.id,
                "from": world.users[user.id].to_dict(),
                "message": world.message_dict(message),
                "chat_instance": str(abs(chat_id) * 31 + 7),
                "data": callback_data,
            })
            return query.id

    # -- switches --------------------------------------------------------------------------------

    def enable_rate_limits(self, limits: RateLimits | None = None) -> None:
        """Answer 429 beyond Telegram's limits (30/s overall, 1/s per chat after a burst of 3)."""
        with self._world.lock:
            self._world.limiter = RateLimiter(limits or RateLimits())

    def take_updates(self) -> list[JsonDict]:
        """Remove and return the queued updates, as Telegram does to push them to a webhook."""
        with self._world.lock:
            taken, self._world.updates = self._world.updates, []
            return taken

    def refuse_next(self, chat: ChatRef, status: int, *, retry_after: int | None = None,
                    times: int = 1) -> None:
        """The chat's next ``times`` sends get ``status`` (429 with ``retry_after``, or a 5xx)."""
        with self._world.lock:
            queue = self._world.scripted.setdefault(_chat_id(chat), deque())
            queue.extend([(status, retry_after)] * times)

    def disable_rate_limits(self) -> None:
        """No rate limits (the default)."""
        with self._world.lock:
            self._world.limiter = None

    def block_bot(self, chat: ChatRef) -> None:
        """The user blocks the bot: sends to this chat get 403."""
        with self._world.lock:
            self._world.blocked.add(_chat_id(chat))

    def unblock_bot(self, chat: ChatRef) -> None:
        """The user unblocks the bot."""
        with self._world.lock:
            self._world.blocked.discard(_chat_id(chat))

    # -- reading ---------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every call so far, accepted or refused, in order."""
        with self._world.lock:
            return list(self._world.calls)

    @property
    def rejected(self) -> list[Call]:
        """Refused calls (400, 401, 403, 404, 409, 429) whose client was still there to see it.

        A long poll orphaned by a killed bot process ends with a 409 once the restarted bot
        polls; nobody receives that reply, so it is in `calls` (client_gone=True) but not here.
        """
        return [call for call in self.calls if not call.ok and not call.client_gone]

    def calls_to(self, method: str) -> list[Call]:
        """The calls of one method."""
        return [call for call in self.calls if call.method == method]

    def messages(self, chat: ChatRef) -> list[ChatMessage]:
        """The bot's current (not deleted) messages in a chat, in order, as edited."""
        return [m for m in self.history(chat) if m.from_bot]

    def history(self, chat: ChatRef) -> list[ChatMessage]:
        """All current messages of a chat, the users' and the bot's, in order."""
        with self._world.lock:
            stored = self._world.chat_messages.get(_chat_id(chat), {})
            return [stored[key] for key in sorted(stored)]

    def deleted_messages(self, chat: ChatRef) -> list[ChatMessage]:
        """Messages deleted from a chat, in deletion order."""
        with self._world.lock:
            return list(self._world.deleted.get(_chat_id(chat), []))

    def last_bot_message(self, chat: ChatRef) -> ChatMessage | None:
        """The bot's newest current message in a chat."""
        messages = self.messages(chat)
        return messages[-1] if messages else None

    def message(self, chat: ChatRef, message_id: int) -> ChatMessage | None:
        """One current message of a chat."""
        with self._world.lock:
            return self._world.find(_chat_id(chat), message_id)

    def reply_keyboard(self, chat: ChatRef) -> JsonDict | None:
        """The reply keyboard the bot last showed in a chat (None after ReplyKeyboardRemove)."""
        with self._world.lock:
            return self._world.reply_keyboards.get(_chat_id(chat))

    def unanswered_callback_queries(self) -> list[CallbackQueryInfo]:
        """Callback queries the bot has not answered."""
        with self._world.lock:
            return [q for q in self._world.queries.values() if not q.answered]

    def callback_query(self, query_id: str) -> CallbackQueryInfo:
        """A callback query and its answer (answer holds the answerCallbackQuery parameters)."""
        with self._world.lock:
            return self._world.queries[query_id]

    def commands(self, *, scope: JsonDict | None = None, language_code: str = "") -> list[JsonDict]:
        """The commands set for a scope (default scope when None) and language."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        with self._world.lock:
            return list(self._world.commands.get(key, []))

    def chat_actions(self, chat: ChatRef) -> list[str]:
        """The chat actions (typing...) sent to a chat, in order."""
        with self._world.lock:
            return list(self._world.chat_actions.get(_chat_id(chat), []))

    def delivered(self, chat: ChatRef) -> int:
        """How many messages the bot delivered to a chat."""
        with self._world.lock:
            return self._world.delivered[_chat_id(chat)]

    @property
    def delivered_counts(self) -> dict[int, int]:
        """Messages delivered per chat id."""
        with self._world.lock:
            return dict(self._world.delivered)

    @property
    def too_many_requests(self) -> int:
        """How many 429 replies the stand-in has given."""
        with self._world.lock:
            return self._world.too_many_requests

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._world.lock:
            return len(self._world.updates)

    @property
    def fetched_update_id(self) -> int:
        """The highest update_id any getUpdates has returned (0 if none)."""
        with self._world.lock:
            return self._world.highest_fetched

    @property
    def waiting_polls(self) -> int:
        """getUpdates calls blocked in a long poll right now (the bot is idle, waiting)."""
        with self._world.lock:
            return self._world.waiting_polls

    @property
    def filtered_updates(self) -> list[JsonDict]:
        """Updates dropped because the bot's allowed_updates excluded their type."""
        with self._world.lock:
            return list(self._world.filtered_updates)

    @property
    def webhook(self) -> JsonDict:
        """The webhook as last set (url "" when none)."""
        with self._world.lock:
            return dict(self._world.webhook)

    # -- waiting and asserting -------------------------------------------------------------------

    def _diagnostics(self) -> str:
        """Recent calls, for timeout messages."""
        recent = self.calls[-8:]
        lines = [f"  {c.method} -> {c.status} {c.description or ''}" for c in recent]
        return "recent calls:\n" + "\n".join(lines) if lines else "no calls yet"

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, *,
                 interval: float = 0.02) -> T:
        """Poll until predicate() is truthy and return its value; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() >= deadline:
                msg = f"condition not met within {timeout}s; {self._diagnostics()}"
                raise TimeoutError(msg)
            time.sleep(interval)
        return value

    async def wait_for_async(self, predicate: Callable[[], T], timeout: float = 5.0, *,  # noqa: ASYNC109 - same signature as wait_for
                             interval: float = 0.02) -> T:
        """wait_for for tests whose bot runs in the same event loop."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() >= deadline:
                msg = f"condition not met within {timeout}s; {self._diagnostics()}"
                raise TimeoutError(msg)
            await asyncio.sleep(interval)
        return value

    def wait_for_bot_message(self, chat: ChatRef, *, after: int = 0,
                             timeout: float = 5.0) -> ChatMessage:
        """Wait for a bot message in the chat with message_id > after; return the first such."""
        def newer() -> ChatMessage | None:
            return next((m for m in self.messages(chat) if m.message_id > after), None)

        found = self.wait_for(newer, timeout)
        if found is None:  # wait_for only returns truthy values
            raise TimeoutError
        return found

    def assert_no_rejections(self) -> None:
        """Fail with the refused calls listed, if any."""
        rejected = self.rejected
        if rejected:
            lines = [f"  {c.method}({c.params}) -> {c.status} {c.description}" for c in rejected]
            msg = "the stand-in refused calls:\n" + "\n".join(lines)
            raise AssertionError(msg)
