"""Every screening as CSV and as HL7 FHIR R4 (a Questionnaire from the YAML, and responses).

A screening is a patient's current one: the screening dialogue's facts as the record holds them
(during a check-in, the course's facts the follow-up compares against), the outcome of the last
recommendation, and whether it reached its result. Restarted screenings are not kept by the
store, so they cannot be exported.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.content import Content
from bot.dialogue.conditions import FactDomain
from bot.dialogue.loader import option_text_key, question_text_key
from bot.dialogue.texts import LANGUAGES
from bot.dialogue.turn import Text
from bot.storage.base import Patient, PatientRecord

QUESTIONNAIRE_URL = "urn:ldh-bot:questionnaire:screening"
FACT_SYSTEM = "urn:ldh-bot:fact:"  # a code system per fact: its values are the codes
PATIENT_SYSTEM = "urn:ldh-bot:telegram-chat"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
SCREENING = "screening"
SCREENING_EVENTS = frozenset({"recommendation"})  # all that a screening reads of the history
CSV_HEAD = ("patient", "language", "status", "started", "updated", "disposition", "step")


@dataclass(frozen=True)
class Screening:
    """One patient's screening as exported."""

    patient: Patient
    facts: dict[str, Any]
    completed: bool
    disposition: str
    step: str
    authored: datetime | None


def asked_facts(content: Content) -> list[str]:
    """The facts the screening asks, in the order of its YAML."""
    states = content.engines[SCREENING].dialogue.states.values()
    return list(dict.fromkeys(state.spec.ask for state in states if state.spec.ask))


def screening_of(content: Content, record: PatientRecord,
                 wanted: frozenset[str] | None = None) -> Screening:
    """A patient's screening from their record (read with ``SCREENING_EVENTS``).

    ``wanted`` is ``asked_facts(content)``, passed in when many screenings are read at once.
    """
    patient = record.patient
    session = patient.session
    dialogue = content.engines[SCREENING].dialogue
    in_screening = session.get("dialogue") == SCREENING
    care = session.get("care")
    stored = session.get("facts") if in_screening else (
        care.get("facts") if isinstance(care, dict) else None)
    wanted = frozenset(asked_facts(content)) if wanted is None else wanted
    facts = {fact: value for fact, value in (stored or {}).items()
             if fact in wanted and content.domains[fact].admits(value)}
    state = dialogue.states.get(str(session.get("state")))
    completed = not in_screening or (state is not None and state.spec.final)
    outcome: dict[str, Any] = {}
    authored = patient.updated_at
    for event in record.events:
        if event.kind == "recommendation":
            outcome, authored = dict(event.data.get("recommendation", {})), event.at
    return Screening(patient, facts, completed, str(outcome.get("disposition") or ""),
                     str(outcome.get("step") or ""), authored)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def csv_header(facts: Sequence[str]) -> list[str]:
    """The CSV's columns: who, status, outcome, then one column per asked fact."""
    return [*CSV_HEAD, *facts]


def csv_row(row: Screening, facts: Sequence[str]) -> list[object]:
    """One screening as a CSV row under ``csv_header(facts)``."""
    patient = row.patient
    return [patient.chat_id, patient.language, "completed" if row.completed else "in-progress",
            _iso(patient.created_at), _iso(patient.updated_at), row.disposition, row.step,
            *(row.facts.get(fact, "") for fact in facts)]


class Fhir:
    """FHIR R4 resources of the screening, worded from the text catalog."""

    def __init__(self, content: Content, language: str) -> None:
        """Word resources in ``language``, with the other languages as translations."""
        self.content = content
        self.language = language
        self.dialogue = content.engines[SCREENING].dialogue
        self.facts = asked_facts(content)
        # An answer's item is the same in every response: built once, not per patient.
        self._answers: dict[tuple[str, object], tuple[dict[str, Any], str]] = {}

    def _text(self, key: str) -> tuple[str, dict[str, Any]]:
        """A text and its ``_element`` translation extension."""
        catalog = self.content.catalog
        translations = [
            {"url": TRANSLATION, "extension": [
                {"url": "lang", "valueCode": other},
                {"url": "content", "valueString": catalog.plain(Text(key), other)}]}
            for other in LANGUAGES if other != self.language
        ]
        return catalog.plain(Text(key), self.language), {"extension": translations}

    def _coding(self, fact: str, value: str, domain: FactDomain) -> dict[str, Any]:
        key = option_text_key(fact, value, domain)
        coding: dict[str, Any] = {"system": f"{FACT_SYSTEM}{fact}", "code": value}
        if key is not None:
            coding["display"], coding["_display"] = self._text(key)
        return coding

    def _item(self, fact: str) -> dict[str, Any]:
        state = next(s for s in self.dialogue.states.values() if s.spec.ask == fact)
        text, translations = self._text(question_text_key(state))
        item: dict[str, Any] = {"linkId": fact, "text": text, "_text": translations}
        domain = self.content.domains[fact]
        if domain.is_integer:
            item["type"] = "integer"
            item["extension"] = [{"url": MIN_VALUE, "valueInteger": domain.minimum},
                                 {"url": MAX_VALUE, "valueInteger": domain.maximum}]
        else:
            item["type"] = "choice"
            item["answerOption"] = [{"valueCoding": self._coding(fact, value, domain)}
                                    for value in domain.values]
        return item

    def questionnaire(self) -> dict[str, Any]:
        """The screening's questions (linkId = fact) with their answer options from facts.yaml."""
        title, translations = self._text("staff.export.title")
        return {
            "resourceType": "Questionnaire",
            "id": "ldh-screening",
            "url": QUESTIONNAIRE_URL,
            "version": str(self.dialogue.version),
            "name": "LdhScreening",
            "title": title,
            "_title": translations,
            "status": "active",
            "subjectType": ["Patient"],
            "language": self.language,
            "item": [self._item(fact) for fact in asked_facts(self.content)],
        }

    def _item_of(self, fact: str, value: object) -> tuple[dict[str, Any], str]:
        """One answer's item, and its JSON, built once for every response that gives it.

        A choice is displayed in the clinic's language only: its translations live once in
        the Questionnaire's answer options, where in every response they would make up most
        of an export's size.
        """
        key = (fact, value)
        if key not in self._answers:
            if self.content.domains[fact].is_integer:
                answer: dict[str, Any] = {"valueInteger": value}
            else:
                coding = self._coding(fact, str(value), self.content.domains[fact])
                coding.pop("_display", None)
                answer = {"valueCoding": coding}
            item = {"linkId": fact, "answer": [answer]}
            self._answers[key] = (item, compact_json(item))
        return self._answers[key]

    def _parts(self, screening: Screening) -> tuple[dict[str, Any], list[str]]:
        """A response without its items, and the facts (with values) its items answer."""
        resource: dict[str, Any] = {
            "resourceType": "QuestionnaireResponse",
            "id": f"screening-{screening.patient.chat_id}",
            "questionnaire": f"{QUESTIONNAIRE_URL}|{self.dialogue.version}",
            "status": "completed" if screening.completed else "in-progress",
            "subject": {"identifier": {"system": PATIENT_SYSTEM,
                                       "value": str(screening.patient.chat_id)}},
            "language": screening.patient.language,
        }
        if screening.authored is not None:
            resource["authored"] = screening.authored.isoformat()
        return resource, [fact for fact in self.facts if fact in screening.facts]

    def response(self, screening: Screening) -> dict[str, Any]:
        """One screening's answers as a QuestionnaireResponse."""
        resource, facts = self._parts(screening)
        if facts:
            resource["item"] = [self._item_of(fact, screening.facts[fact])[0] for fact in facts]
        return resource

    def response_json(self, screening: Screening) -> str:
        """``response`` as compact JSON, its items joined from the JSON built once for each."""
        resource, facts = self._parts(screening)
        head = compact_json(resource)
        if not facts:
            return head
        items = ",".join(self._item_of(fact, screening.facts[fact])[1] for fact in facts)
        return f'{head[:-1]},"item":[{items}]}}'

    def bundle_head(self, now: datetime) -> dict[str, Any]:
        """A collection Bundle without its entries, which are written one by one."""
        return {"resourceType": "Bundle", "type": "collection", "timestamp": now.isoformat()}


def compact_json(resource: dict[str, Any]) -> str:
    """A resource as JSON on one line, as an export's entries are written."""
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))


def to_json(resource: dict[str, Any]) -> bytes:
    """A resource as a UTF-8 JSON file."""
    return json.dumps(resource, ensure_ascii=False, indent=1).encode()
