"""Helpers that answer the screening dialogue from a table of typed answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.dialogue.engine import Engine
from bot.dialogue.session import Session
from bot.dialogue.turn import Turn

RED_FLAGS_EMERGENCY = ("saddle_numbness", "bladder_bowel", "bilateral_leg", "severe_weakness")
RED_FLAGS_URGENT = (
    "leg_weakness", "fever", "cancer_history", "weight_loss", "major_trauma",
    "immune_risk", "other_warning_signs",
)
NO_RED_FLAGS = dict.fromkeys((*RED_FLAGS_EMERGENCY, *RED_FLAGS_URGENT), "no")

# A routine adult with sciatica after 6+ weeks of conservative care that helped only partly.
STEP_UP_DUE = {
    **NO_RED_FLAGS,
    "age": "40",
    "pregnant": "no",
    "leg_pain": "yes",
    "pain_score": "7",
    "previous_procedure": "none",
    "conservative_course": "6_weeks_or_more",
    "conservative_response": "partial",
}


def play(
    engine: Engine, answers: Mapping[str, str], language: str = "en"
) -> tuple[Session, Turn, list[str]]:
    """Start a screening and answer every question found in ``answers`` (typed text).

    Stops at the end or at the first question ``answers`` has no entry for; returns the
    session, the last turn and the facts asked, in order.
    """
    session, turn = engine.start(language)
    return (session, *advance(engine, session, turn, answers))


def advance(
    engine: Engine, session: Session, turn: Turn, answers: Mapping[str, str]
) -> tuple[Turn, list[str]]:
    """Answer from ``turn`` on while ``answers`` has the asked fact."""
    asked: list[str] = []
    while turn.question is not None and turn.question.fact in answers:
        fact = turn.question.fact
        asked.append(fact)
        turn = engine.answer(session, answers[fact], seq=turn.question.seq)
        assert turn.question is None or turn.question.fact != fact, f"{fact} was asked again"
    return turn, asked


def recommendation(turn: Turn) -> dict[str, Any] | None:
    """The recommendation a turn carries, as the JSON of spec §3, or None."""
    for effect in turn.effects:
        if effect.kind == "recommendation":
            return dict(effect.data["recommendation"])
    return None


def keys(turn: Turn) -> list[str]:
    """The text keys of every part of every message of a turn, in order."""
    return [part.key for message in turn.messages for part in message.parts]
