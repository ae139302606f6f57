"""Nothing typed is thrown away (spec §2a): kept, shown to the clinic and the patient, quoted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.clock import ManualClock

from bot.clinic.history import event_lines
from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.dialogue.turn import Text
from bot.dialogue.unread import UNREAD_ANSWER, clinic_alert
from bot.outbox import CLINIC_NOTIFICATION, Payload
from bot.storage import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHAT = 3003
CLINIC = -800


@pytest.fixture
def conversations(content: Content, store: Store) -> Conversations:
    return Conversations(content, store, clock=ManualClock(NOW), clinic_chat_id=CLINIC)


async def say(conversations: Conversations, *inputs: str) -> Reply:
    reply: Reply | None = None
    for text in inputs:
        command = text[1:] if text.startswith("/") else None
        reply = await conversations.handle(Action(CHAT, command=command,
                                                  text="" if command else text))
    assert reply is not None
    return reply


def plain(content: Content, reply: Reply) -> str:
    return "\n\n".join(content.catalog.message_plain(m, "en") for m in reply.turn.messages)


async def clinic_texts(content: Content, store: Store) -> list[str]:
    due = await store.claim_due(NOW + timedelta(minutes=1), 100, timedelta(minutes=5))
    return [content.catalog.message_plain(Payload.from_json(i.payload).messages[0], "en")
            for i in due if i.kind == CLINIC_NOTIFICATION]


# The bladder answer of the issue: "I can't pee" asked again, then a doubtful no, then no.
# Then the nine red flags after it no, a routine adult of 60 with back pain only.
UNCLEAR_BLADDER = ["/start", "no", "I can't pee", "no?", "no",
                   *["no"] * 9, "60", "no", "5"]


async def test_s2a_the_clinic_is_told_of_unclear_red_flag_quoting_the_patient(
    content: Content, conversations: Conversations, store: Store
) -> None:
    reply = await say(conversations, *UNCLEAR_BLADDER)

    assert "alert.unclear_red_flag" in [p.key for m in reply.turn.messages for p in m.parts]
    (note,) = await clinic_texts(content, store)
    assert "answered No only after answers that could not be read" in note
    assert "“I can't pee”" in note
    assert "“no?”" in note


async def test_s2a_every_unread_answer_is_an_event_shown_in_the_patient_history(
    content: Content, conversations: Conversations, store: Store
) -> None:
    await say(conversations, *UNCLEAR_BLADDER)

    events = await store.events(CHAT)
    unread = [e for e in events if e.kind == UNREAD_ANSWER]
    assert [(e.data["fact"], e.data["typed"], e.data["reading"]) for e in unread] == [
        ("bladder_bowel", "I can't pee", "unread"), ("bladder_bowel", "no?", "hedge")]
    lines = [content.catalog.plain(line, "en") for e in unread
             for line in event_lines(e, UTC, lambda _f, v: Text.raw(str(v)))]
    assert lines == ["2026-03-02 09:00 typed at bladder_bowel, not taken (not read): “I can't pee”",
                     "2026-03-02 09:00 typed at bladder_bowel, not taken (doubtful): “no?”"]


async def test_s2a_mydata_shows_what_was_typed_and_not_taken(
    content: Content, conversations: Conversations
) -> None:
    await say(conversations, "/start", "no", "I can't pee", "no?", "no", "fine")

    reply = await say(conversations, "/mydata")

    text = plain(content, reply)
    assert "you also typed “I can't pee”, which I could not take as an answer" in text
    assert "you also typed “no?”" in text
    assert "you also typed “fine”" in text  # the open question's too


async def test_s2a_the_wait_for_confirmation_survives_a_process_restart(
    content: Content, conversations: Conversations, store: Store
) -> None:
    confirm = await say(conversations, "/start", "not really")
    assert "You wrote “not really”" in plain(content, confirm)

    # A new process on the same store: the session holds the hedge awaiting confirmation.
    restarted = Conversations(content, store, clock=ManualClock(NOW), clinic_chat_id=CLINIC)
    reply = await say(restarted, "I don't think so")

    assert "cauda equina" in plain(content, reply)


def test_s2a_a_clinic_note_quotes_ten_answers_and_says_how_many_more(content: Content) -> None:
    data = {"unclear": [{"fact": "bladder_bowel", "typed": [f"answer {n}" for n in range(14)]}]}

    text = content.catalog.plain(clinic_alert("unclear_red_flag", data), "en")

    assert "“answer 9”" in text
    assert "answer 10" not in text
    assert "and 4 more, in the patient's history" in text
