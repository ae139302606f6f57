"""Every menu reads typed answers (clinical spec §2a); menus register their handlers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clinic import appointments
from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.content import Content
from bot.conversation import Action, Conversations, Menu, Reply, Step
from bot.conversation.menus import Menus
from bot.outbox import CHECKIN
from bot.storage import Store

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CHAT = 1001
CLINIC = -500
SCREENING = ("/start", *["no"] * 11, "40", "no", "yes", "6", "none")  # conservative: offered


@pytest.fixture
def conversations(content: Content, store: Store) -> Conversations:
    return Conversations(content, store, clock=lambda: NOW, clinic_chat_id=CLINIC,
                         menus=(APPOINTMENT_MENU,))


async def say(conversations: Conversations, *lines: str) -> Reply:
    """Each line as the patient types it (a /command or text); the last reply."""
    reply = None
    for line in lines:
        command = line[1:] if line.startswith("/") else None
        reply = await conversations.handle(Action(CHAT, command=command, text=line))
    assert reply is not None
    return reply


def keys(reply: Reply) -> list[str]:
    return [part.key for message in reply.turn.messages for part in message.parts]


def values(reply: Reply) -> list[str]:
    return [option.value for option in reply.menu]


OFFER = ["checkin:accept", "checkin:decline"]


async def checkins_planned(store: Store) -> int:
    return len([r for r in await store.pending(CHAT) if r.kind == CHECKIN])


@pytest.mark.parametrize("typed", ["yes please", "Yes, please!", "yes", "好的，需要", "1"])  # noqa: RUF001  # the Chinese label as typed
async def test_s2a_a_typed_yes_to_the_check_in_offer_is_a_yes(
    conversations: Conversations, store: Store, typed: str
) -> None:
    offered = await say(conversations, *SCREENING)
    assert values(offered) == OFFER

    accepted = await say(conversations, typed)

    assert keys(accepted)[0] == "rec.checkin_accepted"
    assert await checkins_planned(store) == 3


@pytest.mark.parametrize("typed", ["no", "no thanks", "不用了，谢谢"])  # noqa: RUF001  # the Chinese label
async def test_s2a_a_typed_no_to_the_check_in_offer_declines(
    conversations: Conversations, store: Store, typed: str
) -> None:
    await say(conversations, *SCREENING)
    declined = await say(conversations, typed)

    assert keys(declined)[0] == "rec.checkin_declined"
    assert await checkins_planned(store) == 0


@pytest.mark.parametrize("typed", ["maybe later", "what does it cost", "🙂"])
async def test_s2a_unread_text_at_the_check_in_offer_is_asked_again_with_its_buttons(
    conversations: Conversations, store: Store, typed: str
) -> None:
    await say(conversations, *SCREENING)
    again = await say(conversations, typed)

    assert keys(again) == ["menu.again", "rec.checkin_offer"]
    assert values(again) == OFFER
    assert await checkins_planned(store) == 0
    accepted = await say(conversations, "yes please")  # still open: the answer is read
    assert keys(accepted)[0] == "rec.checkin_accepted"


async def test_s2a_the_check_in_offer_stays_open_through_help_and_details(
    conversations: Conversations,
) -> None:
    await say(conversations, *SCREENING)
    for command in ("/help", "/details", "/mydata", "/start"):
        shown = await say(conversations, command)
        assert keys(shown)[-1] == "rec.checkin_offer", command
        assert values(shown) == OFFER
    accepted = await say(conversations, "yes")
    assert keys(accepted)[0] == "rec.checkin_accepted"


async def test_s2a_a_typed_yes_at_forget_is_asked_again_and_deletes_nothing(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", "no", "/forget")

    again = await say(conversations, "yes")

    # Erasure cannot be undone: a bare yes may be meant for the question before.
    assert keys(again) == ["menu.forget_typed_yes", "app.forget_confirm"]
    assert [v.partition(":")[0] + ":" + v.split(":")[1] for v in values(again)] == [
        "forget:yes", "forget:no"]
    async with store.transaction(CHAT, NOW) as tx:
        assert await tx.load() is not None


async def test_s2a_a_typed_no_cancels_forget_and_the_buttons_words_delete(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", "no", "/forget")
    cancelled = await say(conversations, "no")
    assert keys(cancelled)[0] == "app.forget_cancelled"
    assert cancelled.turn.question is not None
    assert cancelled.turn.question.fact == "bladder_bowel"

    await say(conversations, "/forget")
    gone = await say(conversations, "Yes, delete everything")
    assert keys(gone) == ["app.forgotten"]
    async with store.transaction(CHAT, NOW) as tx:
        assert await tx.load() is None


async def test_s2a_unread_text_at_forget_is_asked_again(conversations: Conversations) -> None:
    await say(conversations, "/start", "/forget")
    again = await say(conversations, "hmm")
    assert keys(again) == ["menu.again", "app.forget_confirm"]
    assert len(again.menu) == 2


@pytest.mark.parametrize(("typed", "language"), [("中文", "zh"), ("English", "en"), ("zh", "zh"),
                                                 ("2", "zh")])
async def test_s2a_the_language_menu_reads_a_typed_language(
    conversations: Conversations, typed: str, language: str
) -> None:
    await say(conversations, "/start", "/language")
    chosen = await say(conversations, typed)
    assert chosen.language == language
    assert keys(chosen)[0] == "app.language_set"


async def test_s2a_unread_text_at_the_language_menu_is_asked_again(
    conversations: Conversations,
) -> None:
    await say(conversations, "/start", "/language")
    again = await say(conversations, "no")
    assert keys(again) == ["menu.again", "app.language_prompt"]
    assert values(again) == ["lang:en", "lang:zh"]


async def book(store: Store, at: datetime) -> appointments.Appointment:
    visit = appointments.Appointment("250303090000", at, "Europe/London", "Room 2")
    async with store.transaction(CHAT, NOW) as tx:
        await appointments.book(tx, visit, "en")
    return visit


@pytest.mark.parametrize(("typed", "choice"), [("I will come", "confirm"), ("yes", "confirm"),
                                               ("I need another time", "reschedule")])
async def test_s2a_a_typed_answer_to_an_appointment_is_read(
    conversations: Conversations, store: Store, typed: str, choice: str
) -> None:
    await say(conversations, *SCREENING, "no")
    await book(store, datetime(2025, 3, 5, 14, 0, tzinfo=ZoneInfo("Europe/London")))

    answered = await say(conversations, typed)

    assert keys(answered)[0] == f"appointment.{choice}"
    events = [e.data for e in await store.events(CHAT) if e.kind == appointments.ANSWER_EVENT]
    assert [e["choice"] for e in events] == [choice]


async def test_s2a_unread_text_while_an_appointment_waits_is_asked_again_with_its_buttons(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, *SCREENING, "no")
    visit = await book(store, datetime(2025, 3, 5, 14, 0, tzinfo=ZoneInfo("Europe/London")))

    again = await say(conversations, "no")  # "no" could mean "I cannot come" or "no thanks"

    assert keys(again) == ["menu.again", "appointment.reminder.day_before"]
    assert values(again) == [appointments.callback(visit.id, c) for c in appointments.CHOICES]
    assert [e for e in await store.events(CHAT) if e.kind == appointments.ANSWER_EVENT] == []


async def test_s2a_text_after_a_visit_has_passed_is_not_read_as_its_answer(
    content: Content, store: Store
) -> None:
    later = Conversations(content, store, clock=lambda: NOW + timedelta(days=9),
                          menus=(APPOINTMENT_MENU,))
    await say(later, *SCREENING, "no")
    await book(store, datetime(2025, 3, 5, 14, 0, tzinfo=ZoneInfo("Europe/London")))

    reply = await say(later, "yes")
    assert keys(reply) == ["app.finished"]


async def test_s4_a_method_typed_by_name_after_a_result_shows_its_explanation(
    conversations: Conversations,
) -> None:
    await say(conversations, *SCREENING, "no")
    shown = await say(conversations, "Treatment without surgery (conservative care)")
    assert keys(shown)[0] == "rec.option_title"


async def test_a_feature_registers_its_menu_and_a_prefix_is_taken_once(
    content: Content, store: Store
) -> None:
    async def handle(step: Step, rest: str) -> Reply:
        return step.noted("app.help") if rest == "hello" else step.noted("app.stale_button")

    feature = Menu("feature:", handle)
    conversations = Conversations(content, store, clock=lambda: NOW, menus=(feature,))
    await say(conversations, "/start")
    reply = await conversations.handle(Action(CHAT, text="feature:hello"))
    assert keys(reply)[0] == "app.help"
    with pytest.raises(ValueError, match="registered twice"):
        Menus((feature, feature))


async def test_s4_a_method_named_while_the_check_in_offer_waits_is_shown_and_the_offer_kept(
    conversations: Conversations,
) -> None:
    await say(conversations, *SCREENING)
    shown = await say(conversations, "Treatment without surgery (conservative care)")
    assert keys(shown)[0] == "rec.option_title"
    assert keys(shown)[-1] == "rec.checkin_offer"
    assert values(shown) == OFFER
    accepted = await say(conversations, "yes please")
    assert keys(accepted)[0] == "rec.checkin_accepted"


async def test_s4_mydata_shows_the_button_chosen_does_not_apply(
    conversations: Conversations, content: Content
) -> None:
    await say(conversations, "/start", *["no"] * 11, "40")
    question = (await say(conversations, "/help")).turn.question
    assert question is not None
    assert question.fact == "pregnant"
    does_not_apply = next(o.value for o in question.options
                          if o.label.key == "opt.does_not_apply")
    await conversations.handle(Action(CHAT, text=does_not_apply, seq=question.seq))

    for language, expected in (("en", "Pregnant, or could be: Does not apply"),
                               ("zh", "不适用")):
        reply = await say(conversations, "/mydata")
        text = content.catalog.message_plain(reply.turn.messages[0], language)
        assert expected in text
        assert "Pregnant, or could be: No" not in text
