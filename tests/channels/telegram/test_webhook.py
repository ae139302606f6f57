"""Webhook bodies with the right secret that are not updates: 400, counted, summarised, silent.

Served in-process (the same handler ``ldh-bot run`` serves) against the Bot API stand-in, so
whatever reached a chat would show there.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from support.bot_harness import unpaced
from support.botapi_standin import StandIn, User
from telegram import Update
from telegram.ext import ApplicationBuilder, TypeHandler
from tornado.httpserver import HTTPServer

from bot.channels.telegram import webhook
from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.webhook import SECRET_HEADER, webhook_application
from bot.content import Content
from bot.conversation import Conversations
from bot.ops import metrics
from bot.storage import Store

SECRET = "webhook-secret-of-this-test"  # noqa: S105  # a test value, not a credential


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
async def client(
    standin: StandIn, content: Content, store: Store
) -> AsyncIterator[httpx.AsyncClient]:
    channel = TelegramChannel(Conversations(content, store), pace=unpaced())
    app = (ApplicationBuilder().token(standin.token).base_url(standin.base_url)
           .base_file_url(standin.base_file_url).build())
    app.add_handler(TypeHandler(Update, channel.on_update))
    port = _free_port()
    async with app:
        server = HTTPServer(webhook_application(app, "hook", SECRET))
        server.listen(port, "127.0.0.1")
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         headers={SECRET_HEADER: SECRET}) as http:
                yield http
        finally:
            server.stop()


def _message(user: User, text: str) -> dict[str, object]:
    return {"message_id": 1, "date": int(time.time()), "text": text,
            "chat": {"id": user.id, "type": "private", "first_name": "Pat"},
            "from": {"id": user.id, "is_bot": False, "first_name": "Pat", "language_code": "en"}}


def _garbage(user: User) -> list[bytes]:
    """Bodies that carry the secret but are no update; each names the patient's real chat."""
    message = _message(user, "/start")
    nested = b'{"update_id": 7, "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    shallow_but_deep = {"update_id": 8, "message": message, "x": json.loads("[" * 40 + "]" * 40)}

    def body(value: object) -> bytes:
        return json.dumps(value).encode()

    return [
        nested,
        body(shallow_but_deep),
        body({"update_id": 2**70, "message": message}),
        body({"update_id": 9, "message": {**message, "date": 2**70}}),
        body({"update_id": "9", "message": message}),
        body({"update_id": True, "message": message}),
        body({"update_id": -1, "message": message}),
        body({"update_id": 10, "message": "hello"}),
        body({"update_id": 11, "message": {**message, "chat": {"id": str(user.id),
                                                              "type": "private"}}}),
        body({"update_id": 12, "message": {**message, "text": 12}}),
        body({"update_id": 13, "message": {**message, "from": None}}),
        body({"update_id": 14, "callback_query": {"id": "q", "data": "a:1:no"}}),
        b'{"update_id": 15, "message": {"message_id": NaN}}',
        b'{"update_id": 16, "x": 1e999}',
    ]


def _refused() -> float:
    labels = {"reason": "not_an_update"}
    return metrics.REGISTRY.get_sample_value("ldh_webhook_refused_total", labels) or 0.0


async def test_bodies_that_are_no_update_get_400_a_count_and_no_reply(
    client: httpx.AsyncClient, standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    patient = standin.new_user("Pat")
    bodies = _garbage(patient)
    before = _refused()
    with caplog.at_level(logging.INFO):
        answers = [await client.post("/hook", content=body) for body in bodies]
    assert [a.status_code for a in answers] == [400] * len(bodies)
    assert _refused() == before + len(bodies)
    assert standin.messages(patient) == [], "a body that is not an update reached the chat"
    # One summary line for the lot, never one per request, and no traceback.
    lines = [r for r in caplog.records if r.name in {webhook.__name__, "tornado.access"}]
    assert len(lines) == 1
    assert "webhook requests refused: 1 (not_an_update: 1)" in lines[0].getMessage()
    assert all(r.exc_info is None and r.levelno < logging.ERROR for r in caplog.records)


async def test_an_update_after_the_garbage_is_served(
    client: httpx.AsyncClient, standin: StandIn
) -> None:
    patient = standin.new_user("Pat")
    for body in _garbage(patient):
        await client.post("/hook", content=body)
    answer = await client.post("/hook", json={"update_id": 20,
                                              "message": _message(patient, "/start")})
    assert answer.status_code == 200
    assert standin.messages(patient), "the patient's real /start was answered"
