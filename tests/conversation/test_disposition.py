"""A disposition stands (clinical spec §2): going back over an emergency or urgent answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.conversation.disposition import ANSWERED_AGAIN_EVENT, WITHDRAWN_EVENT
from bot.dialogue.session import Session
from bot.dialogue.turn import Message, Text
from bot.outbox import CLINIC_NOTIFICATION, Payload
from bot.storage import Store

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CHAT = 1001
CLINIC = -500
WRONG_BUTTON = "menu.opt.wrong_button"


@pytest.fixture
def conversations(content: Content, store: Store) -> Conversations:
    return Conversations(content, store, clock=lambda: NOW, clinic_chat_id=CLINIC)


async def say(conversations: Conversations, *lines: str) -> Reply:
    """Each line as the patient sends it: a /command, or an answer or menu value."""
    reply = None
    for line in lines:
        command = line[1:] if line.startswith("/") else None
        reply = await conversations.handle(Action(CHAT, command=command, text=line))
    assert reply is not None
    return reply


async def session_of(store: Store) -> Session:
    async with store.transaction(CHAT, NOW) as tx:
        patient = await tx.load()
    assert patient is not None
    return Session.from_json(patient.session)


def keys(messages: tuple[Message, ...]) -> list[str]:
    return [part.key for message in messages for part in message.parts]


async def clinic_notes(content: Content, store: Store) -> list[str]:
    """Every note queued for the clinic's chat, rendered as the clinic reads it."""
    rows = await store.pending(CLINIC)
    payloads = [Payload.from_json(r.payload) for r in rows if r.kind == CLINIC_NOTIFICATION]
    return [content.catalog.message_plain(p.messages[0], p.language) for p in payloads]


async def kinds(store: Store) -> list[str]:
    return [event.kind for event in await store.events(CHAT)]


async def test_s2_back_over_an_emergency_shows_the_advice_again_with_only_the_wrong_button(
    conversations: Conversations, store: Store
) -> None:
    emergency = await say(conversations, "/start", "yes")
    held = await say(conversations, "/back")

    # The go-now advice first, as it was given, then the one explicit way on.
    assert held.turn.messages[: len(emergency.turn.messages)] == tuple(
        Message(m.parts) for m in emergency.turn.messages)
    assert "rec.emergency" in keys(held.turn.messages)
    assert keys(held.turn.messages)[-2:] == ["stands.note", "stands.note_clinic"]
    assert [option.label.key for option in held.menu] == [WRONG_BUTTON]
    assert held.turn.question is None
    session = await session_of(store)
    assert session.facts == {"saddle_numbness": "yes"}  # nothing was undone
    assert WITHDRAWN_EVENT not in await kinds(store)


async def test_s2_a_typed_answer_never_withdraws_an_emergency_answer(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", "yes", "/back")

    for typed in ("no", "yes", "2", "sorry, wrong"):
        again = await say(conversations, typed)
        assert keys(again.turn.messages)[0] == "stands.again"
        assert "rec.emergency" in keys(again.turn.messages)
        assert [option.label.key for option in again.menu] == [WRONG_BUTTON]
    again = await say(conversations, "/back")
    assert [option.label.key for option in again.menu] == [WRONG_BUTTON]

    session = await session_of(store)
    assert session.facts == {"saddle_numbness": "yes"}
    assert WITHDRAWN_EVENT not in await kinds(store)


async def test_s2_the_wrong_button_is_recorded_and_the_clinic_told_with_both_answers(
    conversations: Conversations, store: Store, content: Content
) -> None:
    await say(conversations, "/start", "yes")
    held = await say(conversations, "/back")
    withdrawn = await say(conversations, held.menu[0].value)

    assert keys(withdrawn.turn.messages)[:2] == ["stands.withdrawn", "stands.clinic_told"]
    assert withdrawn.turn.question is not None
    assert withdrawn.turn.question.fact == "saddle_numbness"
    # The first answer and its result stay in the record, with the withdrawal.
    events = await store.events(CHAT)
    results = [e.data["recommendation"]["disposition"] for e in events
               if e.kind == "recommendation"]
    assert results == ["emergency"]
    [withdrawal] = [e.data for e in events if e.kind == WITHDRAWN_EVENT]
    assert withdrawal["answers"] == {"saddle_numbness": "yes"}
    assert withdrawal["disposition"] == "emergency"
    notes = await clinic_notes(content, store)
    assert len(notes) == 2  # the emergency, then at once the withdrawal
    assert f"Patient {CHAT} withdrew an answer" in notes[1]
    assert "New numbness around the bottom, genitals or inner thighs: Yes" in notes[1]

    following = await say(conversations, "no")
    assert following.turn.question is not None
    assert following.turn.question.fact == "bladder_bowel"  # the screening goes on
    [again] = [e.data for e in await store.events(CHAT) if e.kind == ANSWERED_AGAIN_EVENT]
    assert again["first"] == {"saddle_numbness": "yes"}
    assert again["now"] == {"saddle_numbness": "no"}
    notes = await clinic_notes(content, store)
    assert len(notes) == 3
    assert "first Yes, now No" in notes[2]
    assert f"Patient {CHAT} answered again" in notes[2]


async def test_s2_restart_after_an_emergency_is_held_the_same_way(
    conversations: Conversations, store: Store, content: Content
) -> None:
    await say(conversations, "/start", "no", "yes")
    held = await say(conversations, "/restart")
    assert "rec.emergency" in keys(held.turn.messages)
    assert [option.label.key for option in held.menu] == [WRONG_BUTTON]
    assert (await session_of(store)).facts == {"saddle_numbness": "no", "bladder_bowel": "yes"}

    restarted = await say(conversations, held.menu[0].value)
    assert "app.restart" in keys(restarted.turn.messages)
    assert restarted.turn.question is not None
    assert restarted.turn.question.fact == "saddle_numbness"
    assert WITHDRAWN_EVENT in await kinds(store)
    assert "New bladder, bowel or sexual problems: Yes" in (await clinic_notes(content, store))[-1]


async def test_s2_an_urgent_answer_stands_too_and_without_a_clinic_is_still_recorded(
    content: Content, store: Store
) -> None:
    alone = Conversations(content, store, clock=lambda: NOW)
    urgent = await say(alone, "/start", "no", "no", "no", "no", "yes")  # leg weakness: urgent
    assert urgent.turn.question is None
    held = await say(alone, "/back")
    assert keys(held.turn.messages)[: len(keys(urgent.turn.messages))] == keys(
        urgent.turn.messages)
    assert "stands.note_clinic" not in keys(held.turn.messages)  # no clinic: none is promised
    withdrawn = await say(alone, held.menu[0].value)

    assert "stands.clinic_told" not in keys(withdrawn.turn.messages)  # no clinic, none told
    assert withdrawn.turn.question is not None
    assert withdrawn.turn.question.fact == "leg_weakness"
    assert WITHDRAWN_EVENT in await kinds(store)
    assert await store.pending(CLINIC) == []


async def test_s2_an_old_wrong_button_changes_nothing(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", "yes")
    held = await say(conversations, "/back")
    await say(conversations, held.menu[0].value, "yes")  # yes again: an emergency again
    stale = await say(conversations, held.menu[0].value)

    assert keys(stale.turn.messages)[0] == "app.stale_button"
    assert (await kinds(store)).count(WITHDRAWN_EVENT) == 1
    assert (await session_of(store)).facts == {"saddle_numbness": "yes"}


async def test_s2_details_and_a_return_after_an_emergency_show_its_advice_again(
    conversations: Conversations,
) -> None:
    emergency = await say(conversations, "/start", "yes")
    advice = keys(emergency.turn.messages)

    shown = await say(conversations, "/details")
    assert keys(shown.turn.messages) == advice
    assert "details.none" not in keys(shown.turn.messages)
    back = await say(conversations, "/start")
    assert keys(back.turn.messages) == ["resume.welcome_back", *advice]


async def test_s2_a_check_in_emergency_stands_too(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", *["no"] * 11, "40", "no", "yes", "6", "none")
    await say(conversations, "checkin:accept")
    checkin = await say(conversations, "/checkin")
    assert checkin.turn.question is not None
    assert checkin.turn.question.fact == "saddle_numbness"
    emergency = await say(conversations, "yes")
    assert "rec.emergency" in keys(emergency.turn.messages)

    held = await say(conversations, "/back")
    assert "rec.emergency" in keys(held.turn.messages)
    assert [option.label.key for option in held.menu] == [WRONG_BUTTON]
    withdrawn = await say(conversations, held.menu[0].value)
    assert withdrawn.turn.question is not None
    assert withdrawn.turn.question.fact == "saddle_numbness"
    assert (await session_of(store)).dialogue == "followup"  # still the check-in
    following = await say(conversations, "no")
    assert following.turn.question is not None
    assert following.turn.question.fact == "bladder_bowel"
    assert ANSWERED_AGAIN_EVENT in await kinds(store)


async def test_s2_the_texts_of_a_standing_result_exist_in_both_languages(
    content: Content,
) -> None:
    for language in ("en", "zh"):
        for key in ("stands.note", "stands.again", "stands.withdrawn", "stands.clinic_told",
                    WRONG_BUTTON, "stands.clinic.withdrawn", "stands.clinic.answered"):
            text = content.catalog.plain(Text(key, {"answers": [], "changes": [],
                                                    "patient": "1",
                                                    "disposition": Text(
                                                        "stands.disposition.emergency")}),
                                         language)
            assert text.strip()
            assert "tap" not in text.lower()  # the terminal reads these too
