"""Play the real screening dialogue from a facts file, answering each question it asks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.clinical.followup import checkin_facts, classify_response
from bot.content import Content
from bot.dialogue.conditions import FactValue
from bot.dialogue.session import Session
from bot.dialogue.turn import Turn

# Where the screening decides whether imaging is needed; a step-up at a check-in enters here.
STEP_UP_STATE = "imaging_due"


class SimulationError(ValueError):
    """The facts file cannot answer the dialogue: a one-line reason naming the fact."""


@dataclass(frozen=True)
class Checkin:
    """One check-in to play: the week and today's pain score."""

    week: int
    pain_score: int


def validate_facts(content: Content, facts: Mapping[str, Any]) -> dict[str, FactValue]:
    """Refuse unknown facts and values the spec does not allow."""
    clean: dict[str, FactValue] = {}
    for name, value in facts.items():
        domain = content.domains.get(name)
        if domain is None:
            msg = f"unknown fact '{name}' (known facts: {', '.join(content.domains)})"
            raise SimulationError(msg)
        if not domain.admits(value):
            allowed = (
                ", ".join(domain.values) if domain.values
                else f"a whole number from {domain.minimum} to {domain.maximum}"
            )
            msg = f"invalid value {value!r} for fact '{name}' (allowed: {allowed})"
            raise SimulationError(msg)
        clean[name] = value
    return clean


def simulate(
    content: Content,
    facts: Mapping[str, Any],
    language: str = "en",
    checkins: Sequence[Checkin] = (),
) -> dict[str, Any]:
    """Run the screening, then any check-ins, and return the JSON object of the contract."""
    known = validate_facts(content, facts)
    engine = content.engines["screening"]
    session, turn = engine.start(language)
    played = _Player(content, known, language)
    recommendation = played.play(session, turn)
    result: dict[str, Any] = {"recommendation": recommendation, "asked": played.asked,
                              "transcript": played.transcript}
    if checkins:
        result["checkins"] = _play_checkins(content, session, known, recommendation, checkins)
    return result


class _Player:
    """Answers every question a dialogue asks from the facts file, keeping a transcript."""

    def __init__(self, content: Content, known: Mapping[str, FactValue], language: str) -> None:
        self.content = content
        self.known = known
        self.language = language
        self.asked: list[str] = []
        self.transcript: list[dict[str, str | None]] = []

    def play(self, session: Session, turn: Turn) -> dict[str, Any]:
        """Answer until the dialogue ends; return the recommendation it made."""
        catalog, language = self.content.catalog, self.language
        engine = self.content.engines[session.dialogue]
        recommendation: dict[str, Any] | None = None
        while True:
            recommendation = _recommendation(turn) or recommendation
            said = [catalog.message_plain(m, language) for m in turn.messages]
            question = turn.question
            if question is None:
                if said:
                    # Every item has both keys; the closing message has no answer to it.
                    self.transcript.append({"bot": "\n\n".join(said), "patient": None})
                break
            fact = question.fact or ""
            if fact not in self.known:
                msg = f"the dialogue asks '{fact}' but the facts file has no value for it"
                raise SimulationError(msg)
            self.asked.append(fact)
            said.append(catalog.plain(question.text, language))
            turn = engine.answer(session, str(self.known[fact]), seq=question.seq)
            answer = catalog.plain(turn.answered, language) if turn.answered else ""
            self.transcript.append({"bot": "\n\n".join(said), "patient": answer})
        if recommendation is None:
            msg = f"the dialogue '{session.dialogue}' ended without a recommendation"
            raise SimulationError(msg)
        return recommendation


def _recommendation(turn: Turn) -> dict[str, Any] | None:
    for effect in turn.effects:
        if effect.kind == "recommendation":
            return dict(effect.data["recommendation"])
    return None


def _play_checkins(
    content: Content,
    screened: Session,
    known: Mapping[str, FactValue],
    current: dict[str, Any],
    checkins: Sequence[Checkin],
) -> list[dict[str, Any]]:
    """Each check-in of spec §5; a step-up re-enters the screening where imaging is asked."""
    baseline = screened.facts.get("pain_score")
    if not isinstance(baseline, int):
        msg = "check-ins need the baseline 'pain_score', which the screening did not ask"
        raise SimulationError(msg)
    engine = content.engines["screening"]
    facts = dict(screened.facts)
    played: list[dict[str, Any]] = []
    for checkin in checkins:
        response = classify_response(baseline, checkin.pain_score)
        _, stepped = checkin_facts(facts, checkin.week, checkin.pain_score, content.ladder)
        if stepped is not None:
            session, turn = engine.enter(screened.language, STEP_UP_STATE, stepped)
            current = _Player(content, known, screened.language).play(session, turn)
            facts = dict(session.facts)
        played.append({"week": checkin.week, "pain_score": checkin.pain_score,
                       "response": response, "recommendation": current})
    return played
