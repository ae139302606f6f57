"""The clinic's queue: which notifications need a person, how urgent each is, and who did what."""

from __future__ import annotations

import pytest
from clinic_support import NOW, Ask, Screen, plain

from bot.clinic import actions, appointments
from bot.clinic.queue import Queue
from bot.content import Content
from bot.conversation import Action, Conversations
from bot.dialogue.turn import Text
from bot.queue_items import QueueRules, add, load_rules
from bot.storage import Store
from bot.storage.dashboard_tables import QUEUE_EVENT, open_tables

STAFF = 7


@pytest.fixture
def rules(content: Content) -> QueueRules:
    return load_rules(content.directory)


async def open_queue(store: Store, rules: QueueRules) -> Queue:
    return Queue(await open_tables(store), rules)


async def test_s2_emergency_screening_is_queued_most_urgent_first(
        conversations: Conversations, store: Store, screen: Screen, rules: QueueRules) -> None:
    await screen(301)  # routine: nothing for the queue
    await conversations.handle(Action(302, command="start", language_hint="en"))
    await conversations.handle(Action(302, text="no"))
    await conversations.handle(Action(302, text="yes"))  # bladder or bowel trouble: emergency
    queue = await open_queue(store, rules)
    view = await queue.view("open", STAFF)
    assert [(item.row.chat_id, item.kind) for item in view.items] == [(302, "emergency")]
    assert view.counts["red_flags"] == 1
    assert view.counts["step_ups"] == 0


async def test_queued_without_a_clinic_chat_too(content: Content, store: Store,
                                                rules: QueueRules) -> None:
    alone = Conversations(content, store)  # no LDH_CLINIC_CHAT_ID: the dashboard still hears
    await alone.handle(Action(303, command="start", language_hint="en"))
    await alone.handle(Action(303, text="yes"))
    queue = await open_queue(store, rules)
    assert [item.row.chat_id for item in (await queue.view("open", STAFF)).items] == [303]


async def test_s5_reschedule_request_is_queued_and_confirmation_is_not(
        conversations: Conversations, store: Store, screen: Screen, rules: QueueRules) -> None:
    await screen(304)
    now = conversations.clock()
    booked = await actions.book_visit(
        store, chat_id=304, at=now + appointments.TWO_HOURS * 30, place="Room 3", note="",
        by=STAFF, clinic_zone=conversations.timezone, now=now)
    assert booked.visit is not None
    visit = booked.visit.id
    await conversations.handle(Action(304, text=appointments.callback(visit, "confirm")))
    queue = await open_queue(store, rules)
    assert (await queue.view("open", STAFF)).items == []
    await conversations.handle(Action(304, text=appointments.callback(visit, "reschedule")))
    view = await queue.view("appointments", STAFF)
    assert [(item.row.chat_id, item.kind) for item in view.items] == [(304, "reschedule")]


async def test_take_and_done_are_kept_and_filtered(
        conversations: Conversations, store: Store, rules: QueueRules) -> None:
    for chat in (305, 306):
        await conversations.handle(Action(chat, command="start", language_hint="en"))
        await conversations.handle(Action(chat, text="yes"))
    queue = await open_queue(store, rules)
    first, second = (await queue.view("open", STAFF)).items
    now = conversations.clock()
    assert await queue.take(first.id, STAFF, now)
    assert [item.id for item in (await queue.view("mine", STAFF)).items] == [first.id]
    assert await queue.done(second.id, 8, now, "seen in A&E")
    assert [item.id for item in (await queue.view("open", STAFF)).items] == [first.id]
    [done] = (await queue.view("done", STAFF)).items
    assert (done.id, done.row.done_by, done.row.note) == (second.id, 8, "seen in A&E")


async def test_a_queue_item_is_not_a_line_of_the_telegram_history(
        conversations: Conversations, store: Store, ask: Ask, content: Content) -> None:
    await conversations.handle(Action(307, command="start", language_hint="en"))
    await conversations.handle(Action(307, text="yes"))
    assert any(event.kind == QUEUE_EVENT for event in await store.events(307))
    history = plain(content, await ask("patient", "307"))
    assert QUEUE_EVENT not in history
    assert "clinic told" in history.lower() or "emergency" in history.lower()


async def test_s2a_an_alert_that_is_a_kind_of_its_own_names_the_item(
        store: Store, rules: QueueRules) -> None:
    parts = [Text("clinic.routine", {"patient": "1", "flags": []}),
             Text("clinic.alerts", {"alerts": [Text("clinic.alert.severe_pain"),
                                               Text("clinic.alert.unclear_red_flag",
                                                    {"quotes": []})]})]
    async with store.transaction(308, NOW) as tx:
        assert await add(tx, rules, parts)
    queue = await open_queue(store, rules)
    [item] = (await queue.view("red_flags", STAFF)).items
    assert item.kind == "unclear_red_flag"
    assert item.rank.rank < rules.rank("alert").rank
