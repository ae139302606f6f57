"""A recommendation as readable messages (clinical spec §4), built from text keys only.

Short first: a routine result is one summary (the step, why, alerts, the options by name with
a plain gloss, and the principle in one line), then the notes every step-up result says, then
the safety notes; each option's full explanation is a message of its own, sent on request
(``details``).
Emergency and urgent results are one short message that says what to do first.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.clinical.followup import CheckinOutcome
from bot.clinical.ladder import PAIN_WORSE, Exclusion, Ladder, Recommendation
from bot.dialogue.conditions import FactValue
from bot.dialogue.turn import Message, Text

# The first text of a routine result's summary: how the details buttons find their message.
SUMMARY_KEY = "rec.step"
_METHOD_SECTIONS = ("what", "suits", "pros", "cons")
_NEXT_KEYS = {"minimally_invasive": "rec.next.minimally_invasive", "surgical": "rec.next.surgical"}
_REGRESSING = frozenset({"extrusion", "sequestration"})
_PASSED_OVER_RUNG = "minimally_invasive"
_SURGICAL = "surgical"
_MINIMALLY_INVASIVE = "minimally_invasive"
_CONSERVATIVE = "conservative_care"
_REVIEW = "specialist_review"
_MILD_PAIN = "mild_pain"  # the ladder's why code for pain too mild for any procedure
_EMERGENCY, _URGENT = "emergency", "urgent"


def explain(
    recommendation: Recommendation, facts: Mapping[str, FactValue], ladder: Ladder
) -> list[Message]:
    """The messages a patient is sent for a recommendation, ending with the safety notes."""
    disposition = recommendation.disposition
    signs = emergency_signs(ladder)
    if disposition == _EMERGENCY:
        # "Go now" first, and said once: the message is its own safety note. What the sign can
        # mean, and what to tell the staff, follow the first emergency flag reported.
        emergency = ladder.flags_of(_EMERGENCY)
        first = next((f for f in recommendation.flags if f in emergency), emergency[0])
        values = {**_flags(recommendation, facts),
                  "meaning": Text(f"rec.emergency_meaning.{first}"),
                  "worry": Text(f"rec.emergency_worry.{first}")}
        return [Message((Text("rec.emergency", values), *alert_texts(recommendation.alerts)))]
    if disposition == _URGENT:
        values = {**_flags(recommendation, facts), "signs": signs}
        return [Message((Text("rec.urgent", values),
                         *alert_texts(recommendation.alerts), Text("rec.disclaimer")))]
    if disposition == "out_of_scope":
        return [Message((Text("rec.out_of_scope", {"signs": signs}), Text("rec.disclaimer")))]
    # Slow weakness is urgent, not an emergency (spec §2): said apart from the go-now list.
    closing = Message((Text("rec.disclaimer"), Text("rec.weakness_24h"),
                       Text("rec.emergency_signs", {"signs": signs})))
    messages = [summary(recommendation, facts, ladder)]
    notes = _notes(recommendation, facts, ladder)
    if notes:
        # Sent at once, after the short first message: what every step-up result says.
        messages.append(Message(tuple(notes)))
    if recommendation.step == _REVIEW and recommendation.excluded:
        # Spec §4: a review's first message lists no operation the patient does not qualify
        # for; spec §3 still wants every unsuitable method said, so it follows on its own.
        messages.append(Message((_excluded(recommendation.excluded),)))
    return [*messages, closing]


def emergency_signs(ladder: Ladder) -> list[Text]:
    """The go-now list: exactly the ladder's emergency flags, each in the patient's words."""
    return [Text(f"flag.{flag}") for flag in ladder.flags_of(_EMERGENCY)]


def alert_texts(alerts: tuple[str, ...]) -> tuple[Text, ...]:
    """What each alert tells the patient (spec §3 "alerts"), in the ladder's order."""
    return tuple(Text(f"alert.{alert}") for alert in alerts if alert != "not_sure")


def summary(
    recommendation: Recommendation, facts: Mapping[str, FactValue], ladder: Ladder
) -> Message:
    """A routine result in a few lines: the step, alerts, why, the options by name, what next."""
    step = recommendation.step or _REVIEW
    parts = [Text(SUMMARY_KEY, {"step": Text(f"step.{step}")}),
             *alert_texts(recommendation.alerts),
             Text("rec.why", {"reasons": [Text(f"why.{code}") for code in recommendation.why]})]
    if step == _SURGICAL:
        parts.append(_passed_over(recommendation, facts, ladder))
    if recommendation.options:
        names = [Text("rec.option_item", {"number": number, "method": Text(f"method.{m}.name"),
                                          "gloss": Text(f"method.{m}.gloss")})
                 for number, m in enumerate(recommendation.options, 1)]
        parts.append(Text("rec.options", {"options": names}))
        if step != ladder.rungs[0].id:
            # The patient's own reading of a report chose between methods (spec §4).
            parts.append(Text("rec.options_discuss"))
        parts.append(Text("rec.details_hint"))
    if step not in {_SURGICAL, _REVIEW} and recommendation.excluded:
        # A surgical result's other unsuitable operations wait for "all of it" (``details``);
        # a review's follow in a message of their own (``explain``).
        parts.append(_excluded(recommendation.excluded))
    if facts.get("imaging") in _REGRESSING:
        # Spec §4: in the short first message, not only behind the details.
        parts.append(Text("note.regression"))
    parts.append(_next(recommendation, step, facts))
    if recommendation.options and not _no_procedure_ahead(recommendation, facts):
        # The principle in one line; a patient no procedure is for is not told of the ladder
        # above until they ask (spec §4: a result fits its patient).
        parts.append(Text("rec.principle_short"))
    return Message(tuple(parts))


def _notes(
    recommendation: Recommendation, facts: Mapping[str, FactValue], ladder: Ladder
) -> list[Text]:
    """The guideline notes of spec §3 and §4 that every step-up result says; none otherwise."""
    if recommendation.disposition != "routine" or not ladder.stepped_up(recommendation):
        return []
    step = recommendation.step or _REVIEW
    notes: list[Text] = []
    if facts.get("imaging") == "bulging":
        notes.append(Text("note.bulging"))
    if step == _MINIMALLY_INVASIVE:
        notes.append(Text("note.microdiscectomy"))
    if step == _SURGICAL and facts.get("instability") == "yes":
        notes.append(Text("note.slipped_vertebra"))
    return [*notes, Text("note.balance"), Text("note.epidural")]


def details(
    recommendation: Recommendation, facts: Mapping[str, FactValue], ladder: Ladder
) -> tuple[tuple[Message, ...], Message | None]:
    """Each option's full explanation, and the rest of the result for "all of it" (or None)."""
    # Spec §3: the epidural injection is said in the conservative-care explanation, to those
    # it is for (sciatica): back pain alone is never told about sciatica (spec §4).
    sciatica = facts.get("leg_pain") != "no"
    options = tuple(
        _option(method, (Text("note.epidural"),) if sciatica and method == _CONSERVATIVE else ())
        for method in recommendation.options
    )
    step = recommendation.step or _REVIEW
    parts: list[Text] = []
    if step == _SURGICAL:
        passed_over = _passed_over_methods(recommendation, ladder)
        others = tuple(e for e in recommendation.excluded if e.method not in passed_over)
        if others:
            parts.append(_excluded(others))
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


def _option(method: str, extra: tuple[Text, ...] = ()) -> Message:
    sections = [
        Text("rec.labelled", {"label": Text(f"rec.option_labels.{section}"),
                              "text": Text(f"method.{method}.{section}")})
        for section in _METHOD_SECTIONS
    ]
    title = Text("rec.option_title", {"method": Text(f"method.{method}.name")})
    return Message((title, *sections, Text(f"method.{method}.note"), *extra))


def _no_procedure_ahead(recommendation: Recommendation, facts: Mapping[str, FactValue]) -> bool:
    """Back pain alone, or mild pain: no procedure is held out to this patient."""
    return facts.get("leg_pain") == "no" or _MILD_PAIN in recommendation.why


def _next(recommendation: Recommendation, step: str, facts: Mapping[str, FactValue]) -> Text:
    if step == _REVIEW:
        return Text("rec.next.review")
    if _no_procedure_ahead(recommendation, facts):
        # Back pain alone, or mild pain, is no reason for a procedure: none is held out as next.
        return Text("rec.next.see_your_doctor")
    if recommendation.next is None:
        return Text("rec.next.none")
    return Text(_NEXT_KEYS[recommendation.next])


def checkin_texts(outcome: CheckinOutcome) -> list[Text]:
    """A check-in's result, its alerts, then what follows (never "keep going" if worse).

    Pain 8 or more that did not rise by the ladder's margin is "still severe", not "worse"
    (spec §3 ``pain_worse``), so a fall in pain is never called worse.
    """
    said = [Text("alert.pain_still_severe") if a == PAIN_WORSE and not outcome.pain_rose
            else Text(f"alert.{a}") for a in outcome.alerts if a != "not_sure"]
    parts = [Text("checkin.result", {"baseline": outcome.baseline, "today": outcome.today,
                                     "response": Text(f"checkin.response.{outcome.response}")}),
             *said]
    if outcome.next_text is not None:
        parts.append(Text(outcome.next_text))
    return parts
