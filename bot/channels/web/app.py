"""The dashboard's tornado application: pages, forms, downloads; every refusal a clear page."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable
from contextlib import aclosing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import tornado.web

from bot.audit import ANSWER
from bot.channels.web.texts import WebTexts
from bot.clinic import actions, appointments, export
from bot.clinic.booking import NOTE_MAX, PLACE_MAX
from bot.clinic.erasure import erase
from bot.clinic.export_data import patient_document
from bot.clinic.export_stream import BundleFile, CsvSheet, stream_screenings
from bot.clinic.history import event_lines, step_text
from bot.clinic.queue import FILTERS, Queue, QueueItem
from bot.clinic.replies import clock_time
from bot.clinic.signin import Signed, SignIn, same_token
from bot.clinical.chart import pain_points
from bot.content import Content
from bot.dialogue.texts import LANGUAGES
from bot.dialogue.turn import Text
from bot.outbox import APPOINTMENT_REMINDER, CHECKIN
from bot.queue_items import load_rules
from bot.storage.base import Event, PatientRecord, RecordQuery, Store
from bot.storage.dashboard_tables import QUEUE_EVENT, DashboardTables, PatientQuery

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "ldh_session"
SECURE_COOKIE = "__Host-ldh_session"
PAGE = 50  # patients per page
AUDIT_PAGE = 200
_ICON = re.compile(r"^[^\w(]+")  # emoji and marks before a notification's first word
_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]*")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
Clock = Callable[[], datetime]


class Dashboard:
    """What every page needs: the clinic's store and tables, texts, settings and a clock."""

    def __init__(  # noqa: PLR0913  # the dashboard's settings, each named at the call
        self, content: Content, store: Store, tables: DashboardTables, signin: SignIn, *,
        language: str, timezone: str, clock: Clock, secure: bool, demo: bool = False,
        refresh_seconds: float = 15.0,
    ) -> None:
        """Serve the clinic kept in ``store`` and ``tables``."""
        self.content = content
        self.store = store
        self.tables = tables
        self.signin = signin
        self.queue = Queue(tables, load_rules(content.directory))
        self.texts = WebTexts(content.directory)
        self.language = language
        self.zone = ZoneInfo(timezone)
        self.clock = clock
        self.secure = secure
        self.demo = demo
        self.refresh_seconds = refresh_seconds  # how often the queue page reloads its rows

    async def audit(self, who: Signed | int, action: str, patient: int | None = None,
                    detail: str = "") -> None:
        """Record an action in the audit trail."""
        staff = who.staff_id if isinstance(who, Signed) else who
        await self.tables.audit(self.clock(), staff, action, patient, detail)


class Refusal(Exception):  # noqa: N818  # a page, not a failure
    """A request refused with a clear page: the status and the text that explains it."""

    def __init__(self, status: int, key: str) -> None:
        """Refuse with ``status``, explained by text ``key``."""
        super().__init__(key)
        self.status = status
        self.key = key


class Page(tornado.web.RequestHandler):
    """Security headers, the session, the CSRF check and clear refusal pages for every page."""

    signed: Signed | None = None
    public = False  # pages anyone may open (the sign-in link)

    def initialize(self, dashboard: Dashboard) -> None:
        """Serve ``dashboard``."""
        self.dash = dashboard

    def set_default_headers(self) -> None:
        """The same security headers on every answer, refusals included."""
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-store")

    def check_xsrf_cookie(self) -> None:
        """CSRF is checked against the session in ``prepare`` instead of tornado's cookie."""

    @property
    def cookie_name(self) -> str:
        """``__Host-`` with Secure over https, else a plain name (a browser refuses the prefix)."""
        return SECURE_COOKIE if self.dash.secure else COOKIE

    async def prepare(self) -> None:
        """Find who is signed in; refuse anyone who is not, and any POST without its token."""
        if self.public:
            return
        token = self.get_cookie(self.cookie_name)
        by_itself = self.get_query_argument("rows", "") != ""  # the queue's own refresh
        signed = (await self.dash.signin.check(token, self.dash.clock(), active=not by_itself)
                  if token else None)
        if signed is None:
            raise Refusal(401, "refusal.signed_out")
        self.signed = signed
        if self.request.method == "POST" and not same_token(
                self.get_body_argument("csrf", None), signed.csrf):
            raise Refusal(403, "refusal.stale_form")

    @property
    def me(self) -> Signed:
        """The signed-in person (``prepare`` refused everyone else)."""
        if self.signed is None:
            raise Refusal(401, "refusal.signed_out")
        return self.signed

    @property
    def language(self) -> str:
        """The person's chosen language, else the clinic's."""
        chosen = self.signed.language if self.signed is not None else None
        return chosen if chosen in LANGUAGES else self.dash.language

    def t(self, key: str, **values: object) -> str:
        """A dashboard text in the person's language."""
        return self.dash.texts.get(self.language, key, **values)

    def plain(self, text: Text) -> str:
        """A catalog text (the bot's own words) as plain text in the person's language."""
        return self.dash.content.catalog.plain(text, self.language)

    def alert(self, name: str) -> str:
        """An alert's words; its name when it has no text of its own or needs values."""
        try:
            return self.plain(Text(f"clinic.alert.{name}"))
        except KeyError:
            return name

    def told(self, text: Text) -> str:
        """A clinic notification's text without its leading icon (the page names the kind)."""
        return _ICON.sub("", self.plain(text), count=1)

    def when(self, moment: datetime | None) -> str:
        """A time in the clinic's zone."""
        return clock_time(moment, self.dash.zone) if moment is not None else ""

    def get_template_path(self) -> str:
        """Templates ship beside this module."""
        return str(HERE / "templates")

    def page(self, template: str, **values: Any) -> None:  # noqa: ANN401  # template values
        """Render a page with what every page shows."""
        self.render(template, t=self.t, plain=self.plain, when=self.when, me=self.signed,
                    dash=self.dash, lang=self.language, languages=LANGUAGES, Text=Text,
                    has_text=self.dash.content.catalog.has, waited=self.waited,
                    told=self.told, **values)

    def waited(self, minutes: int) -> str:
        """A wait as staff read it: minutes, then hours and minutes, then days and hours."""
        hours, days = minutes // 60, minutes // (24 * 60)
        if days:
            return self.t("queue.days", days=days, hours=hours % 24)
        if hours:
            return self.t("queue.hours", hours=hours, minutes=minutes % 60)
        return self.t("queue.minutes", minutes=minutes)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, Refusal):
            self._refuse(e.status, e.key)
            return
        if isinstance(e, tornado.web.HTTPError) and not self._finished:
            key = {404: "refusal.not_found", 405: "refusal.not_found"}.get(
                e.status_code, "refusal.bad_request")
            self._refuse(e.status_code, key)
            return
        if not isinstance(e, tornado.web.Finish):
            log.error("dashboard page %s failed: %s", self.request.path, type(e).__name__,
                      exc_info=e)
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs: Any) -> None:  # noqa: ANN401  # tornado's
        """Any other failure: a calm page, never a traceback."""
        del kwargs
        self._refuse(status_code, "refusal.error")

    def _refuse(self, status: int, key: str) -> None:
        if self._finished:
            return
        self.clear()
        self.set_status(status)
        self.page("refusal.html", message=self.t(key))


class QueuePage(Page):
    """The queue: what needs a person, most urgent first, with counts per filter."""

    async def get(self) -> None:
        """The page, or only its rows for the page's own refresh."""
        chosen = self.get_query_argument("filter", "open")
        chosen = chosen if chosen in FILTERS else "open"
        view = await self.dash.queue.view(chosen, self.me.staff_id)
        template = "queue_rows.html" if self.get_query_argument("rows", "") else "queue.html"
        self.page(template, view=view, chosen=chosen, filters=FILTERS,
                  now=self.dash.clock(), kind=self._kind)

    def _kind(self, item: QueueItem) -> str:
        key = f"queue.kind.{item.kind}"
        return self.t(key) if self.dash.texts.has(key) else self.t("queue.kind.other")


class QueueAction(Page):
    """Take an item, or mark it done with a note."""

    async def post(self, item_id: str, action: str) -> None:
        """Act, record it, and go back to the queue as it was filtered."""
        number, now = int(item_id), self.dash.clock()
        item = await self.dash.tables.item(number)
        if item is None:
            raise Refusal(404, "refusal.not_found")
        if action == "take":
            await self.dash.queue.take(number, self.me.staff_id, now)
        else:
            note = self.get_body_argument("note", "").strip()[:NOTE_MAX]
            await self.dash.queue.done(number, self.me.staff_id, now, note)
        await self.dash.audit(self.me, f"queue_{action}", item.chat_id, str(number))
        chosen = self.get_body_argument("filter", "open")
        self.redirect(f"/?filter={chosen if chosen in FILTERS else 'open'}#item-{number}",
                      status=303)


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
            after=_int(self.get_query_argument("after", "")), limit=PAGE + 1)
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
        at = _local(self.get_body_argument("date", ""), self.get_body_argument("time", ""),
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


class Exports(Page):
    """The exports page and its streamed downloads."""

    async def get(self, name: str | None = None) -> None:
        """The page, or one export streamed as it is read."""
        if name is None:
            self.page("exports.html")
            return
        if name not in {"screenings.csv", "screenings.fhir.json", "questionnaire.fhir.json"}:
            raise Refusal(404, "refusal.not_found")
        await self.dash.audit(self.me, "export", None, name)
        content, now = self.dash.content, self.dash.clock()
        fhir = export.Fhir(content, self.language)
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        if name == "questionnaire.fhir.json":
            self.set_header("Content-Type", "application/fhir+json")
            self.finish(export.to_json(fhir.questionnaire()))
            return
        buffer = io.StringIO(newline="")
        if name == "screenings.csv":
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            sinks: list[Callable[[export.Screening], None]] = [
                CsvSheet(buffer, export.asked_facts(content)).add]
            bundle = None
        else:
            self.set_header("Content-Type", "application/fhir+json")
            bundle = BundleFile(buffer, fhir, now)
            sinks = [bundle.add]

        async def send(count: int) -> None:
            del count
            self.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
            await self.flush()

        await stream_screenings(self.dash.store, content, sinks, progress=send)
        if bundle is not None:
            bundle.close()
        self.finish(buffer.getvalue())


class Audit(Page):
    """The audit trail, by person and day; as CSV too."""

    async def get(self, csv_file: str | None = None) -> None:
        """The page (or the CSV) of the lines the filters choose."""
        person = _int(self.get_query_argument("staff", ""))
        day = self.get_query_argument("day", "")
        since = _local(day, "00:00", self.dash.zone) if day else None
        until = since + timedelta(days=1) if since is not None else None
        before = _int(self.get_query_argument("before", ""))
        lines = await self.dash.tables.audit_lines(
            staff_id=person, since=since, until=until, before=before,
            limit=100_000 if csv_file else AUDIT_PAGE)
        if csv_file:
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", 'attachment; filename="audit.csv"')
            out = io.StringIO(newline="")
            writer = csv.writer(out)
            writer.writerow(["id", "at", "staff_id", "action", "patient", "detail"])
            for line in lines:
                writer.writerow([line.id, line.at.isoformat(), line.staff_id, line.action,
                                 "" if line.patient is None else line.patient, line.detail])
            self.finish(out.getvalue())
            return
        self.page("audit.html", lines=lines, person=person, day=day,
                  older=lines[-1].id if len(lines) == AUDIT_PAGE else None)


class SignInPage(Page):
    """A one-time link: GET shows who it signs in and consumes nothing; POST signs in."""

    public = True

    async def get(self, token: str) -> None:
        """Show "Sign in as NAME", or why the link cannot be used."""
        if not self.dash.signin.attempts.allow(self.request.remote_ip):
            raise Refusal(429, "refusal.too_many")
        staff = await self.dash.signin.peek(token, self.dash.clock())
        if staff is None:
            raise Refusal(403, "refusal.link")
        self.page("signin.html", token=token, name=staff.shown)

    async def post(self, token: str) -> None:
        """Use the link once: a fresh session, its cookie, then the queue."""
        if not self.dash.signin.attempts.allow(self.request.remote_ip):
            raise Refusal(429, "refusal.too_many")
        now = self.dash.clock()
        started = await self.dash.signin.sign_in(token, now, None)
        if started is None:
            raise Refusal(403, "refusal.link")
        session, signed = started
        self.set_cookie(self.cookie_name, session, path="/", httponly=True,
                        samesite="Strict", secure=self.dash.secure)
        await self.dash.audit(signed, "sign_in")
        self.redirect("/", status=303)


class SignOut(Page):
    """End the session."""

    async def post(self) -> None:
        """Sign out and show the refusal page that says so."""
        await self.dash.signin.sign_out(self.me, self.dash.clock())
        await self.dash.audit(self.me, "sign_out")
        self.clear_cookie(self.cookie_name, path="/", secure=self.dash.secure)
        self.signed = None
        self.page("refusal.html", message=self.t("refusal.signed_out"))


class Language(Page):
    """Switch the person's language."""

    async def post(self) -> None:
        """Keep the choice with the session, and go back where the person was."""
        chosen = self.get_body_argument("language", "")
        if chosen in LANGUAGES:
            await self.dash.tables.set_language(self.me.session, chosen)
        back = self.get_body_argument("back", "/")
        # Only a path on this site: "//host" and "/\\host" would leave it.
        self.redirect(back if _LOCAL_PATH.fullmatch(back) else "/", status=303)


class Missing(Page):
    """Any other address."""

    public = True

    async def prepare(self) -> None:
        """Every unknown address is the same clear page."""
        raise Refusal(404, "refusal.not_found")


def _int(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


def _local(day: str, clock: str, zone: ZoneInfo) -> datetime | None:
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=zone)
    except ValueError:
        return None
    # A wall-clock time skipped by a DST change does not exist: refused, not guessed.
    if datetime.fromtimestamp(moment.timestamp(), zone).replace(tzinfo=None) != moment.replace(
            tzinfo=None):
        return None
    return moment


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


RequestLog = Callable[[tornado.web.RequestHandler], None]


def application(dashboard: Dashboard,
                log_function: RequestLog | None = None) -> tornado.web.Application:
    """The dashboard's routes; ``log_function`` hears of each request served (the bench)."""
    number = r"(-?\d{1,20})"
    args = {"dashboard": dashboard}
    settings: dict[str, Any] = {} if log_function is None else {"log_function": log_function}
    return tornado.web.Application(
        [
            (r"/", QueuePage, args),
            (r"/queue/(\d{1,20})/(take|done)", QueueAction, args),
            (r"/patients", Patients, args),
            (rf"/patients/{number}", PatientPage, args),
            (rf"/patients/{number}/appointment", Book, args),
            (rf"/patients/{number}/appointment/cancel", Cancel, args),
            (rf"/patients/{number}/checkins", Checkins, args),
            (rf"/patients/{number}/erase", Erase, args),
            (rf"/patients/{number}/data\.json", PatientData, args),
            (r"/exports", Exports, args),
            (r"/exports/([a-z.]+)", Exports, args),
            (r"/audit", Audit, args),
            (r"/audit(\.csv)", Audit, args),
            (r"/signin/([A-Za-z0-9_-]{20,100})", SignInPage, args),
            (r"/signout", SignOut, args),
            (r"/language", Language, args),
            (r"/static/(dashboard\.(?:css|js))", tornado.web.StaticFileHandler,
             {"path": str(HERE / "static")}),
        ],
        default_handler_class=Missing, default_handler_args=args,
        xsrf_cookies=False,  # every POST carries the session's own token instead
        autoescape="xhtml_escape", compiled_template_cache=True,
        **settings,
    )

