"""``ldh-bot export-data CHAT_ID``: one patient's data for a data request, or one clear line."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import stat
from pathlib import Path

import pytest
from clinic_support import NOW, Ask, Screen
from fhir.resources.R4B.bundle import Bundle
from support.storage_backends import postgres_backend

from bot.cli import main
from bot.storage import Patient, Store

PATIENT = 1001


async def cli(*args: str) -> int:
    """Run the command as an operator would (its own event loop, so on a thread)."""
    return await asyncio.to_thread(main, ["export-data", *args])


@pytest.fixture
async def booked(screen: Screen, ask: Ask) -> int:
    """A screened patient with an appointment, so reminders are waiting to be sent."""
    await screen(PATIENT)
    await screen(PATIENT + 1)
    await ask("appointment", f"{PATIENT} 2025-03-05 14:00 Spine clinic")
    return PATIENT


async def test_json_holds_the_record_session_answers_events_and_reminders(
    booked: int, database: str, store: Store, capsys: pytest.CaptureFixture[str],
) -> None:
    assert await cli(str(booked), "--database", database) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["patient"], data["language"], data["active"]) == (PATIENT, "en", True)
    assert data["screening"]["status"] == "completed"
    assert data["screening"]["answers"]["pain_score"] == 6
    assert data["session"]["dialogue"] == "screening"
    kinds = [event["kind"] for event in data["events"]]
    assert kinds == [event.kind for event in await store.events(PATIENT)]
    assert {"answer", "recommendation", "appointment"} <= set(kinds)
    answer = next(event for event in data["events"] if event["kind"] == "answer")
    assert set(answer["data"]) == set((await store.events(PATIENT))[0].data)  # as stored
    assert [r["kind"] for r in data["reminders"]] == [
        "appointment_booked", "appointment_reminder", "appointment_reminder"]
    assert all(str(PATIENT + 1) not in json.dumps(event) for event in data["events"])


async def test_csv_and_fhir_are_the_patients_screening_as_export_writes_it(
    booked: int, database: str, capsys: pytest.CaptureFixture[str],
) -> None:
    assert await cli(str(booked), "--database", database, "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["patient"], r["pain_score"], r["step"]) for r in rows] == [
        (str(PATIENT), "6", "conservative")]
    assert await cli(str(booked), "--database", database, "--format", "fhir",
                     "--lang", "zh") == 0
    bundle = Bundle.model_validate_json(capsys.readouterr().out)
    [entry] = bundle.entry or []
    assert entry.resource.subject.identifier.value == str(PATIENT)  # type: ignore[union-attr]


async def test_a_file_is_written_for_its_owner_only(
    booked: int, database: str, tmp_path: Path,
) -> None:
    target = tmp_path / "patient.json"
    assert await cli(str(booked), "--database", database, "--output", str(target)) == 0
    assert json.loads(target.read_text(encoding="utf-8"))["patient"] == PATIENT
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


async def test_the_same_from_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    async with postgres_backend() as backend:
        store = await backend.open()
        async with store.transaction(PATIENT, NOW) as tx:
            await tx.record_event("answer", {"fact": "age", "value": 45, "typed": "45 岁"})
            await tx.save(Patient(PATIENT, "zh", {"dialogue": "screening", "state": "leg_pain",
                                                  "facts": {"age": 45}}))
        assert await cli(str(PATIENT), "--database", backend.url) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["screening"] == {"status": "in-progress", "disposition": "", "step": "",
                                 "answers": {"age": 45}}
    assert data["events"][0]["data"] == {"fact": "age", "value": 45, "typed": "45 岁"}
    assert data["reminders"] == []


@pytest.mark.parametrize("case", [
    (["404"], 1, "ldh-bot export-data: there is no patient 404\n"),
    (["abc"], 2, "ldh-bot export-data: CHAT_ID must be a whole number, not 'abc'\n"),
    (["1", "--database", "foo://x"], 2,
     "ldh-bot export-data: --database must be sqlite:///path.db or postgresql://"),
])
async def test_bad_requests_get_one_clear_line_and_no_file(
    booked: int, database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    case: tuple[list[str], int, str],
) -> None:
    del booked
    args, code, says = case
    target = tmp_path / "out.json"
    full = [*args, "--output", str(target)]
    if "--database" not in args:
        full += ["--database", database]
    assert await cli(*full) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(says)
    assert captured.err.count("\n") == 1
    assert not target.exists()
