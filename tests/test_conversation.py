"""One patient action, one transaction: the conversation service on an SQLite store."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.dialogue.session import Session
from bot.dialogue.turn import Text
from bot.outbox import Payload
from bot.storage import Store, open_store

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CHAT = 1001
CLINIC = -500


@pytest.fixture
def conversations(content: Content, store: Store) -> Conversations:
    return Conversations(content, store, clock=lambda: NOW, clinic_chat_id=CLINIC)


def keys(reply: Reply) -> list[str]:
    return [part.key for message in reply.turn.messages for part in message.parts]


def asked(reply: Reply) -> str | None:
    question = reply.turn.question
    return question.fact if question is not None else None


async def stored(store: Store, chat: int = CHAT) -> Session | None:
    async with store.transaction(chat, NOW) as tx:
        patient = await tx.load()
    if patient is None or not patient.session:
        return None
    return Session.from_json(patient.session)


async def say(conversations: Conversations, *lines: str, chat: int = CHAT) -> Reply:
    """Send each line as the patient types it (a /command or an answer); return the last reply."""
    reply = None
    for line in lines:
        command = line[1:] if line.startswith("/") else None
        reply = await conversations.handle(Action(chat, command=command, text=line))
    assert reply is not None
    return reply


async def test_a_new_patient_is_greeted_and_asked_the_first_question(
    conversations: Conversations, store: Store
) -> None:
    reply = await conversations.handle(Action(CHAT, text="hello", language_hint="en-GB"))

    assert reply.language == "en"
    assert keys(reply) == ["app.welcome", "app.intended_use"]
    assert asked(reply) == "saddle_numbness"
    session = await stored(store)
    assert session is not None
    assert session.facts == {}  # "hello" was not taken as an answer


async def test_the_language_follows_the_telegram_hint(conversations: Conversations) -> None:
    reply = await conversations.handle(Action(CHAT, command="start", language_hint="zh-hans"))

    assert reply.language == "zh"


async def test_answers_survive_a_new_store_on_the_same_file(
    content: Content, conversations: Conversations, database: str
) -> None:
    await say(conversations, "/start", "no", "no")

    again = open_store(database)
    await again.open()
    try:
        resumed = Conversations(content, again, clock=lambda: NOW)
        reply = await resumed.handle(Action(CHAT, command="start"))
    finally:
        await again.close()

    # Resuming is a short welcome back and the open question, never the whole welcome again.
    assert keys(reply) == ["resume.welcome_back"]
    assert asked(reply) == "bilateral_leg"


async def test_back_and_restart(conversations: Conversations, store: Store) -> None:
    reply = await say(conversations, "/start", "/back")
    assert keys(reply) == ["app.back_none"]
    assert asked(reply) == "saddle_numbness"

    reply = await say(conversations, "no", "no", "/back")
    assert keys(reply) == ["app.back_done"]
    assert asked(reply) == "bladder_bowel"
    session = await stored(store)
    assert session is not None
    assert session.facts == {"saddle_numbness": "no"}

    reply = await say(conversations, "/restart")
    assert keys(reply) == ["app.restart"]
    assert asked(reply) == "saddle_numbness"
    session = await stored(store)
    assert session is not None
    assert session.facts == {}


async def test_help_shows_the_commands_and_the_open_question(
    conversations: Conversations, content: Content
) -> None:
    reply = await say(conversations, "/start", "no", "/help")

    assert keys(reply) == ["app.help"]
    assert asked(reply) == "bladder_bowel"
    text = content.catalog.message_plain(reply.turn.messages[0], reply.language)
    for command in ("/back", "/restart", "/language", "/mydata", "/forget"):
        assert command in text


async def test_an_unknown_command_is_named_back(conversations: Conversations) -> None:
    reply = await say(conversations, "/start", "/frobnicate")

    assert reply.turn.messages[0].parts[0].key == "app.unknown_command"
    assert reply.turn.messages[0].parts[0].values == {"command": "/frobnicate"}
    assert asked(reply) == "saddle_numbness"


async def test_language_menu_switches_the_conversation(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", "no")

    menu = await say(conversations, "/language")
    assert keys(menu) == ["app.language_prompt"]
    assert [o.value for o in menu.menu] == ["lang:en", "lang:zh"]
    assert menu.turn.question is None

    reply = await conversations.handle(Action(CHAT, text=menu.menu[1].value))
    assert reply.language == "zh"
    assert keys(reply) == ["app.language_set"]
    assert asked(reply) == "bladder_bowel"
    session = await stored(store)
    assert session is not None
    assert session.language == "zh"
    assert session.facts == {"saddle_numbness": "no"}
    # Chinese answers are understood from now on.
    reply = await say(conversations, "没有")
    assert asked(reply) == "bilateral_leg"


async def test_mydata_lists_the_stored_answers(
    conversations: Conversations, content: Content
) -> None:
    reply = await say(conversations, "/start", "no", "nope, none", "/mydata")
    reply = await say(conversations, "nah", "/mydata")

    assert keys(reply) == ["app.mydata"]
    assert asked(reply) == "bilateral_leg"
    text = content.catalog.message_plain(reply.turn.messages[0], "en")
    assert "English" in text
    assert "You are at the question: New or worsening symptoms in both legs" in text
    assert "bilateral_leg" not in text  # no internal names
    # Each answer in the patient's words: what they typed where it is not the button's label.
    assert "• New numbness around the bottom, genitals or inner thighs: No\n" in text
    assert "• New bladder, bowel or sexual problems: No (you typed “nah”)" in text


async def test_forget_asks_first_and_cancel_keeps_everything(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", "no")

    menu = await say(conversations, "/forget")
    assert keys(menu) == ["app.forget_confirm"]
    assert [o.value for o in menu.menu] == [f"forget:yes:{int(NOW.timestamp())}", "forget:no"]

    reply = await say(conversations, "forget:no")
    assert keys(reply) == ["app.forget_cancelled"]
    assert asked(reply) == "bladder_bowel"
    session = await stored(store)
    assert session is not None
    assert session.facts == {"saddle_numbness": "no"}


async def test_forget_confirmed_deletes_everything(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", "yes")  # an emergency: events and a clinic notification
    assert await store.events(CHAT)

    menu = await say(conversations, "/forget")
    reply = await say(conversations, menu.menu[0].value)

    assert keys(reply) == ["app.forgotten"]
    assert reply.turn.question is None
    assert await stored(store) is None
    assert await store.events(CHAT) == []
    # The clinic's notification of the red flag named the patient: it is gone as well.
    assert await store.claim_due(NOW + timedelta(days=1), 10, timedelta(minutes=1)) == []
    # Whatever the patient sends next starts a new screening.
    reply = await say(conversations, "no")
    assert keys(reply) == ["app.welcome", "app.intended_use"]
    assert asked(reply) == "saddle_numbness"


async def test_a_repeated_update_id_is_ignored(conversations: Conversations, store: Store) -> None:
    await conversations.handle(Action(CHAT, command="start", update_id=10))
    first = await conversations.handle(Action(CHAT, text="no", update_id=11))
    assert asked(first) == "bladder_bowel"

    again = await conversations.handle(Action(CHAT, text="no", update_id=11))
    changed = await conversations.handle(Action(CHAT, text="yes", update_id=11))

    assert again.duplicate
    assert changed.duplicate
    session = await stored(store)
    assert session is not None
    assert session.facts == {"saddle_numbness": "no"}
    assert session.state == "bladder_bowel"
    answers = [e for e in await store.events(CHAT) if e.kind == "answer"]
    assert [e.data for e in answers] == [{"facts": {"saddle_numbness": "no"}, "typed": "no",
                                          "dialogues": conversations.content.fingerprint}]
    # A new update id is handled as usual.
    reply = await conversations.handle(Action(CHAT, text="no", update_id=12))
    assert not reply.duplicate
    assert asked(reply) == "bilateral_leg"


async def test_a_stale_button_changes_nothing(conversations: Conversations, store: Store) -> None:
    start = await conversations.handle(Action(CHAT, command="start"))
    assert start.turn.question is not None
    seq = start.turn.question.seq
    await conversations.handle(Action(CHAT, text="no", seq=seq))

    reply = await conversations.handle(Action(CHAT, text="yes", seq=seq))

    assert keys(reply) == ["app.stale_button"]
    assert asked(reply) == "bladder_bowel"
    session = await stored(store)
    assert session is not None
    assert session.facts == {"saddle_numbness": "no"}


async def test_an_emergency_notifies_the_clinic_through_the_outbox(
    conversations: Conversations, store: Store
) -> None:
    reply = await say(conversations, "/start", "no", "yes")

    assert reply.turn.question is None
    assert [e.kind for e in reply.turn.effects] == ["recommendation", "notify_clinic"]
    due = await store.claim_due(NOW + timedelta(seconds=1), 10, timedelta(minutes=1))
    assert len(due) == 1
    assert due[0].kind == "clinic_notification"
    assert due[0].chat_id == CLINIC
    payload = Payload.from_json(due[0].payload)
    note = payload.messages[0].parts[0]
    assert note.key == "clinic.emergency"
    assert note.values["patient"] == str(CHAT)
    assert note.values["flags"] == [Text("flag.bladder_bowel")]
    kinds = [e.kind for e in await store.events(CHAT)]
    assert "recommendation" in kinds
    assert "notify_clinic" in kinds


async def test_a_routine_result_notifies_no_one(conversations: Conversations, store: Store) -> None:
    reply = await say(conversations, "/start", *["no"] * 11, "40", "no", "no", "5")

    effects = [e.kind for e in reply.turn.effects]
    assert "recommendation" in effects
    assert "notify_clinic" not in effects
    assert await store.claim_due(NOW + timedelta(days=1), 10, timedelta(minutes=1)) == []


async def test_patients_do_not_share_sessions(conversations: Conversations, store: Store) -> None:
    await say(conversations, "/start", "no", chat=1)
    await say(conversations, "/start", chat=2)

    one, two = await stored(store, 1), await stored(store, 2)
    assert one is not None
    assert two is not None
    assert one.facts == {"saddle_numbness": "no"}
    assert two.facts == {}


class _BrokenStore:
    """A store whose every transaction fails, as a lost database connection would."""

    def transaction(self, chat_id: int, now: datetime, *, update_id: int | None = None,
                    optimistic: bool = False) -> object:
        msg = f"database unreachable for {chat_id} at {now} (update {update_id}, {optimistic=})"
        raise OSError(msg)


async def test_a_fault_on_our_side_is_a_calm_note_never_a_stack_trace(content: Content) -> None:
    broken = Conversations(content, _BrokenStore(), clock=lambda: NOW)  # type: ignore[arg-type]

    reply = await broken.respond(Action(CHAT, text="yes", language_hint="zh-hans"))

    assert keys(reply) == ["app.error"]
    assert reply.language == "zh"
    assert reply.turn.question is None


async def test_a_place_the_revised_dialogues_no_longer_have_starts_over_politely(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", "no", "no")
    async with store.transaction(CHAT, NOW) as tx:
        patient = await tx.load()
        assert patient is not None
        patient.session["state"] = "a_question_since_removed"
        await tx.save(patient)

    reply = await say(conversations, "yes")

    assert keys(reply)[0] == "app.revised"
    assert asked(reply) == "saddle_numbness"
    session = await stored(store)
    assert session is not None
    assert session.state == "saddle_numbness"
    assert session.facts == {}


class _MovingClock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize(("later", "deleted"), [
    (timedelta(minutes=9), True),
    (timedelta(minutes=11), False),
    (timedelta(days=30), False),
])
async def test_a_forget_button_deletes_only_soon_after_it_was_shown(
    content: Content, store: Store, later: timedelta, *, deleted: bool
) -> None:
    clock = _MovingClock()
    conversations = Conversations(content, store, clock=clock)
    await say(conversations, "/start", "no")
    menu = await say(conversations, "/forget")

    clock.now = NOW + later
    reply = await say(conversations, menu.menu[0].value)

    if deleted:
        assert keys(reply) == ["app.forgotten"]
        assert await stored(store) is None
    else:
        assert keys(reply) == ["service.forget_expired"]
        assert asked(reply) == "bladder_bowel"  # and the open question again
        session = await stored(store)
        assert session is not None
        assert session.facts == {"saddle_numbness": "no"}


@pytest.mark.parametrize("value", ["forget:yes", "forget:yes:soon", "forget:yes:99999999999"])
async def test_a_forget_button_without_a_valid_time_deletes_nothing(
    conversations: Conversations, store: Store, value: str
) -> None:
    await say(conversations, "/start", "no")

    reply = await say(conversations, value)

    assert keys(reply) == ["service.forget_expired"]
    assert await stored(store) is not None


async def test_an_unknown_language_shows_the_menu_again_and_changes_nothing(
    conversations: Conversations, store: Store
) -> None:
    await say(conversations, "/start", "no")

    reply = await say(conversations, "lang:xx")

    assert keys(reply) == ["service.language_unknown"]
    assert [o.value for o in reply.menu] == ["lang:en", "lang:zh"]
    assert reply.language == "en"
    session = await stored(store)
    assert session is not None
    assert session.language == "en"


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_s4_mydata_shows_no_internal_names(content: Content, store: Store,
                                                 language: str) -> None:
    """Issue 7 item 3: /mydata said "Progress: bladder_bowel"."""
    conversations = Conversations(content, store)
    await conversations.handle(Action(77, command="start", language_hint=language))
    for typed in ("no", "no"):
        await conversations.handle(Action(77, text=typed if language == "en" else "没有"))
    reply = await conversations.handle(Action(77, command="mydata"))
    shown = "\n".join(content.catalog.message_plain(m, language) for m in reply.turn.messages)
    note = content.catalog.message_plain(reply.turn.messages[0], language)
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", note), note
    assert content.catalog.plain(Text("topic.bilateral_leg"), language) in shown


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_s4_the_intended_use_is_said_at_the_start(content: Content, store: Store,
                                                       language: str) -> None:
    conversations = Conversations(content, store)
    reply = await conversations.handle(Action(78, command="start", language_hint=language))
    shown = "\n".join(content.catalog.message_plain(m, language) for m in reply.turn.messages)
    for phrase in {"en": ("not a certified medical device", "does not give a diagnosis"),
                   "zh": ("不是经过认证的医疗器械", "不能作出诊断")}[language]:
        assert phrase in shown
