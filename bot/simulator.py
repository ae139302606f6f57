"""Play the real screening dialogue from a facts file, answering each question it asks.

A fact's value is pressed as its button; ``{"typed": "TEXT"}`` is typed instead, as a patient
would, and read by the same rules (spec §2a); ``{"typed": [TEXT, ...]}`` types each in turn
while the bot asks again. When the texts run out while the dialogue still asks that question
again, the run stops there and says so (``"stopped"``).

A check-in (``WEEK:PAIN[:FACT=VALUE,...]``) answers whatever the follow-up dialogue asks: red
flags no, ``adherence`` yes, ``pregnant`` as the screening recorded it, unless overridden.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot import checkins
from bot.content import Content
from bot.dialogue.conditions import FactValue
from bot.dialogue.session import Session
from bot.dialogue.turn import Effect, Question, Turn

# Check-in weeks are given on the command line; the calendar start only anchors them.
SIMULATION_START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


class SimulationError(ValueError):
    """The facts file cannot answer the dialogue: a one-line reason naming the fact."""


# WEEK:PAIN, then optionally :FACT=VALUE,FACT=VALUE...
_CHECKIN = re.compile(r"(\d+):(\d+)(?::(.+))?")
_OVERRIDE = re.compile(r"([a-z_][a-z0-9_]*)=([^,=]+)")
_MAX_PAIN = 10


@dataclass(frozen=True)
class Checkin:
    """One check-in to play: the week, today's pain score, and answers given differently."""

    week: int
    pain_score: int
    overrides: Mapping[str, str] = field(default_factory=dict)


def parse_checkin(raw: str) -> Checkin:
    """``WEEK:PAIN[:FACT=VALUE,...]`` as written on the command line; facts checked later."""
    match = _CHECKIN.fullmatch(raw.strip())
    pairs = match[3].split(",") if match is not None and match[3] else []
    parsed = [_OVERRIDE.fullmatch(pair.strip()) for pair in pairs]
    if match is None or int(match[2]) > _MAX_PAIN or None in parsed:
        msg = f"--checkin {raw!r} must be WEEK:PAIN[:FACT=VALUE,...] (pain 0-10)"
        raise SimulationError(msg)
    overrides = {found[1]: found[2].strip() for found in parsed if found is not None}
    return Checkin(int(match[1]), int(match[2]), overrides)


@dataclass(frozen=True)
class Typed:
    """What the simulated patient types instead of pressing a button, one text per attempt."""

    texts: tuple[str, ...]


Answer = FactValue | Typed


def validate_facts(content: Content, facts: Mapping[str, Any]) -> dict[str, Answer]:
    """Refuse unknown facts and values the spec does not allow; keep typed answers as typed."""
    clean: dict[str, Answer] = {}
    for name, value in facts.items():
        domain = content.domains.get(name)
        if domain is None:
            msg = f"unknown fact '{name}' (known facts: {', '.join(content.domains)})"
            raise SimulationError(msg)
        if isinstance(value, Mapping):
            clean[name] = _typed(name, value)
            continue
        if not domain.admits(value):
            allowed = (
                ", ".join(domain.values) if domain.values
                else f"a whole number from {domain.minimum} to {domain.maximum}"
            )
            msg = f"invalid value {value!r} for fact '{name}' (allowed: {allowed})"
            raise SimulationError(msg)
        clean[name] = value
    return clean


def _typed(name: str, value: Mapping[str, Any]) -> Typed:
    """``{"typed": TEXT}`` or ``{"typed": [TEXT, ...]}``; anything else names the fact."""
    typed = value.get("typed")
    if set(value) == {"typed"} and isinstance(typed, str):
        return Typed((typed,))
    if (set(value) == {"typed"} and isinstance(typed, list) and typed
            and all(isinstance(text, str) for text in typed)):
        return Typed(tuple(typed))
    msg = (f"fact '{name}': a typed answer is {{\"typed\": \"TEXT\"}} or "
           f'{{"typed": ["TEXT", ...]}}, not {value!r}')
    raise SimulationError(msg)


def _checkin_answers(content: Content, checkin: Checkin) -> dict[str, FactValue]:
    """The overrides of a check-in, each a declared fact a check-in asks, with a valid value."""
    askable = {"adherence", "pregnant", *content.ladder.flag_codes,
               *(state.spec.ask for state in content.engines["followup"].dialogue.states.values()
                 if state.spec.ask)}
    where = f"in --checkin {checkin.week}:{checkin.pain_score}"
    answers: dict[str, FactValue] = {}
    for name, raw in checkin.overrides.items():
        domain = content.domains.get(name)
        if domain is None or name not in askable:
            msg = (f"unknown fact '{name}' {where} (a check-in answers: "
                   f"{', '.join(sorted(askable))})")
            raise SimulationError(msg)
        value: FactValue = int(raw) if domain.is_integer and raw.isdigit() else raw
        if not domain.admits(value):
            allowed = (", ".join(domain.values) if domain.values
                       else f"a whole number from {domain.minimum} to {domain.maximum}")
            msg = f"invalid value {raw!r} for fact '{name}' {where} (allowed: {allowed})"
            raise SimulationError(msg)
        answers[name] = value
    return answers


def simulate(
    content: Content,
    facts: Mapping[str, Any],
    language: str = "en",
    checkins: Sequence[Checkin] = (),
) -> dict[str, Any]:
    """Run the screening, then any check-ins, and return the JSON object of the contract."""
    known = validate_facts(content, facts)
    overrides = [_checkin_answers(content, checkin) for checkin in checkins]
    engine = content.engines["screening"]
    session, turn = engine.start(language)
    played = _Player(content, known, language)
    recommendation = played.play(session, turn)
    result: dict[str, Any] = {"recommendation": recommendation, "asked": played.asked,
                              "answers": played.answers, "transcript": played.transcript}
    if played.stopped is not None:
        result["stopped"] = played.stopped
        return result
    if recommendation is None:  # pragma: no cover - every end of the screening recommends
        msg = "the screening ended without a recommendation"
        raise SimulationError(msg)
    if checkins:
        result["checkins"] = _play_checkins(content, session, known, recommendation,
                                            list(zip(checkins, overrides, strict=True)))
    return result


class _Player:
    """Answers every question a dialogue asks from the facts file, keeping a transcript."""

    def __init__(self, content: Content, known: Mapping[str, Answer], language: str) -> None:
        self.content = content
        self.known = known
        self.language = language
        self.asked: list[str] = []
        self.answers: list[dict[str, Any]] = []
        self.transcript: list[dict[str, str | None]] = []
        self.effects: list[Effect] = []
        self.stopped: dict[str, str] | None = None

    def play(self, session: Session, turn: Turn) -> dict[str, Any] | None:
        """Answer until the dialogue ends; return the recommendation it made, if any.

        A step-up at a check-in carries the session into the screening's imaging questions,
        as the conversation does for a patient.
        """
        catalog, language = self.content.catalog, self.language
        recommendation: dict[str, Any] | None = None
        while True:
            self.effects.extend(turn.effects)
            recommendation = _recommendation(turn) or recommendation
            said = [catalog.message_plain(m, language) for m in turn.messages]
            step_up = next((e for e in turn.effects if e.kind == "step_up"), None)
            if step_up is not None:
                following = checkins.step_up(self.content, session, step_up.data["facts"])
                turn = Turn((*turn.messages, *following.messages), following.question,
                            following.effects, turn.answered)
                continue
            question = turn.question
            if question is None:
                if said:
                    # Every item has both keys; the closing message has no answer to it.
                    self.transcript.append({"bot": "\n\n".join(said), "patient": None})
                return recommendation
            fact = question.fact or ""
            if fact not in self.known:
                msg = f"the dialogue asks '{fact}' but the facts file has no value for it"
                raise SimulationError(msg)
            self.asked.append(fact)
            said.append(catalog.plain(question.text, language))
            answered = self._answer(session, question, said)
            if answered is None:
                return None
            turn = answered

    def _answer(self, session: Session, question: Question, said: list[str]) -> Turn | None:
        """Answer one question, typing each text in turn while it is asked again.

        None when the texts ran out while it was still asked again (``stopped``).
        """
        catalog, language = self.content.catalog, self.language
        fact = question.fact or ""
        engine = self.content.engines[session.dialogue]
        given = self.known[fact]
        attempts: tuple[str | None, ...] = given.texts if isinstance(given, Typed) else (None,)
        for typed in attempts:
            if typed is None:
                turn = engine.answer(session, str(given), seq=question.seq)
            else:
                turn = engine.answer(session, typed)
            if turn.answered is not None:
                self.answers.append({"fact": fact, "typed": typed,
                                     "recorded": _recorded(session, fact, turn)})
                answer = catalog.plain(turn.answered, language)
                self.transcript.append({"bot": "\n\n".join(said), "patient": answer})
                return turn
            # Asked again: the answer could not be taken (unread, or a hedge to confirm).
            self.effects.extend(turn.effects)
            self.answers.append({"fact": fact, "typed": typed, "recorded": None})
            self.transcript.append({"bot": "\n\n".join(said), "patient": typed})
            said = [catalog.message_plain(m, language) for m in turn.messages]
            if turn.question is not None:
                said.append(catalog.plain(turn.question.text, language))
        self.stopped = {"fact": fact, "typed": attempts[-1] or str(given)}
        return None


def _recorded(session: Session, fact: str, turn: Turn) -> FactValue:
    """What the answer recorded for ``fact``; for an extra button (e.g. Not sure), its name."""
    if fact in session.facts:
        return session.facts[fact]
    key = turn.answered.key if turn.answered is not None else ""
    return key.rsplit(".", 1)[-1]


def _recommendation(turn: Turn) -> dict[str, Any] | None:
    for effect in turn.effects:
        if effect.kind == "recommendation":
            return dict(effect.data["recommendation"])
    return None


def _play_checkins(
    content: Content,
    session: Session,
    known: Mapping[str, Answer],
    current: dict[str, Any],
    played_checkins: Sequence[tuple[Checkin, Mapping[str, FactValue]]],
) -> list[dict[str, Any]]:
    """Each check-in of spec §5 through the real follow-up dialogue, in order."""
    if not isinstance(session.facts.get("pain_score"), int):
        msg = "check-ins need the baseline 'pain_score', which the screening did not ask"
        raise SimulationError(msg)
    if not session.care:  # check-ins are offered after conservative care; play them anyway
        checkins.offer(session, [], SIMULATION_START)
    played: list[dict[str, Any]] = []
    for checkin, overrides in played_checkins:
        answers = {**known, **_checkin_defaults(content, session), "pain_today": checkin.pain_score,
                   **overrides}
        player = _Player(content, answers, session.language)
        turn = checkins.start(content, session, SIMULATION_START, week=checkin.week)
        if turn is None:  # pragma: no cover - offer() above always leaves a course
            msg = "no course to check in on"
            raise SimulationError(msg)
        made = player.play(session, turn)
        if player.stopped is not None:
            played.append({"week": checkin.week, "pain_score": checkin.pain_score,
                           "response": None, "recommendation": None,
                           "answers": player.answers, "stopped": player.stopped})
            break
        current = made or current
        outcome = next(e for e in player.effects if e.kind in {"checkin", "recommendation"})
        alerts = list(outcome.data.get("alerts", [])) if outcome.kind == "checkin" else []
        alerts += [a for a in current.get("alerts", []) if made is not None and a not in alerts]
        played.append({"week": checkin.week, "pain_score": checkin.pain_score,
                       "response": outcome.data.get("response"),
                       "recommendation": {**current, "alerts": alerts}})
    return played


def _checkin_defaults(content: Content, session: Session) -> dict[str, FactValue]:
    """Red flags no, still following the treatment, and pregnancy as the screening recorded."""
    defaults: dict[str, FactValue] = dict.fromkeys(content.ladder.flag_codes, "no")
    defaults["adherence"] = "yes"
    pregnant = session.care.get("facts", {}).get("pregnant", session.facts.get("pregnant"))
    if pregnant is not None:
        defaults["pregnant"] = pregnant
    return defaults
