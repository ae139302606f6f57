"""The clinic's records in the browser: streamed exports and the audit trail."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta

from bot.channels.web.forms import local_moment, whole_number
from bot.channels.web.page import Page, Refusal
from bot.clinic import export
from bot.clinic.export_stream import BundleFile, CsvSheet, stream_screenings

AUDIT_PAGE = 200


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
        person = whole_number(self.get_query_argument("staff", ""))
        day = self.get_query_argument("day", "")
        since = local_moment(day, "00:00", self.dash.zone) if day else None
        until = since + timedelta(days=1) if since is not None else None
        before = whole_number(self.get_query_argument("before", ""))
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
