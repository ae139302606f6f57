"""The python-telegram-bot sender against the Bot API stand-in: rendering and error mapping."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from support.botapi_standin import StandIn
from support.botapi_state import RateLimits
from telegram import Bot

from bot.channels.telegram.sender import TelegramSender
from bot.content import load_content
from bot.dialogue.texts import Catalog
from bot.dialogue.turn import Message, Text
from bot.outbox import Button, Payload
from bot.reminders.sending import Deferred, Outcome, Verdict
from bot.storage import OutboxItem

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_content().catalog


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
async def bot(standin: StandIn) -> AsyncIterator[Bot]:
    async with Bot(standin.token, base_url=standin.base_url) as client:
        yield client


class Gates:
    """Counts the gate calls; can be told to defer."""

    def __init__(self) -> None:
        self.passed = 0
        self.defer = False

    async def __call__(self) -> None:
        if self.defer:
            raise Deferred(0.0, "stopping")
        self.passed += 1


def row(chat_id: int, payload: Payload | dict[str, object]) -> OutboxItem:
    data = payload.to_json() if isinstance(payload, Payload) else payload
    return OutboxItem(1, "checkin", chat_id, data, datetime(2025, 3, 3, tzinfo=UTC), 1, None)


def reminder(language: str = "en", *texts: Text, buttons: tuple[Button, ...] = (),
             chart_of: int | None = None) -> Payload:
    messages = tuple(Message((text,)) for text in texts) or (Message((Text("rec.disclaimer"),)),)
    return Payload(language, messages, buttons, chart_of)


async def test_a_row_is_rendered_in_its_language_with_buttons_on_the_last_message(
    standin: StandIn, bot: Bot, catalog: Catalog
) -> None:
    user = standin.new_user()
    payload = reminder("zh", Text("rec.disclaimer"), Text.raw("<b>not markup</b> & " + "x" * 5000),
                       buttons=(Button(Text("opt.cancel"), "checkin:later"),))
    gates = Gates()
    outcome = await TelegramSender(bot, catalog).send(row(user.chat_id, payload), gates, 0)
    sent = standin.messages(user)
    assert outcome == Outcome(Verdict.SENT, len(sent))
    assert gates.passed == len(sent) == 3  # the disclaimer, then 5000+ characters in two
    assert sent[0].text == catalog.plain(Text("rec.disclaimer"), "zh")
    assert sent[1].text is not None
    assert sent[1].text.startswith("<b>not markup</b> & x")
    assert [m.callback_data() for m in sent] == [[], [], ["m:checkin:later"]]
    assert sent[-1].buttons()[0].text == catalog.plain(Text("opt.cancel"), "zh")
    standin.assert_no_rejections()


async def test_skip_sends_only_the_parts_not_yet_delivered(
    standin: StandIn, bot: Bot, catalog: Catalog
) -> None:
    user = standin.new_user()
    payload = reminder("en", Text("rec.disclaimer"), Text("app.help"))
    outcome = await TelegramSender(bot, catalog).send(row(user.chat_id, payload), Gates(), 1)
    assert outcome == Outcome(Verdict.SENT, 2)
    assert [m.text for m in standin.messages(user)] == [catalog.plain(Text("app.help"), "en")]


async def test_the_chart_follows_the_text_and_a_missing_chart_is_skipped(
    standin: StandIn, bot: Bot, catalog: Catalog
) -> None:
    user, other, third = standin.new_user(), standin.new_user(), standin.new_user()
    drawn: list[int] = []

    async def charts(patient: int) -> bytes | None:
        drawn.append(patient)
        if patient == other.chat_id:
            return None
        if patient == third.chat_id:
            msg = "no data"
            raise ValueError(msg)
        return PNG

    sender = TelegramSender(bot, catalog, charts)
    for chat in (user, other, third):
        outcome = await sender.send(row(chat.chat_id, reminder(chart_of=chat.chat_id)), Gates(), 0)
        assert outcome.verdict is Verdict.SENT
    assert [m.kind for m in standin.messages(user)] == ["text", "photo"]
    assert [m.kind for m in standin.messages(other)] == ["text"]
    assert [m.kind for m in standin.messages(third)] == ["text"]
    assert drawn == [user.chat_id, other.chat_id, third.chat_id]


async def test_without_a_chart_source_the_text_alone_goes(
    standin: StandIn, bot: Bot, catalog: Catalog
) -> None:
    user = standin.new_user()
    outcome = await TelegramSender(bot, catalog).send(
        row(user.chat_id, reminder(chart_of=user.chat_id)), Gates(), 0)
    assert outcome == Outcome(Verdict.SENT, 2)
    assert len(standin.messages(user)) == 1


async def test_a_blocked_user_is_blocked(standin: StandIn, bot: Bot, catalog: Catalog) -> None:
    user = standin.new_user()
    standin.block_bot(user)
    outcome = await TelegramSender(bot, catalog).send(row(user.chat_id, reminder()), Gates(), 0)
    assert (outcome.verdict, outcome.cause) == (Verdict.BLOCKED, "Forbidden")


# python-telegram-bot warns about retry_after's future type while building its own error.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_a_429_carries_retry_after_and_how_far_the_row_got(
    standin: StandIn, bot: Bot, catalog: Catalog
) -> None:
    user = standin.new_user()
    standin.enable_rate_limits(RateLimits(per_chat_burst=1))
    payload = reminder("en", Text("rec.disclaimer"), Text("app.help"))
    outcome = await TelegramSender(bot, catalog).send(row(user.chat_id, payload), Gates(), 0)
    assert (outcome.verdict, outcome.delivered, outcome.cause) == (Verdict.FLOOD, 1, "RetryAfter")
    assert outcome.retry_after >= 1.0


async def test_a_refused_message_is_rejected(standin: StandIn, bot: Bot, catalog: Catalog) -> None:
    del standin
    outcome = await TelegramSender(bot, catalog).send(row(424242, reminder()), Gates(), 0)
    assert (outcome.verdict, outcome.cause) == (Verdict.REJECTED, "BadRequest")
    assert "chat not found" in outcome.detail.lower()


@pytest.mark.parametrize(
    "payload",
    [
        reminder("en", Text("no.such.text")),
        reminder(buttons=(Button(Text("opt.cancel"), "x" * 65),)),
        {"language": "en"},
    ],
    ids=["unknown text key", "callback data too long", "malformed row"],
)
async def test_a_row_that_cannot_be_rendered_is_rejected_without_a_call(
    standin: StandIn, bot: Bot, catalog: Catalog, payload: Payload | dict[str, object]
) -> None:
    user = standin.new_user()
    gates = Gates()
    outcome = await TelegramSender(bot, catalog).send(row(user.chat_id, payload), gates, 0)
    assert outcome.verdict is Verdict.REJECTED
    assert gates.passed == 0
    assert standin.calls_to("sendMessage") == []


async def test_a_network_error_is_a_failure_to_retry(catalog: Catalog) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    offline = Bot("123:abc", base_url=f"http://127.0.0.1:{port}/bot")  # nothing listens there
    try:
        outcome = await TelegramSender(offline, catalog).send(row(1, reminder()), Gates(), 0)
    finally:
        await offline.shutdown()
    assert outcome.verdict is Verdict.FAILED
    assert outcome.cause in {"NetworkError", "TimedOut"}


async def test_a_deferring_gate_stops_the_row_before_any_call(
    standin: StandIn, bot: Bot, catalog: Catalog
) -> None:
    user = standin.new_user()
    gates = Gates()
    gates.defer = True
    with pytest.raises(Deferred):
        await TelegramSender(bot, catalog).send(row(user.chat_id, reminder()), gates, 0)
    assert standin.messages(user) == []
