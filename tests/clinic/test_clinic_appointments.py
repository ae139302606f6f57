"""Appointment reminders: local times across zones and DST, quiet hours, the patient's answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from clinic_support import CLINIC, NOW, Ask, Clock, Screen

from bot.clinic import appointments
from bot.clinic.appointments import DAY_BEFORE, TWO_HOURS_BEFORE, Appointment, reminder_times
from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.dialogue.session import Session
from bot.outbox import APPOINTMENT_REMINDER, CLINIC_NOTIFICATION, Payload
from bot.storage import OutboxItem, Patient, Store

PATIENT = 1001
EARLY = datetime(2025, 1, 1, tzinfo=UTC)  # long before every visit below


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]  # year, month, day...


def due(at: datetime, now: datetime = EARLY) -> dict[str, datetime]:
    return {r.which: r.due for r in reminder_times(at, now)}


# -- when reminders are due ------------------------------------------------------------------------


def test_shanghai_day_before_at_0730_moves_to_the_evening_before() -> None:
    visit = local("Asia/Shanghai", 2025, 3, 5, 7, 30)  # Wednesday morning
    times = due(visit)
    # Tuesday 07:30 is in quiet hours: the reminder goes out on Monday at 20:00 instead.
    assert times[DAY_BEFORE] == local("Asia/Shanghai", 2025, 3, 3, 20, 0)
    assert times[DAY_BEFORE] == datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    assert times[TWO_HOURS_BEFORE] == local("Asia/Shanghai", 2025, 3, 5, 5, 30)


def test_new_york_two_hour_reminder_at_2200_is_kept_in_quiet_hours() -> None:
    visit = local("America/New_York", 2025, 6, 11, 0, 0)  # midnight, the start of Wednesday
    times = due(visit)
    assert times[TWO_HOURS_BEFORE] == local("America/New_York", 2025, 6, 10, 22, 0)
    assert times[TWO_HOURS_BEFORE] == datetime(2025, 6, 11, 2, 0, tzinfo=UTC)
    assert times[DAY_BEFORE] == local("America/New_York", 2025, 6, 9, 20, 0)


def test_a_day_before_late_in_the_evening_moves_to_2000_the_same_evening() -> None:
    visit = local("America/New_York", 2025, 6, 12, 22, 30)
    assert due(visit)[DAY_BEFORE] == local("America/New_York", 2025, 6, 11, 20, 0)


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        (8, 0, (2025, 3, 4, 8, 0)),  # quiet hours end at 08:00: sent as it is
        (20, 59, (2025, 3, 4, 20, 59)),
        (21, 0, (2025, 3, 4, 20, 0)),  # quiet hours begin at 21:00
        (7, 59, (2025, 3, 3, 20, 0)),
        (0, 0, (2025, 3, 3, 20, 0)),
    ],
)
def test_quiet_hours_edges(hour: int, minute: int, expected: tuple[int, ...]) -> None:
    visit = local("Asia/Shanghai", 2025, 3, 5, hour, minute)
    assert due(visit)[DAY_BEFORE] == local("Asia/Shanghai", *expected)


def test_london_day_before_keeps_the_wall_clock_across_the_spring_dst_change() -> None:
    # Clocks go forward at 01:00 UTC on Sunday 30 March 2025.
    visit = local("Europe/London", 2025, 3, 30, 10, 0)  # 09:00 UTC (BST)
    times = due(visit)
    assert times[DAY_BEFORE] == datetime(2025, 3, 29, 10, 0, tzinfo=UTC)  # 10:00 GMT
    assert visit.astimezone(UTC) - times[DAY_BEFORE] == timedelta(hours=23)
    assert times[TWO_HOURS_BEFORE] == datetime(2025, 3, 30, 7, 0, tzinfo=UTC)  # 08:00 BST


def test_london_day_before_keeps_the_wall_clock_across_the_autumn_dst_change() -> None:
    # Clocks go back at 01:00 UTC on Sunday 26 October 2025.
    visit = local("Europe/London", 2025, 10, 26, 10, 0)  # 10:00 UTC (GMT)
    times = due(visit)
    assert times[DAY_BEFORE] == datetime(2025, 10, 25, 9, 0, tzinfo=UTC)  # 10:00 BST
    assert visit.astimezone(UTC) - times[DAY_BEFORE] == timedelta(hours=25)
    assert times[TWO_HOURS_BEFORE] == datetime(2025, 10, 26, 8, 0, tzinfo=UTC)


def test_a_quiet_day_before_in_a_dst_night_moves_to_the_evening_before() -> None:
    # 01:30 on 30 March does not exist in London; quiet hours move it to 20:00 on the 29th.
    visit = local("Europe/London", 2025, 3, 31, 1, 30)
    assert due(visit)[DAY_BEFORE] == datetime(2025, 3, 29, 20, 0, tzinfo=UTC)


def test_reminders_already_past_are_not_scheduled() -> None:
    visit = local("Europe/London", 2025, 3, 5, 14, 0)
    day_before = local("Europe/London", 2025, 3, 4, 14, 0)
    assert set(due(visit, day_before)) == {DAY_BEFORE, TWO_HOURS_BEFORE}  # due now: still sent
    assert set(due(visit, day_before + timedelta(minutes=1))) == {TWO_HOURS_BEFORE}
    assert set(due(visit, visit - timedelta(hours=2))) == {TWO_HOURS_BEFORE}
    assert due(visit, visit - timedelta(hours=1, minutes=59)) == {}


# -- booking ---------------------------------------------------------------------------------------


def visit_at(at: datetime, visit_id: str = "250303090000", note: str = "") -> Appointment:
    zone = at.tzinfo
    assert isinstance(zone, ZoneInfo)
    return Appointment(visit_id, at, zone.key, "Spine clinic, room 2", note, by=7)


async def reminders_of(store: Store, chat: int = PATIENT) -> list[OutboxItem]:
    return [r for r in await store.pending(chat) if r.kind == APPOINTMENT_REMINDER]


async def test_booking_writes_both_reminders_with_buttons_and_dedupe_keys(
    store: Store, content: Content
) -> None:
    visit = visit_at(local("Europe/London", 2025, 3, 5, 14, 0), note="bring your MRI report")
    async with store.transaction(PATIENT, NOW) as tx:
        await appointments.book(tx, visit, "zh")
    rows = await reminders_of(store)
    assert [r.due_at for r in rows] == [datetime(2025, 3, 4, 14, 0, tzinfo=UTC),
                                        datetime(2025, 3, 5, 12, 0, tzinfo=UTC)]
    assert [r.dedupe_key for r in rows] == ["appt:1001:250303090000:day_before",
                                            "appt:1001:250303090000:two_hours"]
    payload = Payload.from_json(rows[0].payload)
    assert payload.language == "zh"
    assert [b.data for b in payload.buttons] == ["appt:250303090000:confirm",
                                                 "appt:250303090000:reschedule"]
    assert all(len(b.data.encode()) <= 64 for b in payload.buttons)
    assert payload.expires_at == visit.at  # never sent after the visit, however late
    # Rendered when sent, in the patient's language: every key and placeholder resolves.
    catalog = content.catalog
    text = catalog.message_plain(payload.messages[0], "zh")
    assert all(part in text for part in ("2025-03-05", "星期三", "14:00"))
    assert "Spine clinic, room 2" in text
    assert "bring your MRI report" in text
    assert [catalog.plain(b.label, "zh") for b in payload.buttons] == ["我会按时来", "我需要改时间"]
    events = [e for e in await store.events(PATIENT) if e.kind == appointments.EVENT]
    assert events[0].data["place"] == "Spine clinic, room 2"
    assert [r["which"] for r in events[0].data["reminders"]] == [DAY_BEFORE, TWO_HOURS_BEFORE]


async def test_booking_again_replaces_the_earlier_reminders(store: Store) -> None:
    first = visit_at(local("Europe/London", 2025, 3, 5, 14, 0), "250303090000")
    second = visit_at(local("Europe/London", 2025, 3, 12, 9, 0), "250303100000")
    async with store.transaction(PATIENT, NOW) as tx:
        await appointments.book(tx, first, "en")
    async with store.transaction(PATIENT, NOW + timedelta(hours=1)) as tx:
        await appointments.book(tx, second, "en")
    rows = await reminders_of(store)
    assert {r.dedupe_key for r in rows} == {"appt:1001:250303100000:day_before",
                                            "appt:1001:250303100000:two_hours"}
    assert appointments.latest(await store.events(PATIENT)) == second


async def test_a_visit_under_two_hours_away_gets_no_reminder(store: Store) -> None:
    visit = visit_at((NOW + timedelta(hours=1, minutes=30)).astimezone(ZoneInfo("Europe/London")))
    async with store.transaction(PATIENT, NOW) as tx:
        assert await appointments.book(tx, visit, "en") == []
    assert await reminders_of(store) == []


async def test_the_patients_own_time_zone_times_the_reminders(
    store: Store, screen: Screen, ask: Ask
) -> None:
    await screen(PATIENT)
    async with store.transaction(PATIENT, NOW) as tx:
        patient = await tx.load()
        assert patient is not None
        session = Session.from_json(patient.session)
        session.care = {**session.care, "timezone": "Asia/Shanghai"}
        await tx.save(Patient(PATIENT, patient.language, session.to_json()))
    # Staff type clinic time: 23:30 in London is 07:30 the next morning in Shanghai.
    await ask("appointment", f"{PATIENT} 2025-03-05 23:30 Video call")
    rows = await reminders_of(store)
    assert [r.due_at for r in rows] == [
        local("Asia/Shanghai", 2025, 3, 4, 20, 0),  # not 07:30 on the 5th: quiet hours there
        local("Asia/Shanghai", 2025, 3, 6, 5, 30),
    ]
    visit = appointments.latest(await store.events(PATIENT))
    assert visit is not None
    assert visit.timezone == "Asia/Shanghai"
    assert visit.at == local("Asia/Shanghai", 2025, 3, 6, 7, 30)


# -- the patient's answer --------------------------------------------------------------------------


async def booked(store: Store, screen: Screen, at: datetime) -> Appointment:
    await screen(PATIENT)
    visit = visit_at(at)
    async with store.transaction(PATIENT, NOW) as tx:
        await appointments.book(tx, visit, "en")
    return visit


async def press(conversations: Conversations, visit: Appointment, choice: str) -> Reply:
    return await conversations.handle(Action(PATIENT, text=f"appt:{visit.id}:{choice}"))


def keys(reply: Reply) -> list[str]:
    return [part.key for message in reply.turn.messages for part in message.parts]


async def clinic_notes(store: Store) -> list[str]:
    rows = [r for r in await store.pending(CLINIC) if r.kind == CLINIC_NOTIFICATION]
    return [part.key for r in rows for m in Payload.from_json(r.payload).messages
            for part in m.parts]


async def test_confirming_tells_the_clinic_once_and_keeps_the_reminders(
    store: Store, conversations: Conversations, screen: Screen
) -> None:
    visit = await booked(store, screen, local("Europe/London", 2025, 3, 5, 14, 0))
    reply = await press(conversations, visit, "confirm")
    assert keys(reply)[0] == "appointment.confirm"
    assert await clinic_notes(store) == ["appointment.clinic.confirm"]
    again = await press(conversations, visit, "confirm")  # a second tap
    assert keys(again)[0] == "appointment.confirm"
    assert await clinic_notes(store) == ["appointment.clinic.confirm"]
    assert len(await reminders_of(store)) == 2
    answers = [e.data for e in await store.events(PATIENT) if e.kind == appointments.ANSWER_EVENT]
    assert answers == [{"id": visit.id, "choice": "confirm"}] * 2


async def test_asking_to_reschedule_escalates_and_stops_the_reminders(
    store: Store, conversations: Conversations, screen: Screen, content: Content
) -> None:
    visit = await booked(store, screen, local("Europe/London", 2025, 3, 5, 14, 0))
    reply = await press(conversations, visit, "reschedule")
    assert keys(reply)[0] == "appointment.reschedule"
    assert await clinic_notes(store) == ["appointment.clinic.reschedule"]
    assert await reminders_of(store) == []
    row = (await store.pending(CLINIC))[0]
    note = content.catalog.message_plain(Payload.from_json(row.payload).messages[0], "en")
    assert f"Patient {PATIENT} asks to reschedule" in note
    assert "Wednesday 2025-03-05 at 14:00 (Europe/London), Spine clinic, room 2" in note
    # Changing their mind: confirming brings back the reminders still ahead.
    await press(conversations, visit, "confirm")
    assert len(await reminders_of(store)) == 2
    assert await clinic_notes(store) == ["appointment.clinic.reschedule",
                                         "appointment.clinic.confirm"]


async def test_a_button_of_a_replaced_appointment_changes_nothing(
    store: Store, conversations: Conversations, screen: Screen
) -> None:
    old = await booked(store, screen, local("Europe/London", 2025, 3, 5, 14, 0))
    new = visit_at(local("Europe/London", 2025, 3, 12, 14, 0), "250303100000")
    async with store.transaction(PATIENT, NOW) as tx:
        await appointments.book(tx, new, "en")
    reply = await press(conversations, old, "reschedule")
    assert keys(reply)[0] == "appointment.stale"
    assert await clinic_notes(store) == []
    assert len(await reminders_of(store)) == 2
    forged = await conversations.handle(Action(PATIENT, text=f"appt:{new.id}:cancel_all"))
    assert keys(forged)[0] == "appointment.stale"


async def test_an_answer_after_the_visit_is_too_late(
    store: Store, conversations: Conversations, screen: Screen, clock: Clock
) -> None:
    visit = await booked(store, screen, local("Europe/London", 2025, 3, 5, 14, 0))
    clock.advance(timedelta(days=3))
    reply = await press(conversations, visit, "reschedule")
    assert keys(reply)[0] == "appointment.past"
    assert await clinic_notes(store) == []


async def test_the_open_question_follows_the_note(
    store: Store, conversations: Conversations
) -> None:
    # A patient in the middle of the screening sees their question again after the note.
    await conversations.handle(Action(PATIENT, command="start"))
    visit = visit_at(local("Europe/London", 2025, 3, 5, 14, 0))
    async with store.transaction(PATIENT, NOW) as tx:
        await appointments.book(tx, visit, "en")
    reply = await press(conversations, visit, "confirm")
    assert reply.turn.question is not None
    assert reply.turn.question.fact == "saddle_numbness"
