"""The staff desk: the patient list, one patient's history and chart, booking, authorisation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from clinic_support import CLINIC, NOW, STAFF, Ask, Clock, Screen, plain

from bot.clinic import appointments
from bot.clinic.replies import Photo, StaffRequest
from bot.clinic.staff import StaffDesk
from bot.content import Content
from bot.conversation import Action, Conversations
from bot.dialogue.turn import Message
from bot.outbox import APPOINTMENT_REMINDER, CHECKIN
from bot.storage import Patient, Store

PATIENT = 1001
OUTSIDER = 666


def keys(outputs: list[object]) -> list[str]:
    return [part.key for o in outputs if isinstance(o, Message) for part in o.parts]


# -- who may ask -----------------------------------------------------------------------------------


def test_staff_are_served_in_private_or_in_the_clinic_chat_only(desk: StaffDesk) -> None:
    assert desk.authorised(STAFF, STAFF, private=True)
    assert desk.authorised(STAFF, CLINIC, private=False)
    assert not desk.authorised(STAFF, -999, private=False)  # another group
    assert not desk.authorised(OUTSIDER, OUTSIDER, private=True)
    assert not desk.authorised(OUTSIDER, CLINIC, private=False)


@pytest.mark.parametrize("command",
                         ["patients", "patient", "appointment", "checkins", "export", "nope"])
async def test_the_desk_itself_gives_nobody_else_anything(
    desk: StaffDesk, screen: Screen, command: str
) -> None:
    await screen(PATIENT)
    args = {"patient": str(PATIENT), "appointment": f"{PATIENT} 2025-03-05 10:00 Room 1",
            "checkins": f"{PATIENT} 3,8"}
    request = StaffRequest(OUTSIDER, OUTSIDER, command, args.get(command, ""))
    assert await desk.handle(request) == []


# -- /patients -------------------------------------------------------------------------------------


async def test_patients_shows_the_last_step_and_the_next_reminder(
    ask: Ask, screen: Screen, content: Content
) -> None:
    await screen(PATIENT)
    await screen(PATIENT + 1)
    await ask("appointment", f"{PATIENT} 2025-03-05 14:00 Spine clinic")
    text = plain(content, await ask("patients"))
    assert "Patients (times in Europe/London)" in text
    assert (f"{PATIENT} · en · screening/result · Treatment without surgery (conservative care)"
            " · next: 2025-03-04 14:00, appointment reminder") in text
    assert f"{PATIENT + 1} · en · screening/result" in text
    assert "next: nothing scheduled" in text
    assert "Next page" not in text


async def test_patients_are_paged_by_key(ask: Ask, store: Store, content: Content) -> None:
    chats = [3, 10, 25, *range(100, 122)]  # gaps, so a key is not a position
    for chat in chats:
        async with store.transaction(chat, NOW) as tx:
            await tx.save(Patient(chat, "zh" if chat % 2 else "en",
                                  {"dialogue": "screening", "state": "age"}))
    first = plain(content, await ask("patients"))
    assert first.count("\n• ") == 20
    assert "\n• 3 ·" in first
    last_shown = chats[19]
    assert first.endswith(f"Next page: /patients {last_shown}")
    second = plain(content, await ask("patients", str(last_shown)))
    assert second.startswith(f"Patients after {last_shown} (times in Europe/London)")
    assert [line.split(" ·")[0] for line in second.splitlines()[1:]] == [
        f"• {chat}" for chat in chats[20:]]
    assert "no recommendation yet" in second
    assert "Next page" not in second
    # A patient who arrives on an earlier page meanwhile shifts nothing (OFFSET would repeat
    # the first page's last patient on the next page).
    async with store.transaction(50, NOW) as tx:
        await tx.save(Patient(50, "en", {"dialogue": "screening", "state": "age"}))
    assert plain(content, await ask("patients", str(last_shown))) == second
    assert keys(await ask("patients", str(chats[-1]))) == ["staff.patients.none_after"]
    assert "No patients after 121." in plain(content, await ask("patients", "121"))
    for bad in ("two", "1 2", "1.5"):
        assert keys(await ask("patients", bad)) == ["staff.usage.patients"]


async def test_no_patients_yet(ask: Ask, content: Content) -> None:
    assert plain(content, await ask("patients")) == "No patients yet."


async def test_a_patient_who_blocked_the_bot_is_marked(
    ask: Ask, screen: Screen, store: Store, content: Content
) -> None:
    await screen(PATIENT)
    await store.deactivate(PATIENT, NOW)
    assert "(has blocked the bot)" in plain(content, await ask("patients"))


# -- /patient ID -----------------------------------------------------------------------------------


async def test_patient_shows_the_history_and_the_pain_chart(
    ask: Ask, screen: Screen, store: Store, content: Content
) -> None:
    await screen(PATIENT, pain=7)
    async with store.transaction(PATIENT, NOW + timedelta(weeks=2)) as tx:
        await tx.record_event("checkin", {"week": 2, "pain_score": 5, "response": "partial"})
    await ask("appointment", f"{PATIENT} 2025-03-20 09:30 Spine clinic")
    outputs = await ask("patient", str(PATIENT))
    text = plain(content, outputs)
    assert f"Patient {PATIENT} · language en · first seen 2025-03-03 09:00" in text
    assert "2025-03-03 09:00 answer pain_score: 7" in text
    assert "2025-03-03 09:00 answer saddle_numbness: No" in text
    assert "recommendation: Treatment without surgery (conservative care)" in text
    assert "2025-03-17 09:00 check-in, week 2: pain 5, response partial" in text
    assert "appointment booked: Thursday 2025-03-20 at 09:30 (Europe/London), Spine clinic" in text
    photos = [o for o in outputs if isinstance(o, Photo)]
    assert len(photos) == 1
    assert photos[0].png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "patient 1001" in content.catalog.plain(photos[0].caption, "en")


async def test_patient_in_chinese_for_a_chinese_clinic(
    store: Store, screen: Screen, content: Content
) -> None:
    await screen(PATIENT)
    desk = StaffDesk(content, store, staff_ids={STAFF}, clinic_chat_id=CLINIC, language="zh",
                     timezone="Asia/Shanghai", clock=lambda: NOW)
    outputs = await desk.handle(StaffRequest(STAFF, STAFF, "patient", str(PATIENT)))
    text = plain(content, outputs, "zh")
    assert "患者 1001" in text
    assert "2025-03-03 17:00 回答 pain_score" in text  # 09:00 UTC in Shanghai


async def test_patient_without_a_record_or_a_number(ask: Ask) -> None:
    assert keys(await ask("patient", "424242")) == ["staff.unknown_patient"]
    for bad in ("", "abc", "1 2", "1001x"):
        assert keys(await ask("patient", bad)) == ["staff.usage.patient"]


async def test_a_patient_without_a_pain_score_gets_no_chart(
    ask: Ask, store: Store
) -> None:
    async with store.transaction(PATIENT, NOW) as tx:
        await tx.save(Patient(PATIENT, "en", {"dialogue": "screening", "state": "age"}))
    outputs = await ask("patient", str(PATIENT))
    assert not any(isinstance(o, Photo) for o in outputs)
    assert keys(outputs) == ["staff.patient.title", "staff.patient.empty"]


# -- /appointment ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ("", "staff.usage.appointment"),
        ("1001", "staff.usage.appointment"),
        ("1001 2025-03-05 10:00", "staff.usage.appointment"),  # no place
        ("1001 2025-03-05 10:00 ; a note but no place", "staff.usage.appointment"),
        ("patient 2025-03-05 10:00 Room 1", "staff.usage.appointment"),
        ("1001 05/03/2025 10:00 Room 1", "staff.usage.appointment"),
        ("1001 2025-3-5 10:00 Room 1", "staff.usage.appointment"),
        ("1001 2025-13-05 10:00 Room 1", "staff.usage.appointment"),
        ("1001 2025-02-30 10:00 Room 1", "staff.usage.appointment"),
        ("1001 2025-03-05 24:00 Room 1", "staff.usage.appointment"),
        ("1001 2025-03-05 10:60 Room 1", "staff.usage.appointment"),
        ("1001 2025-03-05 10h00 Room 1", "staff.usage.appointment"),
        ("1001 2025-03-05 10:00:00 Room 1", "staff.usage.appointment"),
        ("1001 tomorrow 10:00 Room 1", "staff.usage.appointment"),
        ("1001 2025-03-05 10:00 " + "x" * 201, "staff.appointment.too_long"),
        ("1001 2025-03-05 10:00 Room 1; " + "x" * 501, "staff.appointment.too_long"),
        ("1001 2025-03-01 10:00 Room 1", "staff.appointment.past"),
        ("1001 2025-03-03 09:00 Room 1", "staff.appointment.past"),  # now is not the future
        ("1001 2025-03-30 01:30 Room 1", "staff.appointment.no_such_time"),  # DST gap in London
        ("424242 2025-03-05 10:00 Room 1", "staff.unknown_patient"),
    ],
)
async def test_malformed_appointments_get_a_clear_answer_and_book_nothing(
    ask: Ask, screen: Screen, store: Store, args: str, key: str
) -> None:
    await screen(PATIENT)
    outputs = await ask("appointment", args)
    assert keys(outputs) == [key]
    assert [e for e in await store.events(PATIENT) if e.kind == appointments.EVENT] == []
    assert await store.pending(PATIENT) == []


async def test_the_usage_names_the_clinic_time_zone(ask: Ask, content: Content) -> None:
    text = plain(content, await ask("appointment", "nonsense"))
    assert text.startswith("Usage: /appointment ID YYYY-MM-DD HH:MM PLACE ; NOTE")
    assert "clinic time (Europe/London)" in text


async def test_booking_answers_with_the_reminders(
    ask: Ask, screen: Screen, content: Content, store: Store
) -> None:
    await screen(PATIENT)
    full_width_semicolon = "\uff1b"  # as a Chinese keyboard types it
    line = f"{PATIENT} 2025-03-05 7:30 Spine clinic, room 2{full_width_semicolon}bring MRI"
    text = plain(content, await ask("appointment", line))
    assert ("Appointment booked for patient 1001: Wednesday 2025-03-05 at 07:30 (Europe/London),"
            " Spine clinic, room 2.") in text
    assert "Note from the clinic: bring MRI" in text
    assert "• 2025-03-03 20:00, the day before" in text  # 07:30 on the 4th is in quiet hours
    assert "• 2025-03-05 05:30, two hours before" in text
    visit = appointments.latest(await store.events(PATIENT))
    assert visit is not None
    assert (visit.place, visit.note, visit.by) == ("Spine clinic, room 2", "bring MRI", STAFF)


async def test_booking_under_two_hours_ahead_says_no_reminder_will_go(
    ask: Ask, screen: Screen, content: Content, store: Store
) -> None:
    await screen(PATIENT)
    text = plain(content, await ask("appointment", f"{PATIENT} 2025-03-03 10:30 Room 1"))
    assert "No reminders will be sent: the appointment is less than two hours away." in text
    assert [r for r in await store.pending(PATIENT) if r.kind == APPOINTMENT_REMINDER] == []


async def test_booking_again_says_what_it_replaces(
    ask: Ask, screen: Screen, content: Content, clock: Clock
) -> None:
    await screen(PATIENT)
    await ask("appointment", f"{PATIENT} 2025-03-05 14:00 Room 1")
    clock.advance(timedelta(minutes=5))
    text = plain(content, await ask("appointment", f"{PATIENT} 2025-03-06 14:00 Room 1"))
    assert "This replaces the earlier appointment on Wednesday 2025-03-05 at 14:00." in text


async def test_a_command_telegram_delivers_twice_books_once(
    ask: Ask, screen: Screen, content: Content, store: Store, clock: Clock
) -> None:
    await screen(PATIENT)
    line = f"{PATIENT} 2025-03-05 14:00 Room 1"
    first = plain(content, await ask("appointment", line, update_id=55))
    clock.advance(timedelta(seconds=3))
    again = plain(content, await ask("appointment", line, update_id=55))
    assert "Appointment booked for patient 1001: Wednesday 2025-03-05 at 14:00" in first
    assert "Appointment booked for patient 1001: Wednesday 2025-03-05 at 14:00" in again
    events = [e for e in await store.events(PATIENT) if e.kind == appointments.EVENT]
    assert len(events) == 1
    # One confirmation to the patient at once, and the two reminders: each written once.
    assert sorted(r.kind for r in await store.pending(PATIENT)) == [
        appointments.BOOKED, "appointment_reminder", "appointment_reminder"]


async def test_a_failing_command_answers_with_an_apology(
    ask: Ask, screen: Screen, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await screen(PATIENT)

    async def broken(chat_id: int) -> list[object]:
        raise RuntimeError(chat_id)

    monkeypatch.setattr(store, "events", broken)
    assert keys(await ask("patient", str(PATIENT))) == ["staff.error"]


# -- /checkins ID WEEKS ----------------------------------------------------------------------------


async def test_checkins_sets_other_weeks_replacing_the_plan(
    ask: Ask, screen: Screen, store: Store, content: Content
) -> None:
    await screen(PATIENT)

    text = plain(content, await ask("checkins", f"{PATIENT} 1, 3,8"))

    assert f"Check-ins for patient {PATIENT} set to weeks 1, 3, 8" in text
    rows = [r for r in await store.pending(PATIENT) if r.kind == CHECKIN]
    # 10:00 London time (GMT in March, BST from the end of March) on each week's day.
    assert [r.due_at for r in rows] == [NOW.replace(day=10, hour=10),
                                        NOW.replace(day=24, hour=10),
                                        NOW.replace(month=4, day=28, hour=9)]
    assert "checkin_plan" in [e.kind for e in await store.events(PATIENT)]


async def test_checkins_skips_weeks_already_past(
    ask: Ask, screen: Screen, store: Store, clock: Clock
) -> None:
    await screen(PATIENT)
    clock.advance(timedelta(weeks=2))

    await ask("checkins", f"{PATIENT} 1,3")

    rows = [r for r in await store.pending(PATIENT) if r.kind == CHECKIN]
    assert [r.due_at for r in rows] == [NOW.replace(day=24, hour=10)]


@pytest.mark.parametrize("args", ["", f"{PATIENT}", f"{PATIENT} 6,2", f"{PATIENT} 2,2",
                                  f"{PATIENT} 0", f"{PATIENT} 200", f"{PATIENT} two", "x 2"])
async def test_malformed_checkins_get_the_usage_and_change_nothing(
    ask: Ask, screen: Screen, store: Store, args: str
) -> None:
    await screen(PATIENT)
    before = await store.pending(PATIENT)

    assert keys(await ask("checkins", args)) == ["staff.usage.checkins"]
    assert await store.pending(PATIENT) == before


async def test_checkins_for_someone_without_a_course(ask: Ask, conversations: Conversations,
                                                     content: Content) -> None:
    await conversations.handle(Action(PATIENT, command="start"))

    text = plain(content, await ask("checkins", f"{PATIENT} 2"))
    assert f"Patient {PATIENT} has no course to follow yet" in text
    assert keys(await ask("checkins", "424242 2")) == ["staff.unknown_patient"]
