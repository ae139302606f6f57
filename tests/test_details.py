"""Short first, detail on request (clinical spec §4): a routine result's summary, its buttons,
and each option's full explanation sent on its own, also after a restart of the process."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bot.channels.telegram.render import menu_data, render
from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.dialogue.turn import Message, Text
from bot.storage import Store, open_store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHAT = 3003
NO_RED_FLAGS = dict.fromkeys(
    ["saddle_numbness", "bladder_bowel", "bilateral_leg", "severe_weakness", "leg_weakness",
     "fever", "cancer_history", "weight_loss", "major_trauma", "immune_risk",
     "other_warning_signs"], "no")
# Six weeks of partial relief and a contained protrusion: both minimally invasive methods suit.
MINIMALLY_INVASIVE = {**NO_RED_FLAGS, "age": "38", "pregnant": "no", "leg_pain": "yes",
                      "pain_score": "6", "conservative_course": "6_weeks_or_more",
                      "conservative_response": "partial", "previous_procedure": "none",
                      "imaging": "protrusion", "stenosis": "none", "instability": "no",
                      "huge_herniation": "no"}
OPTIONS = ("percutaneous_decompression", "endoscopic_discectomy")


async def answer_all(conversations: Conversations, answers: Mapping[str, str],
                     language: str = "en") -> Reply:
    """Answer every question the screening asks from ``answers`` (a button where there is one)."""
    reply = await conversations.handle(Action(CHAT, command="start", language_hint=language))
    while (question := reply.turn.question) is not None:
        value = answers[question.fact or ""]
        pressed = value in {option.value for option in question.options}
        reply = await conversations.handle(
            Action(CHAT, text=value, seq=question.seq if pressed else None))
    return reply


def summary_of(reply: Reply) -> Message:
    return next(m for m in reply.turn.messages if m.parts[0].key == "rec.step")


async def press(conversations: Conversations, value: str) -> Reply:
    return await conversations.handle(Action(CHAT, text=value))


def explained(reply: Reply) -> list[Message]:
    """The messages before the check-in offer, which is shown again after them while open."""
    messages = list(reply.turn.messages)
    offers = [i for i, m in enumerate(messages) if m.parts[0].key == "rec.checkin_offer"]
    assert offers == [len(messages) - 1]
    assert [option.value for option in reply.menu] == ["checkin:accept", "checkin:decline"]
    return messages[: offers[0]]


def option_of(message: Message) -> str:
    """The method a detail message explains."""
    return str(message.parts[0].values["method"].key.split(".")[1])


async def test_s4_a_routine_result_is_a_short_summary_with_a_button_per_option_and_all(
    content: Content, store: Store
) -> None:
    conversations = Conversations(content, store, clock=lambda: NOW)
    reply = await answer_all(conversations, MINIMALLY_INVASIVE)

    summary = summary_of(reply)
    labels = [option.label.key for option in summary.buttons]
    assert labels == [f"method.{m}.name" for m in OPTIONS] + ["rec.details_all"]
    # The summary names the options but explains none of them; the check-in offer keeps its own.
    keys = {part.key for message in reply.turn.messages for part in message.parts}
    assert not any(key.startswith("rec.labelled") for key in keys)
    assert [option.value for option in reply.menu] == ["checkin:accept", "checkin:decline"]
    for language in ("en", "zh"):
        text = content.catalog.message_plain(summary, language)
        for method in OPTIONS:
            assert content.catalog.plain(Text(f"method.{method}.pros"), language) not in text
            assert content.catalog.plain(Text(f"method.{method}.name"), language) in text


async def test_s4_each_option_button_sends_that_options_full_explanation(
    content: Content, store: Store
) -> None:
    conversations = Conversations(content, store, clock=lambda: NOW)
    summary = summary_of(await answer_all(conversations, MINIMALLY_INVASIVE))

    for button, method in zip(summary.buttons, OPTIONS, strict=False):
        shown = explained(await press(conversations, button.value))
        assert [option_of(m) for m in shown] == [method]
        sections = [p.values["text"].key for p in shown[0].parts[1:-1]]
        assert sections == [f"method.{method}.{s}" for s in ("what", "suits", "pros", "cons")]
        assert shown[0].parts[-1].key == f"method.{method}.note"

    everything = explained(await press(conversations, summary.buttons[-1].value))
    keys = [m.parts[0].key for m in everything]
    assert keys[: len(OPTIONS)] == ["rec.option_title"] * len(OPTIONS)
    assert "rec.principle" in [p.key for p in everything[-1].parts]


async def test_s4_details_work_after_a_restart_of_the_process(
    content: Content, database: str
) -> None:
    first = open_store(database)
    await first.open()
    try:
        summary = summary_of(await answer_all(Conversations(content, first), MINIMALLY_INVASIVE))
    finally:
        await first.close()

    second = open_store(database)
    await second.open()
    try:
        shown = await press(Conversations(content, second), summary.buttons[1].value)
    finally:
        await second.close()
    assert [option_of(m) for m in explained(shown)] == ["endoscopic_discectomy"]


async def test_s4_a_stale_details_button_gets_a_clear_answer(
    content: Content, store: Store
) -> None:
    conversations = Conversations(content, store, clock=lambda: NOW)
    old = summary_of(await answer_all(conversations, MINIMALLY_INVASIVE))
    await conversations.handle(Action(CHAT, command="restart"))
    newer = summary_of(await answer_all(conversations, MINIMALLY_INVASIVE))
    assert old.buttons[0].value != newer.buttons[0].value

    stale = explained(await press(conversations, old.buttons[0].value))
    assert [p.key for m in stale for p in m.parts] == ["details.stale"]
    for language in ("en", "zh"):
        assert "/details" in content.catalog.plain(Text("details.stale"), language)


async def test_s4_a_details_button_after_a_result_without_options_is_stale(
    content: Content, store: Store
) -> None:
    conversations = Conversations(content, store, clock=lambda: NOW)
    old = summary_of(await answer_all(conversations, MINIMALLY_INVASIVE))
    await conversations.handle(Action(CHAT, command="restart"))
    emergency = await conversations.handle(Action(CHAT, text="yes"))
    assert emergency.turn.question is None

    stale = await press(conversations, old.buttons[-1].value)
    # The earlier result's button is stale; the emergency advice that stands is shown again.
    assert stale.turn.messages[0].parts[0].key == "details.stale"
    assert stale.turn.messages[1:] == emergency.turn.messages


async def test_s4_details_before_any_result_and_a_wrong_number_are_answered(
    content: Content, store: Store
) -> None:
    conversations = Conversations(content, store, clock=lambda: NOW)
    await conversations.handle(Action(CHAT, command="start"))
    none = await conversations.handle(Action(CHAT, command="details"))
    assert none.turn.messages[0].parts[0].key == "details.none"
    assert none.turn.question is not None  # the screening goes on where it was

    await conversations.handle(Action(CHAT, command="restart"))
    await answer_all(conversations, MINIMALLY_INVASIVE)
    wrong = await press(conversations, "details::9")
    assert wrong.turn.messages[0].parts[0] == Text("count.no_such.other", {"count": 2})
    typed = await conversations.handle(Action(CHAT, command="details"))
    assert [option_of(m) for m in typed.turn.messages[:2]] == list(OPTIONS)


async def test_s4_telegram_puts_each_messages_buttons_under_it(
    content: Content, store: Store
) -> None:
    conversations = Conversations(content, store, clock=lambda: NOW)
    reply = await answer_all(conversations, MINIMALLY_INVASIVE)
    summary = summary_of(reply)

    outgoing = render(reply, content.catalog)
    keyboards = [o.keyboard for o in outgoing if o.keyboard is not None]
    assert len(keyboards) == 2  # the summary's details, then the check-in offer's yes/no
    details_data = [row[0].callback_data for row in keyboards[0].inline_keyboard]
    assert details_data == [menu_data(b.value) for b in summary.buttons]
    offer_data = [b.callback_data for row in keyboards[1].inline_keyboard for b in row]
    assert offer_data == [menu_data("checkin:accept"), menu_data("checkin:decline")]
    assert outgoing[-1].keyboard is keyboards[1]


def words(text: str) -> int:
    return len(text.split())


async def test_s4_the_first_message_of_a_routine_result_is_a_few_lines(
    content: Content, store: Store
) -> None:
    """Issue 7 item 4: over 500 words were sent at once; the summary is now under 120."""
    conversations = Conversations(content, store, clock=lambda: NOW)
    reply = await answer_all(conversations, MINIMALLY_INVASIVE)

    summary = content.catalog.message_plain(summary_of(reply), "en")
    everything = sum(words(content.catalog.message_plain(m, "en")) for m in reply.turn.messages)
    assert words(summary) < 120  # a few lines, not a leaflet
    # Summary, the step-up notes every step-up result says (spec §3, §4: microdiscectomy as
    # an equal alternative, staying non-surgical, the epidural), safety notes and the offer.
    assert everything < 320
