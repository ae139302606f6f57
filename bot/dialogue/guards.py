"""The named guards and actions the dialogue YAML may reference: an explicit registry."""

from __future__ import annotations

from bot.clinical.explain import explain
from bot.clinical.ladder import Ladder
from bot.dialogue.registry import Registry
from bot.dialogue.session import Session
from bot.dialogue.turn import Effect, Message


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

    return Registry(guards={"step_up_due": ladder.step_up_due}, actions={"recommend": recommend})
