"""The patients: the searchable list, a patient's page, and what staff do there."""

from __future__ import annotations

import json
from contextlib import aclosing
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from bot.audit import ANSWER
from bot.channels.web.forms import local_moment, whole_number
from bot.channels.web.page import Page, Refusal
from bot.clinic import actions, appointments, export
from bot.clinic.booking import NOTE_MAX, PLACE_MAX
from bot.clinic.erasure import erase
from bot.clinic.export_data import patient_document
from bot.clinic.history import event_lines, step_text
from bot.clinic.queue import QueueItem
from bot.clinical.chart import pain_points
from bot.dialogue.turn import Text
from bot.outbox import APPOINTMENT_REMINDER, CHECKIN
from bot.storage.base import Event, PatientRecord, RecordQuery, Store
from bot.storage.dashboard_tables import QUEUE_EVENT, PatientQuery

PAGE = 50  # patients per page


class Patients(Page):
    """Patients by name, username or chat id, with filters, a page at a time (keyset paging)."""

    async def get(self) -> None:
        """A page of patients after ``after``, as the filters choose."""
        pending = self.get_query_argument("pending", "")
        step = self.get_query_argument("step", "")
        query = PatientQuery(
            term=self.get_query_argument("q", "").strip()[:100],
            open_items=self.get_query_argument("open", "") == "1",
            pending=pending if pending in {"any", APPOINTMENT_REMINDER, CHECKIN} else None,
            step=step if self.dash.content.catalog.has(f"step.{step}") else "",
            after=whole_number(self.get_query_argument("after", "")), limit=PAGE + 1)
        found = await self.dash.tables.patients_page(query)
        rows = found[:PAGE]
        more = rows[-1].chat_id if len(found) > PAGE else None
        following = {"q": query.term, "open": "1" if query.open_items else "",
                     "pending": query.pending or "", "step": query.step, "after": more or ""}
        self.page("patients.html", rows=rows, query=query, more=more, steps=self._steps(),
                  next_query=urlencode({k: v for k, v in following.items() if v}))

    def _steps(self) -> list[str]:
        return [key.removeprefix("step.") for key in self.dash.content.catalog.templates[
            self.language] if key.startswith("step.")]


class PatientPage(Page):
    """One patient: header, pain chart, timeline, appointment, check-ins, data and erasure."""

    async def get(self, chat_id: str) -> None:
        """The page; opening it is recorded in the audit trail."""
        number = int(chat_id)
        await self.show(number)

    async def show(self, number: int, notice: str = "", status: int = 200) -> None:
        """Render the page with an optional notice of what was just done."""
        patient = await self.dash.tables.patient(number)
        if patient is None or not patient.session:
            raise Refusal(404, "refusal.not_found")
        await self.dash.audit(self.me, "view_patient", number)
        events = await self.dash.store.events(number)
        items = await self.dash.queue.of_patient(number)
        timeline = self._timeline(events, items)
        screening = export.screening_of(self.dash.content, PatientRecord(patient, tuple(
            e for e in events if e.kind == "recommendation")))
        visit = appointments.latest(events)
        now = self.dash.clock()
        self.set_status(status)
        latest = next((e.data.get("recommendation") for e in reversed(events)
                       if e.kind == "recommendation"), None)
        alerts = [self.alert(name) for name in (latest or {}).get("alerts", [])]
        self.page("patient.html", patient=patient, screening=screening, alerts=alerts,
                  timeline=timeline, items=items, chart=_chart(pain_points(events)),
                  pending=await self.dash.store.pending(number),
                  visit=visit if visit is not None and visit.at > now else None,
                  notice=notice, place_max=PLACE_MAX, note_max=NOTE_MAX,
                  step=self.plain(step_text({"step": screening.step,
                                             "disposition": screening.disposition or "routine"}))
                  if screening.step or screening.disposition else "")


    def _timeline(self, events: list[Event], items: list[QueueItem]) -> list[tuple[str, str]]:
        """Every event's lines and every queue item with who did what, oldest first."""
        label = self.dash.content.engines[export.SCREENING].label
        lines: list[tuple[datetime, int, str, str]] = []
        for event in events:
            own = self._own_line(event)
            if own is not None:
                lines.append((event.at, event.id, "event", own))
                continue
            lines.extend((event.at, event.id, "event", self.plain(line))
                         for line in event_lines(event, self.dash.zone, label))
            if event.kind == "recommendation":
                lines.extend((event.at, event.id, "event", line)
                             for line in self._recommendation(event.data.get("recommendation")))
            typed = event.data.get("typed")
            if event.kind != ANSWER and isinstance(typed, str):  # e.g. an answer not read
                lines.append((event.at, event.id, "event", self.t(
                    "patient.typed", at=self.when(event.at), typed=typed)))
        for item in items:
            row = item.row
            state = (self.t("queue.done_by", who=row.done_by, at=self.when(row.done_at),
                            note=row.note) if row.done_at else
                     self.t("queue.taken_by", who=row.taken_by) if row.taken_by is not None
                     else self.t("queue.nobody"))
            what = self.told(item.message.parts[0]) if item.message.parts else item.kind
            lines.append((row.at, row.id, "queue-item", self.t(
                "patient.queue_item", at=self.when(row.at), what=what, state=state)))
        lines.sort(key=lambda line: (line[0], line[1]))
        return [(css, text) for _, _, css, text in lines if text]


    def _own_line(self, event: Event) -> str | None:
        """The line of what the clinic did that the Telegram history names only by kind."""
        at = self.when(event.at)
        if event.kind == appointments.CANCEL_EVENT:
            return self.t("patient.line_cancelled", at=at, who=event.data.get("by", "?"))
        if event.kind == "checkin_plan":
            weeks = ", ".join(str(week) for week in event.data.get("weeks", []))
            return self.t("patient.line_plan", at=at, weeks=weeks, who=event.data.get("by", "?"))
        if event.kind in {"pain_chart", QUEUE_EVENT}:  # drawn above; the queue item follows
            return ""
        return None

    def _recommendation(self, data: object) -> list[str]:
        """A recommendation's options and alerts, under its step."""
        if not isinstance(data, dict):
            return []
        catalog = self.dash.content.catalog
        options = [self.plain(Text(f"method.{name}.name")) for name in data.get("options", [])
                   if catalog.has(f"method.{name}.name")]
        alerts = [self.alert(name) for name in data.get("alerts", [])]
        lines = [self.t("patient.line_options", options="; ".join(options))] if options else []
        lines.extend(self.t("patient.line_alert", alert=alert) for alert in alerts)
        return lines


class Book(PatientPage):
    """Book or move the patient's visit, with the reminders /appointment makes."""

    async def post(self, chat_id: str) -> None:
        """Book from the form's date, time (clinic time), place and note."""
        number, now = int(chat_id), self.dash.clock()
        place = self.get_body_argument("place", "").strip()
        note = self.get_body_argument("note", "").strip()
        at = local_moment(self.get_body_argument("date", ""), self.get_body_argument("time", ""),
                    self.dash.zone)
        if at is None or at <= now or not place or len(place) > PLACE_MAX or (
                len(note) > NOTE_MAX):
            await self.show(number, self.t("patient.bad_booking"), 400)
            return
        try:
            booked = await actions.book_visit(
                self.dash.store, chat_id=number, at=at, place=place, note=note,
                by=self.me.staff_id, clinic_zone=self.dash.zone, now=now)
        except actions.UnknownPatientError as error:
            raise Refusal(404, "refusal.not_found") from error
        await self.dash.audit(self.me, "book_appointment", number, at.isoformat())
        listed = ", ".join(self.when(r.due) for r in booked.reminders or []) or self.t(
            "patient.no_reminders_due")
        await self.show(number, self.t("patient.booked", reminders=listed))


class Cancel(PatientPage):
    """Cancel the patient's coming visit and its reminders."""

    async def post(self, chat_id: str) -> None:
        """Cancel, and say so."""
        number = int(chat_id)
        try:
            visit = await actions.cancel_visit(self.dash.store, chat_id=number,
                                               by=self.me.staff_id, now=self.dash.clock())
        except actions.UnknownPatientError as error:
            raise Refusal(404, "refusal.not_found") from error
        if visit is not None:
            await self.dash.audit(self.me, "cancel_appointment", number, visit.id)
        await self.show(number, self.t("patient.cancelled" if visit is not None
                                       else "patient.nothing_to_cancel"))


class Checkins(PatientPage):
    """Set the weeks of the patient's check-ins."""

    async def post(self, chat_id: str) -> None:
        """Plan from the typed weeks."""
        number = int(chat_id)
        raw = self.get_body_argument("weeks", "").replace(",", " ").split()
        weeks = [int(w) for w in raw if w.isdigit()] if all(w.isdigit() for w in raw) else []
        if not actions.valid_weeks(weeks):
            await self.show(number, self.t("patient.bad_weeks"), 400)
            return
        try:
            due = await actions.plan_checkins(self.dash.store, chat_id=number, weeks=weeks,
                                              by=self.me.staff_id, clinic_zone=self.dash.zone,
                                              now=self.dash.clock())
        except actions.UnknownPatientError as error:
            raise Refusal(404, "refusal.not_found") from error
        except actions.NoCourseError:
            await self.show(number, self.t("patient.no_course"), 409)
            return
        await self.dash.audit(self.me, "plan_checkins", number, ",".join(map(str, weeks)))
        await self.show(number, self.t("patient.weeks_set",
                                       dates=", ".join(self.when(at) for at in due)))


class Erase(PatientPage):
    """Erase a patient, once the chat id is typed again."""

    async def post(self, chat_id: str) -> None:
        """Erase, or say the typed id did not match."""
        number = int(chat_id)
        if self.get_body_argument("confirm", "").strip() != str(number):
            await self.show(number, self.t("patient.erase_mismatch"), 400)
            return
        await erase(self.dash.store, number, self.dash.clock())
        await self.dash.audit(self.me, "erase_patient", number)
        self.page("refusal.html", message=self.t("patient.erased", patient=number))


class PatientData(Page):
    """Everything kept about one patient, as JSON."""

    async def get(self, chat_id: str) -> None:
        """The document, as a download."""
        number = int(chat_id)
        record = await _record(self.dash.store, number, kinds=None)
        if record is None:
            raise Refusal(404, "refusal.not_found")
        document = patient_document(self.dash.content, record,
                                    await self.dash.store.pending(number))
        await self.dash.audit(self.me, "patient_data", number)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="patient-{number}.json"')
        self.finish(json.dumps(document, ensure_ascii=False, indent=1))


async def _record(store: Store, chat_id: int,
                  kinds: frozenset[str] | None = frozenset()) -> PatientRecord | None:
    query = RecordQuery(kinds=kinds, chat_id=chat_id, limit=1)
    async with aclosing(store.records(query)) as records:
        async for record in records:
            return record if record.patient.session else None
    return None


def _chart(points: list[tuple[float, int]]) -> dict[str, Any] | None:
    """Coordinates of the pain chart (numbers only) in a 600 x 240 box."""
    if not points:
        return None
    left, right, top, bottom = 40, 580, 20, 200
    last = max(1.0, *(week for week, _ in points))
    xy = [(left + (right - left) * week / last, bottom - (bottom - top) * score / 10, week, score)
          for week, score in points]
    return {"points": xy, "line": " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in xy),
            "last": last, "left": left, "right": right, "top": top, "bottom": bottom,
            "ticks": [(bottom - (bottom - top) * s / 10, s) for s in (0, 2, 4, 6, 8, 10)]}
