"""What staff do to a patient's care from either face: book, move, cancel visits; plan check-ins.

Each runs in the patient's transaction and returns what was done, never a text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot import checkins
from bot.clinic import appointments
from bot.dialogue.session import Session
from bot.outbox import APPOINTMENT_REMINDER, CHECKIN
from bot.storage.base import Store

MAX_WEEK = 104  # check-ins are planned within two years of the course's start


@dataclass(frozen=True)
class Booked:
    """A visit booked, its reminders (None for a repeated command), and the visit it replaced."""

    visit: appointments.Appointment | None
    reminders: list[appointments.Reminder] | None
    replaced: appointments.Appointment | None


class UnknownPatientError(LookupError):
    """No patient with that chat id has a record."""


class NoCourseError(LookupError):
    """The patient has no course of treatment to plan check-ins for."""


async def book_visit(  # noqa: PLR0913  # a booking's every part, each named at the call
    store: Store, *, chat_id: int, at: datetime, place: str, note: str, by: int,
    clinic_zone: ZoneInfo, now: datetime, update_id: int | None = None,
) -> Booked:
    """Book (or move: booking again replaces) a visit, with the reminders of /appointment."""
    async with store.transaction(chat_id, now) as tx:
        patient = await tx.load()
        if patient is None or not patient.session:
            raise UnknownPatientError(chat_id)
        earlier = appointments.latest(await tx.events())
        if update_id is not None and not await tx.first_time(update_id):
            # Telegram delivered the command again: it was booked the first time.
            return Booked(earlier, None, None)
        zone = appointments.patient_zone(patient, clinic_zone.key)
        # The id orders a patient's bookings and keeps callback data short (12 digits).
        visit = appointments.Appointment(
            id=now.astimezone(clinic_zone).strftime("%y%m%d%H%M%S"),
            at=at.astimezone(ZoneInfo(zone)), timezone=zone, place=place, note=note, by=by)
        reminders = await appointments.book(tx, visit, patient.language)
    replaced = earlier if earlier is not None and earlier.at > now else None
    return Booked(visit, reminders, replaced)


async def cancel_visit(store: Store, *, chat_id: int, by: int,
                       now: datetime) -> appointments.Appointment | None:
    """Cancel the patient's coming visit and its unsent reminders; the visit, or None if none."""
    async with store.transaction(chat_id, now) as tx:
        patient = await tx.load()
        if patient is None or not patient.session:
            raise UnknownPatientError(chat_id)
        current = appointments.latest(await tx.events())
        if current is None or current.at <= now:
            return None
        await tx.cancel(chat_id, [APPOINTMENT_REMINDER])
        await tx.record_event(appointments.CANCEL_EVENT, {"id": current.id, "by": by})
    return current


def valid_weeks(weeks: list[int]) -> bool:
    """Rising, distinct weeks within the planning horizon."""
    return bool(weeks) and weeks == sorted(set(weeks)) and all(
        1 <= week <= MAX_WEEK for week in weeks)


async def plan_checkins(  # noqa: PLR0913  # the plan's every part, each named at the call
        store: Store, *, chat_id: int, weeks: list[int], by: int,
                        clinic_zone: ZoneInfo, now: datetime) -> list[datetime]:
    """Set other check-in weeks for a patient's course (spec §5); the check-ins' due times."""
    async with store.transaction(chat_id, now) as tx:
        patient = await tx.load()
        if patient is None or not patient.session:
            raise UnknownPatientError(chat_id)
        session = Session.from_json(patient.session)
        if not session.care.get("since"):
            raise NoCourseError(chat_id)
        session.care["weeks"] = weeks
        await tx.cancel(chat_id, [CHECKIN])
        await checkins.schedule(tx, session, f"{checkins.CHECKIN_CHOICE}start", clinic_zone,
                                not_before=now)
        await tx.record_event("checkin_plan", {"weeks": weeks, "by": by})
        await tx.save(replace(patient, session=session.to_json()))
        return [r.due_at for r in await tx.pending() if r.kind == CHECKIN]
