"""A recommendation as readable messages (clinical spec §4), built from text keys only."""

from __future__ import annotations

from collections.abc import Mapping

from bot.clinical.ladder import Recommendation
from bot.dialogue.conditions import FactValue
from bot.dialogue.turn import Message, Text

_METHOD_SECTIONS = ("what", "suits", "pros", "cons")
_NEXT_KEYS = {"minimally_invasive": "rec.next.minimally_invasive", "surgical": "rec.next.surgical"}
_REGRESSING = frozenset({"extrusion", "sequestration"})


def explain(recommendation: Recommendation, facts: Mapping[str, FactValue]) -> list[Message]:
    """The messages a patient is sent for a recommendation, ending with the safety notes."""
    if recommendation.disposition in {"emergency", "urgent"}:
        body = [Message((Text(f"rec.{recommendation.disposition}", _flags(recommendation, facts)),
                         *alert_texts(recommendation.alerts)))]
    elif recommendation.disposition == "out_of_scope":
        body = [Message((Text("rec.out_of_scope"),))]
    else:
        body = _routine(recommendation, facts)
    closing = Message((Text("rec.disclaimer"), Text("rec.emergency_signs")))
    return [*body, closing]


def alert_texts(alerts: tuple[str, ...]) -> tuple[Text, ...]:
    """What each alert tells the patient (spec §3 "alerts"), in the ladder's order."""
    return tuple(Text(f"alert.{alert}") for alert in alerts if alert != "not_sure")


def _flags(recommendation: Recommendation, facts: Mapping[str, FactValue]) -> dict[str, object]:
    """The red flags said yes to, and apart those the patient was not sure of (spec §2)."""
    said = [Text(f"flag.{f}") for f in recommendation.flags if facts.get(f) != "not_sure"]
    unsure = [Text(f"flag.{f}") for f in recommendation.flags if facts.get(f) == "not_sure"]
    if said and unsure:
        reported = Text("rec.reported.both", {"flags": said, "unsure": unsure})
    elif unsure:
        reported = Text("rec.reported.unsure", {"unsure": unsure})
    else:
        reported = Text("rec.reported.sure", {"flags": said})
    return {"reported": reported}


def _routine(recommendation: Recommendation, facts: Mapping[str, FactValue]) -> list[Message]:
    step = recommendation.step or "specialist_review"
    reasons = [Text(f"why.{code}") for code in recommendation.why]
    opening = [Text("rec.step", {"step": Text(f"step.{step}")}),
               *alert_texts(recommendation.alerts),
               Text("rec.why", {"reasons": reasons})]
    if recommendation.options:
        opening.append(Text("rec.options_title"))
    messages = [Message(tuple(opening))]
    messages.extend(_option(method) for method in recommendation.options)
    notes: list[Text] = []
    if facts.get("imaging") in _REGRESSING:
        notes.append(Text("note.regression"))
    if step == "surgical":
        notes.append(Text("note.surgery_timing"))
    if notes:
        messages.append(Message(tuple(notes)))
    if recommendation.excluded:
        items = [
            Text(
                "rec.excluded_item",
                {
                    "method": Text(f"method.{exclusion.method}.name"),
                    "reasons": [Text(f"reason.{reason}") for reason in exclusion.reasons],
                },
            )
            for exclusion in recommendation.excluded
        ]
        messages.append(Message((Text("rec.excluded_title"), *items)))
    messages.append(Message((_next(recommendation, step), Text("rec.principle"))))
    return messages


def _option(method: str) -> Message:
    sections = [
        Text("rec.labelled", {"label": Text(f"rec.option_labels.{section}"),
                              "text": Text(f"method.{method}.{section}")})
        for section in _METHOD_SECTIONS
    ]
    title = Text("rec.option_title", {"method": Text(f"method.{method}.name")})
    return Message((title, *sections, Text(f"method.{method}.note")))


def _next(recommendation: Recommendation, step: str) -> Text:
    if step == "specialist_review":
        return Text("rec.next.review")
    if recommendation.next is None:
        return Text("rec.next.none")
    return Text(_NEXT_KEYS[recommendation.next])
