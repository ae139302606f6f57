"""The named guards and actions the dialogue YAML may reference: an explicit registry."""

from __future__ import annotations

from bot.clinical.explain import explain
from bot.clinical.followup import checkin_facts
from bot.clinical.ladder import Ladder
from bot.dialogue.registry import Registry
from bot.dialogue.session import Session
from bot.dialogue.turn import Effect, Message, Text


def build_registry(ladder: Ladder) -> Registry:
    """Every name a dialogue may use, bound to the loaded treatment ladder."""

    def recommend(session: Session) -> tuple[list[Message], list[Effect]]:
        """Decide the step from the facts, explain it, and say what should follow."""
        recommendation = ladder.recommend(session.facts)
        effects = [Effect("recommendation", {"recommendation": recommendation.to_json(),
                                             "why": list(recommendation.why),
                                             "flags": list(recommendation.flags)})]
        if recommendation.disposition in {"emergency", "urgent"}:
            effects.append(Effect("notify_clinic", {"disposition": recommendation.disposition,
                                                    "flags": list(recommendation.flags)}))
        if recommendation.followup_weeks:
            effects.append(Effect("offer_checkins", {"weeks": list(recommendation.followup_weeks)}))
        return explain(recommendation, session.facts), effects

    def checkin_outcome(session: Session) -> tuple[list[Message], list[Effect]]:
        """Compare today's pain with the start of the course (spec §5) and say what follows."""
        facts = session.facts
        baseline, today = int(facts["pain_score"]), int(facts["pain_today"])
        week = int(facts.get("checkin_week", 0))
        response, stepped = checkin_facts(facts, week, today, ladder)
        if ladder.step_up_due(facts):
            # The screening already moved past conservative care: the clinic plans that step,
            # and a check-in only tells how the patient is doing.
            stepped = None
        parts = [Text("checkin.result", {"baseline": baseline, "today": today,
                                         "response": Text(f"checkin.response.{response}")})]
        if facts.get("adherence") == "no":
            parts.append(Text("checkin.adherence_no"))
        effects = [Effect("checkin", {"week": week, "pain_score": today, "response": response,
                                      "adherence": facts.get("adherence")}),
                   Effect("pain_chart", {"baseline": baseline})]
        if stepped is not None:
            parts.append(Text("checkin.step_up"))
            effects.append(Effect("step_up", {"week": week, "response": response,
                                              "facts": dict(stepped)}))
        elif ladder.step_up_due(facts):
            parts.append(Text("checkin.planned_step"))
        else:
            advice = "checkin.keep_going" if response == "good" else "checkin.give_it_time"
            parts.append(Text(advice))
        return [Message(tuple(parts))], effects

    return Registry(
        guards={"step_up_due": ladder.step_up_due},
        actions={"recommend": recommend, "checkin_outcome": checkin_outcome},
    )
