"""Follow-up visits the clinic books: their reminders, and the patient's answer to them.

Rules (clinical spec §5, the issue's "Appointment reminders"):

- Staff give the visit's date and time in clinic time (``LDH_TIMEZONE``). Each appointment keeps
  a time zone of its own: the patient's, when their record has one (``care["timezone"]``), else
  the clinic's. Reminders are timed, and the visit's time is shown, in that zone.
- A patient is reminded the day before (same local time on the previous calendar day, so a DST
  change in between moves nothing on the clock) and two hours before (two real hours).
- Quiet hours are 21:00-08:00 local. A day-before reminder falling in them is sent at 20:00 on
  the evening the quiet hours begin: never later than a day before the visit, so the patient
  keeps a full day to ask for another time, and an hour before 21:00 so a delayed send (flood
  wait, retry) still lands before quiet hours. The two-hour reminder is always sent.
- A reminder whose time has passed is not written: a visit under two hours away gets none.
- One appointment per patient at a time: booking again replaces the earlier one (its unsent
  reminders are cancelled), which is also how staff answer a reschedule request.
- The record is the patient's history: an ``appointment`` event per booking, an
  ``appointment_answer`` event per button pressed.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from bot.dialogue.turn import Message, Text
from bot.outbox import APPOINTMENT_REMINDER, Button, Payload
from bot.storage.base import Event, Patient, Transaction

QUIET_START = time(21, 0)
QUIET_END = time(8, 0)
EVENING_SEND = time(20, 0)
TWO_HOURS = timedelta(hours=2)

DAY_BEFORE, TWO_HOURS_BEFORE = "day_before", "two_hours"
CONFIRM, RESCHEDULE = "confirm", "reschedule"
CHOICES = (CONFIRM, RESCHEDULE)
# Menu value of a reminder's buttons, "appt:<id>:<choice>"; the Telegram channel sends it as
# the callback data "m:appt:<id>:<choice>" (30 bytes with a 12-digit id, under Telegram's 64).
CHOICE = "appt:"
EVENT, ANSWER_EVENT = "appointment", "appointment_answer"
# The outbox kind of the message that confirms a booking to the patient at once.
BOOKED = "appointment_booked"
CANCEL_EVENT = "appointment_cancelled"  # the clinic called a visit off
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Notify = Callable[[Transaction, Text], Awaitable[object]]


@dataclass(frozen=True)
class Appointment:
    """One booked visit: when (aware, in ``timezone``), where, and the clinic's note."""

    id: str
    at: datetime
    timezone: str
    place: str
    note: str = ""
    by: int | None = None  # the staff member who booked it

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data for the patient's history."""
        return {"id": self.id, "at": self.at.isoformat(), "timezone": self.timezone,
                "place": self.place, "note": self.note, "by": self.by}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Appointment:
        """Rebuild an appointment recorded by ``to_json``."""
        zone = zoneinfo.ZoneInfo(str(data["timezone"]))
        return cls(str(data["id"]), datetime.fromisoformat(str(data["at"])).astimezone(zone),
                   str(data["timezone"]), str(data["place"]), str(data.get("note") or ""),
                   data.get("by"))


@dataclass(frozen=True)
class Reminder:
    """One reminder of a visit: which one, and when it is due (UTC)."""

    which: str
    due: datetime


def in_quiet_hours(moment: datetime) -> bool:
    """Whether a local time falls in the quiet hours, 21:00-08:00."""
    clock = moment.time()
    return clock >= QUIET_START or clock < QUIET_END


def local(day: date, clock: time, zone: tzinfo) -> datetime:
    """A wall-clock time in ``zone``; one skipped by a DST change becomes the real time after."""
    return _normalise(datetime.combine(day, clock, tzinfo=zone))


def _normalise(moment: datetime) -> datetime:
    # Python adds days to an aware time on the wall clock; the round trip through a timestamp
    # gives the offset actually in force then (and moves a skipped time past the gap).
    zone = moment.tzinfo
    return datetime.fromtimestamp(moment.timestamp(), zone)


def reminder_times(at: datetime, now: datetime) -> list[Reminder]:
    """The reminders of a visit at ``at`` (aware, in the patient's zone) still due after ``now``."""
    day_before = _normalise(at - timedelta(days=1))
    if in_quiet_hours(day_before):
        evening = day_before.date() if day_before.time() >= QUIET_START else (
            day_before.date() - timedelta(days=1))
        day_before = local(evening, EVENING_SEND, day_before.tzinfo or UTC)
    planned = (Reminder(DAY_BEFORE, day_before.astimezone(UTC)),
               Reminder(TWO_HOURS_BEFORE, at.astimezone(UTC) - TWO_HOURS))
    return [reminder for reminder in planned if reminder.due >= now]


def patient_zone(patient: Patient | None, clinic_zone: str) -> str:
    """The patient's time zone if their record names a valid one, else the clinic's."""
    care = patient.session.get("care") if patient is not None else None
    name = care.get("timezone") if isinstance(care, dict) else None
    if isinstance(name, str):
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return clinic_zone
        return name
    return clinic_zone


def when(moment: datetime) -> Text:
    """A visit's day and time as shown to a reader, in the zone ``moment`` carries."""
    weekday = Text(f"appointment.weekday.{_WEEKDAYS[moment.weekday()]}")
    return Text("appointment.when", {"weekday": weekday, "date": moment.date().isoformat(),
                                     "time": moment.strftime("%H:%M")})


def callback(appointment_id: str, choice: str) -> str:
    """The callback data of a reminder's button."""
    return f"{CHOICE}{appointment_id}:{choice}"


def reminder_payload(appointment: Appointment, which: str, language: str) -> Payload:
    """The reminder message, in the patient's language, with its confirm/reschedule buttons."""
    parts = [Text(f"appointment.reminder.{which}",
                  {"when": when(appointment.at), "place": appointment.place})]
    if appointment.note:
        parts.append(Text("appointment.note", {"note": appointment.note}))
    buttons = tuple(Button(Text(f"appointment.opt.{choice}"), callback(appointment.id, choice))
                    for choice in CHOICES)
    # A reminder that could not go out before the visit is not sent after it.
    return Payload(language, (Message(tuple(parts)),), buttons, expires_at=appointment.at)


def confirmation_payload(appointment: Appointment, language: str) -> Payload:
    """The message that tells the patient of a booking at once, with the reminders' buttons."""
    reminder = reminder_payload(appointment, DAY_BEFORE, language)
    booked = Text("booked.confirmation",
                  {"when": when(appointment.at), "place": appointment.place})
    parts = [booked, *reminder.messages[0].parts[1:]]  # the clinic's note, if any
    return Payload(language, (Message(tuple(parts)),), reminder.buttons,
                   expires_at=appointment.at)


async def enqueue_reminders(
    tx: Transaction, appointment: Appointment, reminders: Iterable[Reminder], language: str
) -> None:
    """Write the reminder rows; a key already pending or sent adds nothing, so this may repeat."""
    for reminder in reminders:
        payload = reminder_payload(appointment, reminder.which, language)
        key = f"appt:{tx.chat_id}:{appointment.id}:{reminder.which}"
        await tx.enqueue(APPOINTMENT_REMINDER, tx.chat_id, payload.to_json(), reminder.due, key)


async def book(tx: Transaction, appointment: Appointment, language: str) -> list[Reminder]:
    """Record a visit for the held chat, replacing any earlier one, and write its reminders.

    The patient is told at once (through the outbox), not only the day before.
    """
    await tx.cancel(tx.chat_id, [APPOINTMENT_REMINDER, BOOKED])
    reminders = reminder_times(appointment.at, tx.now)
    data = {**appointment.to_json(),
            "reminders": [{"which": r.which, "due": r.due.isoformat()} for r in reminders]}
    await tx.record_event(EVENT, data)
    booked = confirmation_payload(appointment, language)
    await tx.enqueue(BOOKED, tx.chat_id, booked.to_json(), tx.now,
                     f"appt:{tx.chat_id}:{appointment.id}:booked")
    await enqueue_reminders(tx, appointment, reminders, language)
    return reminders


def latest(events: Iterable[Event]) -> Appointment | None:
    """The patient's current appointment: the one booked last, unless it was cancelled."""
    found = None
    for event in events:
        if event.kind == EVENT:
            found = Appointment.from_json(event.data)
        elif event.kind == CANCEL_EVENT and found is not None and event.data.get("id") == found.id:
            found = None
    return found


def last_answer(events: Iterable[Event], appointment_id: str) -> str | None:
    """The patient's latest answer to an appointment's reminders, if any."""
    answer = None
    for event in events:
        if event.kind == ANSWER_EVENT and event.data.get("id") == appointment_id:
            answer = str(event.data.get("choice"))
    return answer


async def choose(tx: Transaction, language: str, value: str, notify: Notify) -> Text:
    """Record the patient's answer to a reminder, tell the clinic; return the note for them."""
    appointment_id, _, choice = value.removeprefix(CHOICE).partition(":")
    events = await tx.events()
    current = latest(events)
    if current is None or current.id != appointment_id or choice not in CHOICES:
        return Text("appointment.stale")
    if current.at <= tx.now:
        return Text("appointment.past", {"when": when(current.at)})
    previous = last_answer(events, current.id)
    await tx.record_event(ANSWER_EVENT, {"id": current.id, "choice": choice})
    if choice == RESCHEDULE:
        # The visit will move: reminders of the old time would only confuse.
        await tx.cancel(tx.chat_id, [APPOINTMENT_REMINDER])
    elif previous == RESCHEDULE:
        # Coming after all: the reminders still ahead are written again (sent ones are kept).
        await enqueue_reminders(tx, current, reminder_times(current.at, tx.now), language)
    if choice != previous:  # a second tap on the same button tells the clinic nothing new
        await notify(tx, Text(f"appointment.clinic.{choice}", {
            "patient": str(tx.chat_id), "when": when(current.at), "zone": current.timezone,
            "place": current.place}))
    return Text(f"appointment.{choice}", {"when": when(current.at)})
