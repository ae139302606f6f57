"""What staff do from either face: a visit booked, moved and cancelled; unknown patients named."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from clinic_support import CLINIC_ZONE, NOW, Screen

from bot.clinic import actions, appointments
from bot.outbox import APPOINTMENT_REMINDER
from bot.storage import Store

ZONE = ZoneInfo(CLINIC_ZONE)


async def reminders(store: Store, chat: int) -> list[str]:
    return [row.dedupe_key or "" for row in await store.pending(chat)
            if row.kind == APPOINTMENT_REMINDER]


async def test_s5_cancel_takes_the_visit_and_its_reminders_away(
        store: Store, screen: Screen) -> None:
    await screen(401)
    booked = await actions.book_visit(store, chat_id=401, at=NOW + timedelta(days=3),
                                      place="Room 1", note="", by=7, clinic_zone=ZONE, now=NOW)
    assert len(await reminders(store, 401)) == 2
    cancelled = await actions.cancel_visit(store, chat_id=401, by=7, now=NOW)
    assert cancelled == booked.visit
    assert await reminders(store, 401) == []
    assert appointments.latest(await store.events(401)) is None
    assert await actions.cancel_visit(store, chat_id=401, by=7, now=NOW) is None


async def test_s5_booking_again_moves_the_visit(store: Store, screen: Screen) -> None:
    await screen(402)
    first = await actions.book_visit(store, chat_id=402, at=NOW + timedelta(days=3),
                                     place="Room 1", note="", by=7, clinic_zone=ZONE, now=NOW)
    moved = await actions.book_visit(store, chat_id=402, at=NOW + timedelta(days=5),
                                     place="Room 2", note="", by=7, clinic_zone=ZONE,
                                     now=NOW + timedelta(seconds=1))
    assert moved.replaced == first.visit
    keys = await reminders(store, 402)
    assert len(keys) == 2
    assert moved.visit is not None
    assert all(moved.visit.id in key for key in keys)


async def test_unknown_patient_is_named_not_created(store: Store) -> None:
    with pytest.raises(actions.UnknownPatientError):
        await actions.book_visit(store, chat_id=403, at=NOW + timedelta(days=1), place="R",
                                 note="", by=7, clinic_zone=ZONE, now=NOW)
    with pytest.raises(actions.UnknownPatientError):
        await actions.cancel_visit(store, chat_id=403, by=7, now=NOW)
    assert await store.events(403) == []
