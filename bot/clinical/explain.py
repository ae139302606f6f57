"""A recommendation as readable messages (clinical spec §4), built from text keys only.

Short first: a routine result is one summary (the step, why, alerts and the options by name)
and the safety notes; each option's full explanation is a message of its own, sent on request
(``details``). Emergency and urgent results are one short message that says what to do first.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.clinical.ladder import Exclusion, Ladder, Recommendation
from bot.dialogue.conditions import FactValue
from bot.dialogue.turn import Message, Text

# The first text of a routine result's summary: how the details buttons find their message.
SUMMARY_KEY = "rec.step"
_METHOD_SECTIONS = ("what", "suits", "pros", "cons")
_NEXT_KEYS = {"minimally_invasive": "rec.next.minimally_invasive", "surgical": "rec.next.surgical"}
_REGRESSING = frozenset({"extrusion", "sequestration"})
_PASSED_OVER_RUNG = "minimally_invasive"
_SURGICAL = "surgical"
_MILD_PAIN = "mild_pain"  # the ladder's why code for pain too mild for any procedure


def explain(
    recommendation: Recommendation, facts: Mapping[str, FactValue], ladder: Ladder
) -> list[Message]:
    """The messages a patient is sent for a recommendation, ending with the safety notes."""
    disposition = recommendation.disposition
    if disposition == "emergency":
        # "Go now" first, and said once: the message is its own safety note.
        return [Message((Text("rec.emergency", _flags(recommendation, facts)),
                         *alert_texts(recommendation.alerts)))]
    if disposition == "urgent":
        return [Message((Text("rec.urgent", _flags(recommendation, facts)),
                         *alert_texts(recommendation.alerts), Text("rec.disclaimer")))]
    if disposition == "out_of_scope":
        return [Message((Text("rec.out_of_scope"), Text("rec.disclaimer")))]
    # Weakness is urgent, not an emergency (spec §2): said apart from the go-now list.
    closing = Message((Text("rec.disclaimer"), Text("rec.weakness_24h"),
                       Text("rec.emergency_signs")))
    return [summary(recommendation, facts, ladder), closing]


def alert_texts(alerts: tuple[str, ...]) -> tuple[Text, ...]:
    """What each alert tells the patient (spec §3 "alerts"), in the ladder's order."""
    return tuple(Text(f"alert.{alert}") for alert in alerts if alert != "not_sure")


def summary(
    recommendation: Recommendation, facts: Mapping[str, FactValue], ladder: Ladder
) -> Message:
    """A routine result in a few lines: the step, alerts, why, the options by name, what next."""
    step = recommendation.step or "specialist_review"
    parts = [Text(SUMMARY_KEY, {"step": Text(f"step.{step}")}),
             *alert_texts(recommendation.alerts),
             Text("rec.why", {"reasons": [Text(f"why.{code}") for code in recommendation.why]})]
    if step == _SURGICAL:
        parts.append(_passed_over(recommendation, facts, ladder))
    if recommendation.options:
        names = [Text("rec.option_item", {"number": number, "method": Text(f"method.{m}.name")})
                 for number, m in enumerate(recommendation.options, 1)]
        parts += [Text("rec.options", {"options": names}), Text("rec.details_hint")]
    if step != _SURGICAL and recommendation.excluded:
        # A surgical result's other unsuitable operations wait for "all of it" (``details``).
        parts.append(_excluded(recommendation.excluded))
    parts.append(_next(recommendation, step, facts))
    return Message(tuple(parts))


def details(
    recommendation: Recommendation, facts: Mapping[str, FactValue], ladder: Ladder
) -> tuple[tuple[Message, ...], Message | None]:
    """Each option's full explanation, and the rest of the result for "all of it" (or None)."""
    options = tuple(_option(method) for method in recommendation.options)
    step = recommendation.step or "specialist_review"
    parts: list[Text] = []
    if step == _SURGICAL:
        passed_over = _passed_over_methods(recommendation, ladder)
        others = tuple(e for e in recommendation.excluded if e.method not in passed_over)
        if others:
            parts.append(_excluded(others))
    if facts.get("imaging") in _REGRESSING:
        parts.append(Text("note.regression"))
    if step == _SURGICAL:
        parts.append(Text("note.surgery_timing"))
    if recommendation.options:
        parts.append(Text("rec.principle"))
    return options, (Message(tuple(parts)) if parts else None)


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


def _after_failed_procedure(facts: Mapping[str, FactValue]) -> bool:
    return facts.get("previous_procedure") not in {None, "none"}


def _passed_over_methods(recommendation: Recommendation, ladder: Ladder) -> set[str]:
    """The minimally invasive methods a surgical result explains in its summary."""
    return {e.method for e in recommendation.excluded
            if ladder.method(e.method).rung == _PASSED_OVER_RUNG}


def _passed_over(
    recommendation: Recommendation, facts: Mapping[str, FactValue], ladder: Ladder
) -> Text:
    """Why a surgical step skipped the minimally invasive rung (spec §4)."""
    if _after_failed_procedure(facts):
        return Text("rec.passed_over.after_procedure")
    shown = _passed_over_methods(recommendation, ladder)
    items = [_excluded_item(e) for e in recommendation.excluded if e.method in shown]
    return Text("rec.passed_over.not_suitable", {"items": items})


def _excluded(exclusions: tuple[Exclusion, ...]) -> Text:
    return Text("rec.excluded", {"items": [_excluded_item(e) for e in exclusions]})


def _excluded_item(exclusion: Exclusion) -> Text:
    return Text("rec.excluded_item", {"method": Text(f"method.{exclusion.method}.name"),
                                      "reasons": _reasons(exclusion.reasons)})


def _reasons(reasons: tuple[str, ...]) -> Text:
    """Several reasons on one line, joined the way each language joins them."""
    first = Text(f"reason.{reasons[0]}")
    if len(reasons) == 1:
        return first
    return Text("rec.reasons_joined", {"first": first, "rest": _reasons(reasons[1:])})


def _option(method: str) -> Message:
    sections = [
        Text("rec.labelled", {"label": Text(f"rec.option_labels.{section}"),
                              "text": Text(f"method.{method}.{section}")})
        for section in _METHOD_SECTIONS
    ]
    title = Text("rec.option_title", {"method": Text(f"method.{method}.name")})
    return Message((title, *sections, Text(f"method.{method}.note")))


def _next(recommendation: Recommendation, step: str, facts: Mapping[str, FactValue]) -> Text:
    if step == "specialist_review":
        return Text("rec.next.review")
    if facts.get("leg_pain") == "no" or _MILD_PAIN in recommendation.why:
        # Back pain alone, or mild pain, is no reason for a procedure: none is held out as next.
        return Text("rec.next.see_your_doctor")
    if recommendation.next is None:
        return Text("rec.next.none")
    return Text(_NEXT_KEYS[recommendation.next])
