"""/export: screenings as CSV, and as FHIR R4 resources that a FHIR library parses and validates."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from clinic_support import NOW, Ask, Screen
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from bot.clinic import export
from bot.clinic.replies import Document, Output, discard
from bot.content import DIALOGUES_DIR, Content
from bot.conversation import Action, Conversations
from bot.dialogue.turn import Text
from bot.dialogue.yamlio import load_yaml
from bot.storage import Patient, Store

COMPLETED, EMERGENCY, HALFWAY, FOLLOWING_UP = 1001, 1002, 1003, 1004


def yaml_questions() -> list[str]:
    """The facts screening.yaml asks, in its order, read from the file itself."""
    states = load_yaml(DIALOGUES_DIR / "screening.yaml")["states"]
    return list(dict.fromkeys(s["ask"] for s in states.values() if "ask" in s))


def yaml_facts() -> dict[str, Any]:
    return dict(load_yaml(DIALOGUES_DIR / "facts.yaml")["facts"])


@pytest.fixture
async def documents(
    ask: Ask, screen: Screen, conversations: Conversations, store: Store
) -> dict[str, bytes]:
    await screen(COMPLETED, pain=6)
    await screen(EMERGENCY, hint="zh-hans")  # the later answers are ignored after the result
    await conversations.handle(Action(EMERGENCY, command="restart"))
    await conversations.handle(Action(EMERGENCY, text="yes"))  # saddle numbness: emergency
    await conversations.handle(Action(HALFWAY, command="start"))
    for answer in ("no", "no", "no"):
        await conversations.handle(Action(HALFWAY, text=answer))
    async with store.transaction(FOLLOWING_UP, NOW) as tx:  # in a check-in right now
        await tx.save(Patient(FOLLOWING_UP, "en", {
            "dialogue": "followup", "state": "pain_today", "facts": {"pain_today": 3},
            "care": {"facts": {"leg_pain": "yes", "pain_score": 8, "age": 50,
                               "not_a_fact": 1, "imaging": "purple"}},
        }))
    return contents(await ask("export"))


def contents(outputs: list[Output]) -> dict[str, bytes]:
    """Each document's bytes by file name; the temporary files are deleted, as once sent."""
    assert all(isinstance(o, Document) for o in outputs)
    files = {o.filename: o.data if isinstance(o.data, bytes) else o.data.read_bytes()
             for o in outputs if isinstance(o, Document)}
    discard(outputs)
    return files


def rows_of(documents: dict[str, bytes]) -> list[dict[str, str]]:
    name = next(n for n in documents if n.endswith(".csv"))
    return list(csv.DictReader(io.StringIO(documents[name].decode())))


def test_three_files_are_sent(documents: dict[str, bytes]) -> None:
    assert sorted(documents) == ["questionnaire.fhir.json", "screenings-20250303-0900.csv",
                                 "screenings-20250303-0900.fhir.json"]


def test_csv_columns_are_the_patient_the_outcome_and_every_question(
    documents: dict[str, bytes],
) -> None:
    name = next(n for n in documents if n.endswith(".csv"))
    header = next(csv.reader(io.StringIO(documents[name].decode())))
    assert header == ["patient", "language", "status", "started", "updated", "disposition",
                      "step", *yaml_questions()]


def test_csv_rows_hold_each_patients_screening(documents: dict[str, bytes]) -> None:
    rows = {row["patient"]: row for row in rows_of(documents)}
    assert sorted(rows) == [str(COMPLETED), str(EMERGENCY), str(HALFWAY), str(FOLLOWING_UP)]
    done = rows[str(COMPLETED)]
    assert (done["status"], done["disposition"], done["step"]) == (
        "completed", "routine", "conservative")
    assert (done["age"], done["leg_pain"], done["pain_score"], done["saddle_numbness"]) == (
        "60", "no", "6", "no")
    assert done["imaging"] == ""
    assert done["started"] == "2025-03-03T09:00:00+00:00"
    urgent = rows[str(EMERGENCY)]
    assert (urgent["language"], urgent["status"], urgent["disposition"], urgent["step"]) == (
        "zh", "completed", "emergency", "")
    assert urgent["saddle_numbness"] == "yes"
    assert urgent["pain_score"] == ""  # the restart cleared the earlier screening
    halfway = rows[str(HALFWAY)]
    assert (halfway["status"], halfway["disposition"]) == ("in-progress", "")
    assert [halfway[f] for f in ("saddle_numbness", "bladder_bowel", "bilateral_leg")] == [
        "no", "no", "no"]
    following = rows[str(FOLLOWING_UP)]
    assert (following["status"], following["pain_score"], following["imaging"]) == (
        "completed", "8", "")  # an undeclared value is not exported


def test_the_questionnaire_parses_and_matches_the_yaml(
    documents: dict[str, bytes], content: Content
) -> None:
    questionnaire = Questionnaire.model_validate_json(documents["questionnaire.fhir.json"])
    assert questionnaire.status == "active"
    assert questionnaire.url == export.QUESTIONNAIRE_URL
    items = questionnaire.item or []
    assert [item.linkId for item in items] == yaml_questions()
    facts = yaml_facts()
    catalog = content.catalog
    for item in items:
        declared = facts[item.linkId]
        if "values" in declared:
            assert item.type == "choice"
            codes = [o.valueCoding.code for o in item.answerOption or [] if o.valueCoding]
            assert codes == [str(v).lower() for v in declared["values"]]
        else:
            assert item.type == "integer"
            bounds = [e.valueInteger for e in item.extension or []]
            assert bounds == [declared["min"], declared["max"]]
        assert item.text == catalog.plain(Text(f"q.{item.linkId}"), "en")
    raw = json.loads(documents["questionnaire.fhir.json"])
    translation = raw["item"][0]["_text"]["extension"][0]
    assert translation["url"] == export.TRANSLATION
    assert translation["extension"][1]["valueString"] == catalog.plain(
        Text("q.saddle_numbness"), "zh")


def test_the_bundle_parses_into_one_valid_response_per_screening(
    documents: dict[str, bytes],
) -> None:
    bundle = Bundle.model_validate_json(documents["screenings-20250303-0900.fhir.json"])
    assert bundle.type == "collection"
    responses = [entry.resource for entry in bundle.entry or []]
    assert all(isinstance(r, QuestionnaireResponse) for r in responses)
    by_patient = {r.subject.identifier.value: r for r in responses}  # type: ignore[union-attr]
    assert sorted(by_patient) == sorted(map(str, (COMPLETED, EMERGENCY, HALFWAY, FOLLOWING_UP)))
    done = by_patient[str(COMPLETED)]
    assert done.status == "completed"
    assert done.questionnaire == f"{export.QUESTIONNAIRE_URL}|1"
    answers = {item.linkId: item.answer[0] for item in done.item or []}  # type: ignore[index]
    assert answers["pain_score"].valueInteger == 6
    assert answers["age"].valueInteger == 60
    assert answers["leg_pain"].valueCoding.code == "no"  # type: ignore[union-attr]
    assert answers["leg_pain"].valueCoding.display == "No"  # type: ignore[union-attr]
    assert set(answers) <= set(yaml_questions())
    assert by_patient[str(HALFWAY)].status == "in-progress"
    # Each one stands on its own as a resource, too.
    for resource in json.loads(documents["screenings-20250303-0900.fhir.json"])["entry"]:
        QuestionnaireResponse.model_validate(resource["resource"])


async def test_the_screenings_are_owner_only_files_that_discard_deletes(
    ask: Ask, screen: Screen
) -> None:
    await screen(COMPLETED)
    outputs = await ask("export")
    files = [o.data for o in outputs if isinstance(o, Document) and isinstance(o.data, Path)]
    assert len(files) == 2  # the CSV and the Bundle; the small questionnaire stays in memory
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    discard(outputs)
    assert not any(path.exists() for path in files)


async def test_an_empty_clinic_exports_valid_empty_files(ask: Ask) -> None:
    outputs = contents(await ask("export"))
    table = outputs["screenings-20250303-0900.csv"].decode().splitlines()
    assert len(table) == 1
    bundle = Bundle.model_validate_json(outputs["screenings-20250303-0900.fhir.json"])
    assert not bundle.entry
