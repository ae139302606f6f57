"""The clinical guards and actions the dialogues name, registered with the engine's registry."""

from __future__ import annotations

from dataclasses import replace

from bot.clinical.explain import checkin_texts, explain
from bot.clinical.followup import CheckinOutcome, assess_checkin
from bot.clinical.ladder import Ladder
from bot.dialogue.registry import Registry
from bot.dialogue.session import Session
from bot.dialogue.turn import Effect, Message

# Dispositions whose red flags the clinic hears of at once (spec §2).
_RED_FLAG_DISPOSITIONS = frozenset({"emergency", "urgent"})
# Spec §2a: a red flag answered no after answers that could not be read.
UNCLEAR_RED_FLAG = "unclear_red_flag"


def register(registry: Registry, ladder: Ladder) -> Registry:
    """``registry`` with the clinical names added, bound to the loaded treatment ladder."""

    def recommend(session: Session) -> tuple[list[Message], list[Effect]]:
        """Decide the step from the facts, explain it, and say what should follow."""
        unclear = session.unclear(ladder.flag_codes)
        raised = frozenset({UNCLEAR_RED_FLAG} if unclear else ())
        recommendation = ladder.recommend(session.facts, raised)
        effects = [Effect("recommendation", {"recommendation": recommendation.to_json(),
                                             "why": list(recommendation.why),
                                             "flags": list(recommendation.flags)})]
        if recommendation.disposition in _RED_FLAG_DISPOSITIONS or recommendation.alerts:
            effects.append(Effect("notify_clinic", {"disposition": recommendation.disposition,
                                                    "flags": list(recommendation.flags),
                                                    "alerts": list(recommendation.alerts),
                                                    "unclear": unclear}))
        if recommendation.followup_weeks:
            effects.append(Effect("offer_checkins", {"weeks": list(recommendation.followup_weeks)}))
        return explain(recommendation, session.facts, ladder), effects

    def checkin_outcome(session: Session) -> tuple[list[Message], list[Effect]]:
        """Compare today's pain with the start of the course (spec §5) and say what follows."""
        outcome = assess_checkin(session.facts, ladder)
        unclear = session.unclear(ladder.flag_codes)
        if unclear and UNCLEAR_RED_FLAG not in outcome.alerts:  # spec §2a, at check-ins too
            outcome = replace(outcome, alerts=(*outcome.alerts, UNCLEAR_RED_FLAG))
        effects = [Effect(e.kind, {**e.data, "unclear": unclear}) if e.kind == "notify_clinic"
                   else e for e in _checkin_effects(outcome)]
        return [Message(tuple(checkin_texts(outcome)))], effects

    return registry.including(
        guards={"step_up_due": ladder.step_up_due},
        actions={"recommend": recommend, "checkin_outcome": checkin_outcome},
    )


def _checkin_effects(outcome: CheckinOutcome) -> list[Effect]:
    """What the conversation records and does: the check-in, the chart, the clinic, a step-up."""
    week = outcome.week
    effects = [Effect("checkin", {"week": week, "pain_score": outcome.today,
                                  "response": outcome.response, "adherence": outcome.adherence,
                                  "alerts": list(outcome.alerts)}),
               Effect("pain_chart", {"baseline": outcome.baseline})]
    if outcome.alerts:
        effects.append(Effect("notify_clinic", {"disposition": "routine", "flags": [],
                                                "alerts": list(outcome.alerts), "week": week}))
    if outcome.stepped is not None:
        effects.append(Effect("step_up", {"week": week, "response": outcome.response,
                                          "facts": dict(outcome.stepped)}))
    elif outcome.not_improving:
        effects.append(Effect("not_improving", {"week": week, "response": outcome.response}))
    return effects
