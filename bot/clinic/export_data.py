"""``ldh-bot export-data CHAT_ID``: everything kept about one patient, for a data request.

JSON carries all of it: the record, the session, the screening as exported, every event and
the reminders still to be sent. CSV and FHIR are the patient's screening exactly as ``/export``
writes it (the same streaming code, reading only this patient).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.clinic.export import Fhir, asked_facts, screening_of
from bot.clinic.export_stream import EVERY_SCREENING, BundleFile, CsvSheet, stream_screenings
from bot.config import default_database_url
from bot.content import load_content
from bot.storage import StorageError, open_store
from bot.storage.base import PatientRecord, RecordQuery

if TYPE_CHECKING:
    from bot.content import Content
    from bot.storage.base import OutboxItem, Store

FORMATS = ("json", "csv", "fhir")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Request:
    """What the clinic asked for: whose data, in which format, where, worded in which language."""

    chat_id: int
    format: str = "json"
    output: Path | None = None
    database_url: str | None = None
    language: str = "en"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def patient_document(content: Content, record: PatientRecord,
                     reminders: list[OutboxItem]) -> dict[str, Any]:
    """One patient's data as one JSON object: record, session, screening, events, reminders."""
    patient = record.patient
    screening = screening_of(content, record)
    return {
        "patient": patient.chat_id,
        "language": patient.language,
        "active": patient.active,
        "created_at": _iso(patient.created_at),
        "updated_at": _iso(patient.updated_at),
        "screening": {
            "status": "completed" if screening.completed else "in-progress",
            "disposition": screening.disposition,
            "step": screening.step,
            "answers": screening.facts,
        },
        "session": patient.session,
        "events": [{"id": e.id, "kind": e.kind, "at": e.at.isoformat(), "data": e.data}
                   for e in record.events],
        "reminders": [{"id": r.id, "kind": r.kind, "due_at": r.due_at.isoformat(),
                       "attempts": r.attempts, "payload": r.payload} for r in reminders],
    }


async def _record(store: Store, chat_id: int) -> PatientRecord | None:
    async with aclosing(store.records(RecordQuery(chat_id=chat_id))) as records:
        async for record in records:
            return record
    return None


async def write_patient(store: Store, content: Content, request: Request, out: TextIO,
                        now: datetime) -> bool:
    """Write the patient's data to ``out``; False (writing nothing) when there is no such one."""
    record = await _record(store, request.chat_id)
    if record is None:
        return False
    if request.format == "json":
        document = patient_document(content, record, await store.pending(request.chat_id))
        json.dump(document, out, ensure_ascii=False, indent=1)
        out.write("\n")
        return True
    query = replace(EVERY_SCREENING, chat_id=request.chat_id)
    if request.format == "csv":
        sheet = CsvSheet(out, asked_facts(content))
        await stream_screenings(store, content, [sheet.add], query=query)
    else:
        bundle = BundleFile(out, Fhir(content, request.language), now)
        await stream_screenings(store, content, [bundle.add], query=query)
        bundle.close()
    return True


@contextmanager
def _private(path: Path) -> Iterator[TextIO]:
    """A file only this user can read, as ``path``: it holds one patient's data.

    Written beside the target and renamed over it when complete, so an existing file (whatever
    its mode) is replaced by an owner-only one, and a failed export leaves no half file.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:  # mkstemp's mode is 0600
            yield out
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


async def _export(request: Request) -> str | None:
    """Run the request; None when done, else the one-line reason it failed."""
    url = request.database_url or default_database_url()
    if request.output is not None and not request.output.parent.is_dir():
        return f"cannot write {request.output}: there is no folder {request.output.parent}"
    if request.output is not None and request.output.is_dir():
        return f"cannot write {request.output}: it is a folder"
    content = load_content()
    store = open_store(url, create=False)  # a data request never creates or migrates one
    await store.open()
    try:
        record = await _record(store, request.chat_id)
        if record is None:
            return f"there is no patient {request.chat_id}"
        now = datetime.now(UTC)
        if request.output is None:
            await write_patient(store, content, request, sys.stdout, now)
            sys.stdout.flush()
        else:
            with _private(request.output) as out:
                await write_patient(store, content, request, out, now)
    finally:
        await store.close()
    return None


def run(request: Request) -> int:
    """Export one patient's data; every failure is one clear line on standard error."""
    try:
        problem = asyncio.run(_export(request))
    except BrokenPipeError:
        raise  # the reader went away (``| head``): the command line ends quietly
    except (StorageError, ValueError, OSError) as error:
        problem = _first_line(error)
    except Exception as error:  # noqa: BLE001  # an operator gets one line, never a traceback
        problem = f"{type(error).__name__}: {_first_line(error)}"
    if problem is None:
        return EXIT_OK
    sys.stderr.write(f"ldh-bot export-data: {problem}\n")
    return EXIT_FAILED


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def chat_id_argument(text: str) -> int | None:
    """A chat id as typed on the command line, or None when it is not a whole number."""
    try:
        return int(text.strip())
    except ValueError:
        return None
