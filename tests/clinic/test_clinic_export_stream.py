"""/export at clinic size: one cursor, progress, files that fit Telegram; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from clinic_support import CLINIC, CLINIC_ZONE, STAFF, Clock, Screen
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from support.storage_backends import postgres_backend

from bot.clinic import export
from bot.clinic.export_bench import FIRST_CHAT, fill, measure_export
from bot.clinic.export_stream import PROGRESS_EVERY, stream_screenings
from bot.clinic.replies import Document, Output, StaffRequest, discard
from bot.clinic.staff import StaffDesk
from bot.content import Content
from bot.storage import Store, open_store
from bot.storage.base import PatientRecord, RecordQuery

CLINIC_SIZE = 2 * PROGRESS_EVERY + 150


async def everyone(url: str) -> list[PatientRecord]:
    store = open_store(url)
    await store.open()
    try:
        async with aclosing(store.records(RecordQuery())) as records:
            return [record async for record in records]
    finally:
        await store.close()


class CountingStore:
    """A store that counts the reads an export makes, and can fail after some patients."""

    def __init__(self, store: Store, fail_after: int | None = None) -> None:
        self.store = store
        self.fail_after = fail_after
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.store, name)

    async def records(self, query: RecordQuery) -> AsyncIterator[PatientRecord]:
        self.calls.append("records")
        async with aclosing(self.store.records(query)) as records:
            async for count, record in _numbered(records):
                if self.fail_after is not None and count > self.fail_after:
                    message = "disk gone"
                    raise OSError(message)
                yield record


async def _numbered(records: AsyncIterator[PatientRecord]) -> AsyncIterator[tuple[int, Any]]:
    count = 0
    async for record in records:
        count += 1
        yield count, record


def desk_on(content: Content, store: Any, clock: Clock) -> StaffDesk:
    return StaffDesk(content, store, staff_ids={STAFF}, clinic_chat_id=CLINIC, language="en",
                     timezone=CLINIC_ZONE, clock=clock)


async def run_export(desk: StaffDesk) -> tuple[list[tuple[int, bool]], dict[str, bytes]]:
    heard: list[tuple[int, bool]] = []

    async def progress(count: int, done: bool) -> None:  # noqa: FBT001
        heard.append((count, done))

    outputs: list[Output] = await desk.handle(StaffRequest(STAFF, STAFF, "export"), progress)
    try:
        files = {o.filename: o.data if isinstance(o.data, bytes) else o.data.read_bytes()
                 for o in outputs if isinstance(o, Document)}
    finally:
        discard(outputs)
    return heard, files


def check_clinic(files: dict[str, bytes], patients: int) -> None:
    """Every filled patient is in both files once, in chat order, and the Bundle is valid."""
    table = next(data for name, data in files.items() if name.endswith(".csv"))
    rows = list(csv.DictReader(io.StringIO(table.decode())))
    assert [int(r["patient"]) for r in rows] == [FIRST_CHAT + i for i in range(1, patients + 1)]
    assert {(r["status"], r["step"], r["pain_score"]) for r in rows} == {
        ("completed", "minimally_invasive", "7")}
    raw = next(data for name, data in files.items() if name.endswith(".fhir.json"))
    bundle = Bundle.model_validate_json(raw)
    entries = bundle.entry or []
    assert len(entries) == patients
    assert all(isinstance(e.resource, QuestionnaireResponse) for e in entries)


async def test_a_clinic_is_read_through_one_cursor_with_progress(
    content: Content, database: str, store: Store, clock: Clock,
) -> None:
    await fill(database, CLINIC_SIZE, content)
    counting = CountingStore(store)
    heard, files = await run_export(desk_on(content, counting, clock))
    assert counting.calls == ["records"]  # no query per patient, nor any other
    assert heard == [(PROGRESS_EVERY, False), (2 * PROGRESS_EVERY, False), (CLINIC_SIZE, True)]
    check_clinic(files, CLINIC_SIZE)


async def test_a_small_export_reports_no_progress(
    content: Content, store: Store, clock: Clock, screen: Screen,
) -> None:
    await screen(1001)
    heard, files = await run_export(desk_on(content, store, clock))
    assert heard == []
    assert len(files) == 3


async def test_the_same_export_from_postgresql(content: Content, clock: Clock) -> None:
    async with postgres_backend() as backend:
        await fill(backend.url, CLINIC_SIZE, content)
        store = await backend.open()
        heard, files = await run_export(desk_on(content, store, clock))
    assert heard[-1] == (CLINIC_SIZE, True)
    check_clinic(files, CLINIC_SIZE)


async def test_a_file_too_large_for_telegram_is_sent_gzipped(
    content: Content, database: str, store: Store, clock: Clock,
) -> None:
    await fill(database, 30, content)
    desk = desk_on(content, store, clock)
    desk.max_document_bytes = 20_000  # the CSV (6 kB) fits; the Bundle (75 kB) does not
    _heard, files = await run_export(desk)
    assert sorted(files) == ["questionnaire.fhir.json", "screenings-20250303-0900.csv",
                             "screenings-20250303-0900.fhir.json.gz"]
    unpacked = {name.removesuffix(".gz"): gzip.decompress(data) if name.endswith(".gz") else data
                for name, data in files.items()}
    check_clinic(unpacked, 30)


async def test_a_failed_export_leaves_no_files_behind(
    content: Content, database: str, store: Store, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    clock = Clock()
    await fill(database, 50, content)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    outputs = await desk_on(content, CountingStore(store, fail_after=20), clock).handle(
        StaffRequest(STAFF, STAFF, "export"))
    assert [o.parts[0].key for o in outputs if not isinstance(o, Document)] == ["staff.error"]  # type: ignore[union-attr]
    assert list(scratch.iterdir()) == []


async def test_the_streamed_response_is_the_response(
    content: Content, store: Store, screen: Screen,
) -> None:
    await screen(1001)
    await screen(1002, hint="zh-hans")
    fhir = export.Fhir(content, "zh")
    screenings: list[export.Screening] = []
    assert await stream_screenings(store, content, [screenings.append]) == 2
    for screening in screenings:
        assert json.loads(fhir.response_json(screening)) == fhir.response(screening)
    assert all(screening.disposition == "routine" for screening in screenings)


def test_measure_export_fills_and_measures_at_a_small_size(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    seconds, peak_mb = measure_export(url, 20)
    assert seconds > 0
    assert peak_mb > 10  # a whole Python process: the figure is RSS, not Python objects only
    filled = asyncio.run(everyone(url))
    assert len(filled) == 20
    kinds = [e.kind for e in filled[0].events]  # a whole screening's history, as recorded
    assert kinds.count("answer") > 10
    assert "recommendation" in kinds
