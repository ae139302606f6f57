"""Hedges on a red flag confirmed once, re-ask sentences, typed answers kept (spec §2a)."""
# ruff: noqa: RUF001  # Chinese punctuation is what patients type

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from screening_play import NO_RED_FLAGS, keys, play, recommendation

from bot.content import Content, check_content
from bot.dialogue.engine import Engine
from bot.dialogue.session import Session
from bot.dialogue.turn import Text, Turn
from bot.dialogue.unread import UNREAD_ANSWER


def _at(engine: Engine, answers: dict[str, str], fact: str) -> tuple[Session, Turn]:
    session, turn, _ = play(engine, answers)
    assert turn.question is not None
    assert turn.question.fact == fact
    return session, turn


def _rest_no(engine: Engine, session: Session, turn: Turn) -> Turn:
    """Answer every remaining red flag no, then a routine adult with back pain only."""
    answers = {**NO_RED_FLAGS, "age": "60", "leg_pain": "no", "pain_score": "5"}
    while turn.question is not None and turn.question.fact in answers:
        turn = engine.answer(session, answers[turn.question.fact], seq=turn.question.seq)
    return turn


def test_s2a_a_hedge_on_a_red_flag_is_confirmed_once_quoting_the_patient(engine: Engine) -> None:
    session, asked = _at(engine, {}, "saddle_numbness")

    turn = engine.answer(session, "not really")

    assert "saddle_numbness" not in session.facts
    assert keys(turn) == ["reading.confirm.emergency", "reading.reask.emergency"]
    assert turn.messages[0].parts[0] == Text("reading.confirm.emergency",
                                             {"typed": "not really"})
    assert turn.question is not None
    assert asked.question is not None
    assert turn.question.options == asked.question.options  # with the buttons
    assert turn.effects[0].kind == UNREAD_ANSWER
    assert turn.effects[0].data == {"fact": "saddle_numbness", "state": "saddle_numbness",
                                    "typed": "not really", "reading": "hedge",
                                    "dialogues": engine.fingerprint}
    assert len(engine.fingerprint) == 16  # which version of the dialogues read it


def test_s2a_the_confirmation_text_in_both_languages(content: Content, engine: Engine) -> None:
    session, _ = _at(engine, {}, "saddle_numbness")
    turn = engine.answer(session, "not really")

    english = content.catalog.message_plain(turn.messages[0], "en")
    chinese = content.catalog.message_plain(turn.messages[0], "zh")

    assert english.startswith("You wrote “not really”. Because this can be a sign of an "
                              "emergency, please tap the answer that fits: Yes / Not sure / No")
    assert english.endswith("If you have any of this, even a little, tap Yes, and go to an "
                            "emergency department now.")
    assert chinese.startswith("您输入的是“not really”。")
    assert "急诊" in chinese


@pytest.mark.parametrize(("answer", "pressed", "recorded"),
                         [("no", True, "no"), ("No.", False, "no"), ("yes", False, "yes"),
                          ("not sure", False, "not_sure"), ("not_sure", True, "not_sure"),
                          ("I don't think so", False, "not_sure"), ("没有？", False, "not_sure")])
def test_s2a_after_the_confirmation_a_clear_answer_is_taken_and_a_hedge_is_not_sure(
    engine: Engine, answer: str, pressed: bool, recorded: str  # noqa: FBT001  # a table row
) -> None:
    session, _ = _at(engine, {}, "saddle_numbness")
    confirm = engine.answer(session, "not really")
    assert confirm.question is not None

    engine.answer(session, answer, seq=confirm.question.seq if pressed else None)

    assert session.facts["saddle_numbness"] == recorded
    assert session.history[-1].unread == [{"typed": "not really", "reading": "hedge"}]
    assert session.attempts == []


def test_s2a_the_wait_for_confirmation_survives_a_restart(engine: Engine) -> None:
    session, _ = _at(engine, {"saddle_numbness": "no"}, "bladder_bowel")
    engine.answer(session, "no…")

    stored = Session.from_json(session.to_json())  # as the store keeps it between two updates
    engine.answer(stored, "kind of")

    assert stored.facts["bladder_bowel"] == "not_sure"
    assert [a["typed"] for a in stored.history[-1].unread] == ["no…"]


def test_s2a_a_red_flag_answered_no_after_unread_answers_carries_unclear_red_flag(
    engine: Engine,
) -> None:
    session, _ = _at(engine, {"saddle_numbness": "no"}, "bladder_bowel")
    engine.answer(session, "I can't pee")
    engine.answer(session, "no?")
    turn = engine.answer(session, "no")

    turn = _rest_no(engine, session, turn)

    rec = recommendation(turn)
    assert rec is not None
    assert rec["disposition"] == "routine"
    assert rec["alerts"] == ["unclear_red_flag"]
    note = next(e for e in turn.effects if e.kind == "notify_clinic")
    assert note.data["unclear"] == [{"fact": "bladder_bowel", "typed": ["I can't pee", "no?"]}]
    assert "alert.unclear_red_flag" in keys(turn)  # the patient is told too


def test_s2a_a_clear_no_or_a_yes_after_unread_answers_is_no_unclear_red_flag(
    engine: Engine,
) -> None:
    clean, turn = _at(engine, {}, "saddle_numbness")
    rec = recommendation(_rest_no(engine, clean, turn))
    assert rec is not None
    assert rec["alerts"] == []

    session, _ = _at(engine, {}, "saddle_numbness")
    engine.answer(session, "numb")
    rec = recommendation(engine.answer(session, "yes"))
    assert rec is not None
    assert rec["disposition"] == "emergency"
    assert "unclear_red_flag" not in rec["alerts"]


@pytest.mark.parametrize(("fact", "disposition"),
                         [("saddle_numbness", "emergency"), ("fever", "urgent")])
def test_s2a_asking_again_says_what_to_do_by_the_kind_of_red_flag(
    engine: Engine, fact: str, disposition: str
) -> None:
    answers = {} if fact == "saddle_numbness" else dict.fromkeys(
        ["saddle_numbness", "bladder_bowel", "bilateral_leg", "severe_weakness",
         "leg_weakness"], "no")
    session, _ = _at(engine, answers, fact)

    unread = engine.answer(session, "ok")
    hedge = engine.answer(session, "probably not")

    assert keys(unread) == ["app.hint.red_flag", f"reading.reask.{disposition}"]
    assert keys(hedge) == [f"reading.confirm.{disposition}", f"reading.reask.{disposition}"]


def test_s2a_the_urgent_re_ask_says_tap_not_sure(content: Content, engine: Engine) -> None:
    session, _ = _at(engine, dict.fromkeys(
        ["saddle_numbness", "bladder_bowel", "bilateral_leg", "severe_weakness",
         "leg_weakness"], "no"), "fever")

    turn = engine.answer(session, "fine")

    text = content.catalog.message_plain(turn.messages[0], "en")
    assert "If you are not sure, tap Not sure." in text
    assert text.endswith("If you might, tap Not sure.")


def test_s2a_hedges_on_other_questions_are_asked_again_and_kept(engine: Engine) -> None:
    session, _ = _at(engine, {**NO_RED_FLAGS, "age": "60"}, "leg_pain")

    first = engine.answer(session, "maybe")
    second = engine.answer(session, "maybe")

    assert "leg_pain" not in session.facts
    assert keys(first) == keys(second) == ["app.hint.yes_no"]
    assert [a["typed"] for a in session.attempts] == ["maybe", "maybe"]


def test_s2a_back_keeps_what_was_typed_with_its_question(engine: Engine) -> None:
    session, _ = _at(engine, {}, "saddle_numbness")
    engine.answer(session, "numb?")
    engine.answer(session, "no")
    assert session.history[-1].unread

    engine.back(session)
    engine.answer(session, "no")

    assert [a["typed"] for a in session.history[-1].unread] == ["numb?"]


def test_s2a_a_new_dialogue_starts_with_nothing_pending(engine: Engine) -> None:
    session, _ = _at(engine, {}, "saddle_numbness")
    engine.answer(session, "not really")

    engine.restart(session)
    turn = engine.answer(session, "not really")

    assert keys(turn)[0] == "reading.confirm.emergency"  # confirmed afresh, not taken as not sure


# --- every option label is also a typed answer ------------------------------------------------


def _labelled_questions(content: Content) -> list[tuple[str, str, str, str]]:
    """Each screening question with buttons, each value, each language, the label's text."""
    engine = content.engines["screening"]
    facts = [state.spec.ask for state in engine.dialogue.states.values()
             if state.spec.ask is not None and state.spec.buttons
             and not content.domains[state.spec.ask].is_integer]
    return [(fact, value, lang, content.catalog.plain(engine.label(fact, value), lang))
            for fact in facts if fact is not None for value in content.domains[fact].values
            for lang in ("en", "zh")]


_ROUTE = {
    "conservative_course": {**NO_RED_FLAGS, "age": "60", "leg_pain": "yes", "pain_score": "6"},
}


def test_s2a_every_option_label_typed_in_its_language_is_that_option(
    content: Content, engine: Engine
) -> None:
    checked = 0
    for fact, value, lang, label in _labelled_questions(content):
        session, turn, _ = play(engine, _answers_to(content, fact), lang)
        assert turn.question is not None
        assert turn.question.fact == fact

        engine.answer(session, label)

        assert session.facts.get(fact) == value, (fact, lang, label)
        checked += 1
    assert checked >= 60


def _answers_to(content: Content, fact: str) -> dict[str, str]:
    """Button answers that lead the screening to ``fact``."""
    route = {**NO_RED_FLAGS, "age": "40", "pregnant": "no", "leg_pain": "yes", "pain_score": "7",
             "conservative_course": "6_weeks_or_more", "conservative_response": "partial",
             "previous_procedure": "none", "imaging": "protrusion", "stenosis": "none",
             "instability": "yes"}
    flags = list(content.ladder.flag_codes)
    if fact in flags:
        return dict.fromkeys(flags[:flags.index(fact)], "no")
    if fact == "huge_herniation":
        return {**route, "instability": "no"}
    keys_before = list(route)[: list(route).index(fact)] if fact in route else list(route)
    return {k: route[k] for k in keys_before}


@pytest.mark.parametrize(("typed", "value"),
                         [("不到6周", "under_6_weeks"), ("6周或更久", "6_weeks_or_more"),
                          ("less than 6 weeks", "under_6_weeks"),
                          ("6 weeks or more", "6_weeks_or_more"),
                          ("試過，不到6週", "under_6_weeks")])
def test_s2a_the_distinct_part_of_a_label_is_taken_in_either_language(
    engine: Engine, typed: str, value: str
) -> None:
    session, _ = _at(engine, _ROUTE["conservative_course"], "conservative_course")

    engine.answer(session, typed)

    assert session.facts["conservative_course"] == value


@pytest.mark.parametrize("typed", ["试过", "Yes", "weeks"])
def test_s2a_a_part_two_labels_share_is_asked_again(engine: Engine, typed: str) -> None:
    session, _ = _at(engine, _ROUTE["conservative_course"], "conservative_course")

    turn = engine.answer(session, typed)

    assert "conservative_course" not in session.facts
    assert keys(turn) == ["app.hint.choice"]


@pytest.mark.parametrize(("line", "label"),
                         [('    none: "Not tried yet"', "No"), ('  "no": "No"', "Not sure"),
                          ('  does_not_apply: "Does not apply"', "Yes")])
def test_check_refuses_a_label_another_section_of_answers_would_read(
    tmp_path: Path, content: Content, line: str, label: str
) -> None:
    directory = tmp_path / "d"
    shutil.copytree(content.directory, directory)
    path = directory / "texts" / "en.yaml"
    text = path.read_text(encoding="utf-8")
    assert line in text
    path.write_text(text.replace(line, line.split(": ", maxsplit=1)[0] + f': "{label}"', 1),
                    encoding="utf-8")

    problems = [p.message for p in check_content(directory)]

    assert any(f"label '{label}'" in message and "answers.yaml" in message
               for message in problems), problems


# --- questions with more answers than yes and no (spec §1: pregnant, adherence) ---------------

@pytest.mark.parametrize(("typed", "recorded"),
                         [("yes", "yes"), ("yes?", None), ("是……", None), ("no?", None),
                          ("maybe", "not_sure"), ("could be", "not_sure"), ("no", "no"),
                          ("不确定", "not_sure"),
                          ("Not sure.", "not_sure"), ("no 😢", None), ("ok", None)])
def test_s2a_on_pregnancy_a_doubtful_yes_or_no_is_asked_again_and_a_hedge_is_not_sure(
    content: Content, typed: str, recorded: str | None
) -> None:
    engine = content.engines["screening"]
    session, turn, _ = play(engine, {**NO_RED_FLAGS, "age": "30"})
    assert turn.question is not None
    assert turn.question.fact == "pregnant"

    engine.answer(session, typed)

    assert session.facts.get("pregnant") == recorded


@pytest.mark.parametrize(("typed", "recorded"),
                         [("Partly", "partly"), ("partly", "partly"), ("部分坚持", "partly"),
                          ("yes", "yes"), ("没有", "no"), ("sometimes", None)])
def test_s2a_a_value_beyond_yes_and_no_is_taken_by_its_label(
    content: Content, typed: str, recorded: str | None
) -> None:
    followup = content.engines["followup"]
    session, turn = followup.start("en", {"pain_score": 6})
    answers = {**NO_RED_FLAGS, "pain_today": "5"}
    while turn.question is not None and turn.question.fact in answers:
        turn = followup.answer(session, answers[turn.question.fact], seq=turn.question.seq)
    assert turn.question is not None
    assert turn.question.fact == "adherence"

    followup.answer(session, typed)

    assert session.facts.get("adherence") == recorded


def test_s2a_back_keeps_what_was_typed_to_the_question_left(engine: Engine) -> None:
    session, _ = _at(engine, {"saddle_numbness": "no"}, "bladder_bowel")
    engine.answer(session, "I can't pee")

    engine.back(session)
    turn = engine.answer(session, "no", seq=session.seq)
    turn = engine.answer(session, "no")
    turn = _rest_no(engine, session, turn)

    rec = recommendation(turn)
    assert rec is not None
    assert rec["alerts"] == ["unclear_red_flag"]


def test_s2a_a_flood_of_unread_answers_keeps_the_newest_in_the_session(engine: Engine) -> None:
    session, _ = _at(engine, {}, "saddle_numbness")

    turns = [engine.answer(session, f"what {n}") for n in range(120)]

    assert all(t.effects[0].kind == UNREAD_ANSWER for t in turns)  # each one recorded
    assert len(session.attempts) == 50
    assert session.attempts[-1]["typed"] == "what 119"
    long = engine.answer(session, "no" + "?" * 300)  # a doubtful no, quoted cut short
    assert long.messages[0].parts[0].values["typed"].endswith("…")


def test_s5_s2a_at_a_checkin_a_red_flag_no_after_unread_answers_carries_the_alert(
    content: Content,
) -> None:
    followup = content.engines["followup"]
    session, turn = followup.start("en", {"pain_score": 6, "checkin_week": 2})
    followup.answer(session, "no…")  # a doubtful no: confirmed
    turn = followup.answer(session, "No")
    answers = {**NO_RED_FLAGS, "pain_today": "5", "adherence": "yes"}
    while turn.question is not None and turn.question.fact in answers:
        turn = followup.answer(session, answers[turn.question.fact], seq=turn.question.seq)

    assert turn.finished
    checkin = next(e for e in turn.effects if e.kind == "checkin")
    assert "unclear_red_flag" in checkin.data["alerts"]
    note = next(e for e in turn.effects if e.kind == "notify_clinic")
    assert note.data["unclear"] == [{"fact": "saddle_numbness", "typed": ["no…"]}]
    assert "alert.unclear_red_flag" in keys(turn)
