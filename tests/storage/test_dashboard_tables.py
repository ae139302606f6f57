"""The dashboard's tables on SQLite and PostgreSQL: queue state, audit, sign-in links, sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from support.storage_backends import T0, Backend

from bot.storage import Patient, Store
from bot.storage.dashboard_tables import (
    QUEUE_EVENT,
    DashboardTables,
    PatientQuery,
    Staff,
    open_tables,
)


@pytest.fixture
async def tables(backend: Backend, store: Store) -> AsyncIterator[DashboardTables]:
    opened = await open_tables(store, backend.url)
    try:
        yield opened
    finally:
        await opened.close()


async def queue_item(store: Store, chat: int, kind: str = "emergency") -> int:
    """A queue item recorded in the patient's transaction, as the conversation records it."""
    async with store.transaction(chat, T0) as tx:
        await tx.record_event(QUEUE_EVENT, {"kind": kind, "message": []})
    return max(e.id for e in await store.events(chat) if e.kind == QUEUE_EVENT)


async def test_an_item_is_open_until_done_and_keeps_who_did_what(
        store: Store, tables: DashboardTables) -> None:
    item = await queue_item(store, 41)
    [open_item] = await tables.open_items(10)
    assert (open_item.id, open_item.chat_id, open_item.data["kind"]) == (item, 41, "emergency")
    assert open_item.taken_by is None
    assert await tables.take(item, 7, T0 + timedelta(minutes=1))
    assert (await tables.open_items(10))[0].taken_by == 7
    assert await tables.finish(item, 8, T0 + timedelta(minutes=5), "called the patient")
    assert await tables.open_items(10) == []
    [done] = await tables.done_items(10)
    assert (done.taken_by, done.done_by, done.note) == (7, 8, "called the patient")
    assert done.done_at == T0 + timedelta(minutes=5)


async def test_a_done_item_is_not_done_again_nor_taken(
        store: Store, tables: DashboardTables) -> None:
    item = await queue_item(store, 42)
    assert await tables.finish(item, 7, T0, "first")
    assert not await tables.finish(item, 8, T0, "second")
    assert not await tables.take(item, 8, T0)
    assert (await tables.done_items(10))[0].note == "first"


async def test_an_unknown_item_is_neither_taken_nor_done(tables: DashboardTables) -> None:
    assert not await tables.take(12345, 7, T0)
    assert not await tables.finish(12345, 7, T0, "")


async def test_erasing_a_patient_erases_their_items_and_state(
        store: Store, tables: DashboardTables) -> None:
    item = await queue_item(store, 43)
    await queue_item(store, 44)
    await tables.finish(item, 7, T0, "note about 43")
    async with store.transaction(43, T0) as tx:
        await tx.forget()
    assert await tables.item(item) is None
    assert await tables.done_items(10) == []
    assert [row.chat_id for row in await tables.open_items(10)] == [44]


async def test_a_link_is_used_once_and_only_before_it_expires(tables: DashboardTables) -> None:
    await tables.add_link("d1", 7, T0 + timedelta(minutes=10), "Dr Wang")
    assert await tables.peek_link("d1", T0) == Staff(7, "Dr Wang")
    assert await tables.peek_link("d1", T0) == Staff(7, "Dr Wang")  # looking consumes nothing
    assert await tables.use_link("d1", T0 + timedelta(minutes=1)) == Staff(7, "Dr Wang")
    assert await tables.use_link("d1", T0 + timedelta(minutes=2)) is None
    assert await tables.peek_link("d1", T0) is None
    await tables.add_link("d2", 7, T0 + timedelta(minutes=10))
    assert await tables.use_link("d2", T0 + timedelta(minutes=10)) is None
    assert await tables.use_link("unknown", T0) is None


async def test_a_session_is_kept_touched_and_ended(tables: DashboardTables) -> None:
    await tables.add_session("s1", Staff(7, "Dr Wang"), "token", None, T0)
    await tables.touch_session("s1", T0 + timedelta(minutes=3))
    await tables.set_language("s1", "zh")
    row = await tables.session("s1")
    assert row is not None
    assert (row.staff_id, row.csrf, row.language, row.name) == (7, "token", "zh", "Dr Wang")
    assert (row.created_at, row.seen_at, row.ended_at) == (T0, T0 + timedelta(minutes=3), None)
    await tables.end_session("s1", T0 + timedelta(minutes=4))
    ended = await tables.session("s1")
    assert ended is not None
    assert ended.ended_at == T0 + timedelta(minutes=4)
    assert await tables.session("unknown") is None


async def test_audit_lines_filter_by_person_and_day(tables: DashboardTables) -> None:
    await tables.audit(T0, 7, "sign_in", None)
    await tables.audit(T0 + timedelta(hours=1), 7, "view_patient", 41)
    await tables.audit(T0 + timedelta(days=1), 8, "export", None, "screenings.csv")
    everyone = await tables.audit_lines(staff_id=None, since=None, until=None, before=None,
                                        limit=10)
    assert [line.action for line in everyone] == ["export", "view_patient", "sign_in"]
    first_day = await tables.audit_lines(staff_id=7, since=T0 - timedelta(hours=9),
                                         until=T0 + timedelta(hours=15), before=None, limit=10)
    assert [(line.action, line.patient) for line in first_day] == [
        ("view_patient", 41), ("sign_in", None)]
    older = await tables.audit_lines(staff_id=None, since=None, until=None,
                                     before=everyone[1].id, limit=10)
    assert [line.action for line in older] == ["sign_in"]


async def patient(store: Store, chat: int, contact: dict[str, str] | None = None,
                  step: str | None = None) -> None:
    """A patient record (with a name and a recommendation, when given)."""
    care = {"contact": contact} if contact else {}
    async with store.transaction(chat, T0) as tx:
        await tx.save(Patient(chat, "en", {"dialogue": "screening", "state": "x", "care": care}))
        if step is not None:
            await tx.record_event("recommendation", {"recommendation": {"step": step}})


async def test_patients_by_name_username_id_and_filters(
        store: Store, tables: DashboardTables) -> None:
    await patient(store, 51, {"name": "Wang Fang", "username": "wangf"}, "conservative")
    await patient(store, 52, {"name": "100% Li_Lei"}, "surgical")
    await patient(store, 53)
    await queue_item(store, 53)

    async def ids(**fields: object) -> list[int]:
        return [row.chat_id for row in await tables.patients_page(PatientQuery(**fields))]

    assert await ids() == [51, 52, 53]
    assert await ids(term="FANG") == [51]
    assert await ids(term="@wangf") == [51]
    assert await ids(term="53") == [53]
    assert await ids(term="100%") == [52]
    assert await ids(term="i_l") == [52]
    assert await ids(term="0%_") == []  # wildcards are matched as themselves
    assert await ids(step="conservative") == [51]
    assert await ids(open_items=True) == [53]
    assert await ids(after=51, limit=1) == [52]
    [row] = await tables.patients_page(PatientQuery(term="wang"))
    assert (row.name, row.username, row.step) == ("Wang Fang", "wangf", "conservative")
