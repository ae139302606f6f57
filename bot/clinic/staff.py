"""The staff desk: /patients, /patient, /appointment, /checkins and /export, for staff only.

Only users listed in ``LDH_STAFF_IDS``, writing in a private chat or in the clinic's chat, are
served; the channel hands anyone else's command to the patient conversation, which answers it
like any unknown command, so nothing even hints that staff commands exist.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Collection
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.clinic import actions, appointments, export
from bot.clinic.booking import parse_booking
from bot.clinic.charts import patient_chart
from bot.clinic.export_stream import BundleFile, CsvSheet, stream_screenings, within
from bot.clinic.history import event_lines, step_text
from bot.clinic.replies import (
    Document,
    Output,
    Photo,
    Progress,
    StaffRequest,
    clock_time,
    say,
)
from bot.content import Content
from bot.dialogue.turn import Message, Text
from bot.storage.base import Patient, PatientRecord, RecordQuery, Store

log = logging.getLogger(__name__)

COMMANDS = ("patients", "patient", "appointment", "checkins", "export")
PAGE = 20  # patients per /patients page: one screen of a phone
RECOMMENDATIONS = frozenset({"recommendation"})  # what a /patients row reads of the history
Clock = Callable[[], datetime]
# Records a staff action in the audit trail: who, what, which patient (if one), the details.
Audit = Callable[[int, str, int | None, str], Awaitable[None]]


class StaffDesk:
    """Answers staff commands from the store; books appointments in the patient's transaction."""

    # Telegram takes documents of up to 50 MB from a bot: a larger export file is gzipped.
    max_document_bytes = 50 * 1000 * 1000

    def __init__(  # noqa: PLR0913  # the settings a desk needs, each named at the call
        self,
        content: Content,
        store: Store,
        *,
        staff_ids: Collection[int],
        clinic_chat_id: int | None,
        language: str,
        timezone: str,
        clock: Clock,
        audit: Audit | None = None,
    ) -> None:
        """Serve ``staff_ids`` in ``language``, showing times in the clinic's ``timezone``."""
        self.content = content
        self.store = store
        self.staff_ids = frozenset(staff_ids)
        self.clinic_chat_id = clinic_chat_id
        self.language = language
        self.zone = ZoneInfo(timezone)
        self.clock = clock
        self.audit = audit  # the dashboard's audit trail, when there is one

    def authorised(self, user_id: int, chat_id: int, *, private: bool) -> bool:
        """Staff, in their private chat with the bot or in the clinic's chat."""
        return user_id in self.staff_ids and (private or chat_id == self.clinic_chat_id)

    async def handle(self, request: StaffRequest, progress: Progress | None = None,
                     ) -> list[Output]:
        """The answer to a staff command; nothing at all for anyone who is not staff.

        ``progress`` hears how far a long command (``/export``) has got, and when it is done.
        Documents may be temporary files: the caller deletes them once sent (``discard``).
        """
        if request.user_id not in self.staff_ids:
            return []
        commands: dict[str, Callable[[StaffRequest], Awaitable[list[Output]]]] = {
            "patients": self._patients,
            "patient": self._patient,
            "appointment": self._appointment,
            "checkins": self._checkins,
            "export": lambda _request: self._export(progress),
        }
        command = commands.get(request.command)
        if command is None:
            return []
        try:
            if self.audit is not None:  # recorded before it runs: a read is a read
                words = request.args.split()
                await self.audit(request.user_id, f"telegram_{request.command}",
                                 _number(words[0]) if words else None, request.args[:200])
            return await command(request)
        except Exception:
            log.exception("staff command /%s failed", request.command)
            return [say("staff.error")]

    # -- /patients [AFTER] -----------------------------------------------------------------------

    async def _patients(self, request: StaffRequest) -> list[Output]:
        """A page of patients by key: those after the chat id the previous page ended with."""
        valid, after = _page_key(request.args)
        if not valid:
            return [say("staff.usage.patients")]
        query = RecordQuery(kinds=RECOMMENDATIONS, after=after, limit=PAGE + 1, batch=PAGE + 1,
                            session_without=("history",))
        async with aclosing(self.store.records(query)) as records:
            found = [record async for record in records]
        if not found:
            return [say("staff.patients.none") if after is None
                    else say("staff.patients.none_after", after=after)]
        shown = found[:PAGE]
        rows = [await self._row(record) for record in shown]
        values = {"zone": self.zone.key, "rows": rows}
        parts = [Text("staff.patients.title", values) if after is None
                 else Text("staff.patients.title_after", {**values, "after": after})]
        if len(found) > PAGE:
            parts.append(Text("staff.patients.more", {"after": shown[-1].patient.chat_id}))
        return [Message(tuple(parts))]

    async def _row(self, record: PatientRecord) -> Text:
        patient = record.patient
        step: Text = Text("staff.patients.no_step")
        for event in record.events:
            if event.kind == "recommendation":
                step = step_text(dict(event.data.get("recommendation", {})))
        # The next reminder; a booking's confirmation goes out at once and is not one.
        pending = [r for r in await self.store.pending(patient.chat_id)
                   if r.kind != appointments.BOOKED]
        upcoming = (Text("staff.patients.next", {"when": clock_time(pending[0].due_at, self.zone),
                                                 "kind": Text(f"staff.kind.{pending[0].kind}")})
                    if pending else Text("staff.patients.no_next"))
        session = patient.session
        where = f"{session.get('dialogue', '?')}/{session.get('state', '?')}"
        key = "staff.patients.row" if patient.active else "staff.patients.row_inactive"
        return Text(key, {"patient": str(patient.chat_id), "language": patient.language,
                          "where": where, "step": step, "next": upcoming})

    # -- /patient ID ----------------------------------------------------------------------------

    async def _load(self, chat_id: int) -> Patient | None:
        async with self.store.transaction(chat_id, self.clock()) as tx:
            patient = await tx.load()
        return patient if patient is not None and patient.session else None

    async def _patient(self, request: StaffRequest) -> list[Output]:
        chat_id = _number(request.args)
        if chat_id is None:
            return [say("staff.usage.patient")]
        patient = await self._load(chat_id)
        if patient is None:
            return [say("staff.unknown_patient", patient=str(chat_id))]
        events = await self.store.events(chat_id)
        label = self.content.engines[export.SCREENING].label
        lines = [line for event in events for line in event_lines(event, self.zone, label)]
        since = clock_time(patient.created_at, self.zone) if patient.created_at else "?"
        out: list[Output] = [
            Message((Text("staff.patient.title", {"patient": str(chat_id),
                                                  "language": patient.language, "since": since}),
                     Text("staff.patient.history", {"zone": self.zone.key, "events": lines})
                     if lines else Text("staff.patient.empty"))),
        ]
        chart = await patient_chart(self.store, chat_id)
        if chart is not None:
            out.append(Photo(chart, Text("staff.patient.chart", {"patient": str(chat_id)})))
        return out

    # -- /appointment ID YYYY-MM-DD HH:MM PLACE [; NOTE] ----------------------------------------

    async def _appointment(self, request: StaffRequest) -> list[Output]:
        now = self.clock()
        booking = parse_booking(request.args, self.zone, now)
        if isinstance(booking, Text):
            return [Message((booking,))]
        try:
            booked = await actions.book_visit(
                self.store, chat_id=booking.patient, at=booking.at, place=booking.place,
                note=booking.note, by=request.user_id, clinic_zone=self.zone, now=now,
                update_id=request.update_id)
        except actions.UnknownPatientError:
            return [say("staff.unknown_patient", patient=str(booking.patient))]
        return self._booked(booking.patient, booked.visit, booked.reminders, booked.replaced)

    def _booked(
        self,
        patient: int,
        visit: appointments.Appointment | None,
        reminders: list[appointments.Reminder] | None,
        replaced: appointments.Appointment | None,
    ) -> list[Output]:
        if visit is None:
            return [say("staff.error")]
        at = visit.at.astimezone(self.zone)
        parts = [Text("staff.appointment.booked", {
            "patient": str(patient), "when": appointments.when(at), "zone": self.zone.key,
            "place": visit.place})]
        if visit.note:
            parts.append(Text("appointment.note", {"note": visit.note}))
        if reminders is not None:
            listed = [Text("staff.appointment.reminder", {
                "when": clock_time(r.due, self.zone), "which": Text(f"staff.which.{r.which}")})
                for r in reminders]
            parts.append(Text("staff.appointment.reminders", {"reminders": listed}) if listed
                         else Text("staff.appointment.no_reminders"))
        if replaced is not None:
            parts.append(Text("staff.appointment.replaced",
                              {"when": appointments.when(replaced.at.astimezone(self.zone))}))
        return [Message(tuple(parts))]

    # -- /checkins ID WEEK[,WEEK...] -----------------------------------------------------------

    async def _checkins(self, request: StaffRequest) -> list[Output]:
        """The clinic sets other check-in weeks for a patient's course (spec §5)."""
        plan = _checkin_plan(request.args)
        if plan is None:
            return [say("staff.usage.checkins")]
        chat_id, weeks = plan
        try:
            due = await actions.plan_checkins(self.store, chat_id=chat_id, weeks=weeks,
                                              by=request.user_id, clinic_zone=self.zone,
                                              now=self.clock())
        except actions.UnknownPatientError:
            return [say("staff.unknown_patient", patient=str(chat_id))]
        except actions.NoCourseError:
            return [say("staff.checkins.no_course", patient=str(chat_id))]
        listed = [clock_time(at, self.zone) for at in due] or ["—"]
        return [say("staff.checkins.set", patient=str(chat_id),
                    weeks=", ".join(map(str, weeks)), dates=listed)]

    # -- /export --------------------------------------------------------------------------------

    async def _export(self, progress: Progress | None) -> list[Output]:
        """Every screening, streamed from the store into temporary CSV and FHIR files."""
        now = self.clock()
        fhir = export.Fhir(self.content, self.language)
        stamp = now.astimezone(self.zone).strftime("%Y%m%d-%H%M")
        table, table_out = _temporary(".csv")
        bundle, bundle_out = _temporary(".fhir.json")
        reported = False

        async def report(count: int) -> None:
            nonlocal reported
            reported = True
            if progress is not None:
                await progress(count, False)  # noqa: FBT003  # the callback's positional flag

        written = (table, bundle)
        try:
            with table_out, bundle_out:
                sheet = CsvSheet(table_out, export.asked_facts(self.content))
                responses = BundleFile(bundle_out, fhir, now)
                count = await stream_screenings(self.store, self.content,
                                                [sheet.add, responses.add], progress=report)
                responses.close()
            table, table_name = await asyncio.to_thread(
                within, table, f"screenings-{stamp}.csv", self.max_document_bytes)
            bundle, bundle_name = await asyncio.to_thread(
                within, bundle, f"screenings-{stamp}.fhir.json", self.max_document_bytes)
        except BaseException:
            _remove(written)  # a failed export leaves no patient data behind
            raise
        if reported and progress is not None:
            await progress(count, True)  # noqa: FBT003  # the callback's positional flag
        return [
            Document(table_name, table, Text("staff.export.csv", {"count": count})),
            Document(bundle_name, bundle, Text("staff.export.bundle", {"count": count})),
            Document("questionnaire.fhir.json", export.to_json(fhir.questionnaire()),
                     Text("staff.export.questionnaire")),
        ]


def _temporary(suffix: str) -> tuple[Path, TextIO]:
    """A new file only this user can read (it holds patient data), open for writing text."""
    handle, name = tempfile.mkstemp(prefix="ldh-export-", suffix=suffix)
    return Path(name), os.fdopen(handle, "w", encoding="utf-8", newline="")


def _remove(paths: Collection[Path]) -> None:
    for path in paths:
        for left in (path, path.with_name(f"{path.name}.gz")):
            left.unlink(missing_ok=True)


def _number(args: str) -> int | None:
    words = args.split()
    if len(words) != 1:
        return None
    try:
        return int(words[0])
    except ValueError:
        return None


def _checkin_plan(args: str) -> tuple[int, list[int]] | None:
    """``ID 3,8,16`` (or spaces) → the patient and rising weeks, or None when malformed."""
    words = args.replace(",", " ").split()
    try:
        numbers = [int(word) for word in words]
    except ValueError:
        return None
    if len(numbers) < 2:  # noqa: PLR2004  # a patient and at least one week
        return None
    chat_id, weeks = numbers[0], numbers[1:]
    if not actions.valid_weeks(weeks):
        return None
    return chat_id, weeks


def _page_key(args: str) -> tuple[bool, int | None]:
    """Whether ``args`` are well formed, and the chat id a page starts after (None: the first)."""
    if not args.strip():
        return True, None
    number = _number(args)
    return number is not None, number

