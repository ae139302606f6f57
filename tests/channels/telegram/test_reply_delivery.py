"""Replies through the shared pacer: retried through 429s and server faults, never silently lost."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.bot_harness import Bot
from support.botapi_standin import StandIn, User
from telegram import Update
from telegram.ext import ApplicationBuilder, TypeHandler

from bot.channels.telegram import handlers, paced
from bot.channels.telegram.handlers import TelegramChannel
from bot.content import Content
from bot.conversation import Conversations
from bot.dialogue.turn import Text
from bot.logsafe import chat_ref
from bot.ops import metrics
from bot.reminders.pacing import CHAT_BURST, Pacer, burst_allowance
from bot.storage import Store
from bot.storage.sqlite import SqliteStore


class Time:
    """A clock that moves only when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def time() -> Time:
    return Time()


@pytest.fixture
async def bot(
    standin: StandIn, content: Content, store: Store, time: Time
) -> AsyncIterator[Bot]:
    pace = Pacer(clock=time.clock, sleep=time.sleep, chat_burst=CHAT_BURST)
    channel = TelegramChannel(Conversations(content, store), pace=pace, sleep=time.sleep)
    app = (ApplicationBuilder().token(standin.token).base_url(standin.base_url)
           .base_file_url(standin.base_file_url).build())
    app.add_handler(TypeHandler(Update, channel.on_update))
    async with app:
        yield Bot(app, standin)


def _texts(standin: StandIn, user: User) -> list[str]:
    return [m.text or "" for m in standin.messages(user) if m.from_bot]


async def test_a_reply_through_five_bad_gateways_still_arrives_and_each_is_logged(
    bot: Bot, standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    patient = standin.new_user("Pat", language_code="en")
    standin.refuse_next(patient, 502, times=5)
    with caplog.at_level(logging.WARNING, logger=handlers.__name__):
        await bot.say(patient, "/help")

    assert _texts(standin, patient), "the patient heard nothing once Telegram recovered"
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 5
    assert all(chat_ref(patient.chat_id) in r.getMessage() for r in retries)
    assert str(patient.chat_id) not in caplog.text  # only the salted reference is logged


async def test_a_reply_flooded_five_times_waits_each_retry_after_then_arrives(
    bot: Bot, standin: StandIn, time: Time, caplog: pytest.LogCaptureFixture
) -> None:
    patient = standin.new_user("Pat", language_code="en")
    standin.refuse_next(patient, 429, retry_after=3, times=5)
    with caplog.at_level(logging.WARNING, logger=handlers.__name__):
        await bot.say(patient, "/help")

    assert _texts(standin, patient)
    assert len([r for r in caplog.records if "429" in r.getMessage()]) == 5
    assert time.now >= 5 * 3.0  # each retry_after was waited out before sending again


async def test_a_reply_that_never_gets_through_is_given_up_with_an_error_line(
    bot: Bot, standin: StandIn, time: Time, caplog: pytest.LogCaptureFixture
) -> None:
    patient = standin.new_user("Pat", language_code="en")
    standin.refuse_next(patient, 502, times=10_000)
    with caplog.at_level(logging.WARNING, logger=handlers.__name__):
        await bot.say(patient, "/help")

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "given up" in errors[0].getMessage()
    assert time.now >= paced.PATIENCE * 0.9  # it kept trying for the whole patience
    assert _texts(standin, patient) == []


async def test_a_hold_on_one_chat_leaves_every_other_chat_free() -> None:
    """The pacer's hold on one chat leaves every other chat's moment free."""
    time = Time()
    pace = Pacer(clock=time.clock, sleep=time.sleep, chat_burst=CHAT_BURST)
    await pace.hold(1, 20.0)
    assert await pace.book(2, urgent=True) == 0.0
    assert await pace.ready_in(1) == pytest.approx(20.0 + burst_allowance(CHAT_BURST, 1.0))
    held = await pace.book(1, urgent=True)
    assert held == pytest.approx(20.0)


class _BrokenPace(Pacer):
    """A shared pacer whose database is unreachable."""

    async def book(self, chat_id: int, *, urgent: bool) -> float | None:
        del chat_id, urgent
        raise ConnectionError


async def test_a_reply_still_goes_out_when_the_pacer_cannot_be_asked(
    standin: StandIn, content: Content, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    channel = TelegramChannel(Conversations(content, store), pace=_BrokenPace())
    app = (ApplicationBuilder().token(standin.token).base_url(standin.base_url)
           .base_file_url(standin.base_file_url).build())
    app.add_handler(TypeHandler(Update, channel.on_update))
    patient = standin.new_user("Pat", language_code="en")
    async with app:
        with caplog.at_level(logging.WARNING, logger=handlers.__name__):
            await Bot(app, standin).say(patient, "/help")
    assert _texts(standin, patient)
    assert "pacer unavailable (ConnectionError)" in caplog.text


async def test_a_patient_who_blocked_the_bot_is_one_line_per_reply_without_a_traceback(
    bot: Bot, standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    patient = standin.new_user("Pat", language_code="en")
    await bot.say(patient, "/start")
    question = standin.last_bot_message(patient)
    assert question is not None
    buttons = [b["callback_data"] for row in (question.reply_markup or {})["inline_keyboard"]
               for b in row]
    standin.block_bot(patient)
    with caplog.at_level(logging.INFO):
        await bot.press(patient, question, buttons[-1])
        await bot.say(patient, "/help")
    told = [r for r in caplog.records if "blocks the bot" in r.getMessage()]
    assert len(told) == 2  # one line for each reply
    assert all(r.exc_info is None and r.levelno < logging.ERROR for r in caplog.records)


async def test_a_step_the_database_refuses_is_a_calm_note_a_count_and_one_line(
    standin: StandIn, content: Content, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = SqliteStore(tmp_path / "never-opened.db")  # every step fails, as with a lost disk
    channel = TelegramChannel(Conversations(content, gone), pace=Pacer(1e6, chat_interval=0.0))
    app = (ApplicationBuilder().token(standin.token).base_url(standin.base_url)
           .base_file_url(standin.base_file_url).build())
    app.add_handler(TypeHandler(Update, channel.on_update))
    patient = standin.new_user("Pat", language_code="en")
    before = metrics.REGISTRY.get_sample_value("ldh_errors_total", {"kind": "storage"}) or 0.0
    async with app:
        with caplog.at_level(logging.INFO):
            await Bot(app, standin).say(patient, "/start")
    assert _texts(standin, patient) == [content.catalog.plain(Text("app.error"), "en")]
    after = metrics.REGISTRY.get_sample_value("ldh_errors_total", {"kind": "storage"})
    assert after == before + 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage().split(": ", 1)[1] for r in errors] == [
        "the database refused (StorageError)"]
    assert errors[0].exc_info is None
