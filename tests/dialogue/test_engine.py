"""The screening engine against clinical spec §1 and §2 and the house rules for bad input."""

from __future__ import annotations

import json

import pytest
from screening_play import (
    NO_RED_FLAGS,
    RED_FLAGS_EMERGENCY,
    RED_FLAGS_URGENT,
    STEP_UP_DUE,
    advance,
    keys,
    play,
    recommendation,
)

from bot.dialogue.engine import Engine
from bot.dialogue.session import Session
from bot.dialogue.turn import Text

IMAGING_FACTS = {"imaging", "stenosis", "instability", "huge_herniation", "adjacent_degeneration"}


def _before(flag: str) -> dict[str, str]:
    """Answers of 'no' to every red flag asked before ``flag``."""
    order = [*RED_FLAGS_EMERGENCY, *RED_FLAGS_URGENT]
    return dict.fromkeys(order[: order.index(flag)], "no")


# --- dispositions ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag", RED_FLAGS_EMERGENCY)
def test_an_emergency_answer_ends_the_screening_at_once(engine: Engine, flag: str) -> None:
    session, turn, asked = play(engine, {**_before(flag), flag: "yes"})

    assert asked[-1] == flag
    assert turn.question is None
    assert turn.finished
    assert recommendation(turn) == {
        "disposition": "emergency", "step": None, "options": [], "excluded": [],
        "next": None, "followup_weeks": [], "alerts": [],
    }
    notify = [e for e in turn.effects if e.kind == "notify_clinic"]
    assert len(notify) == 1
    assert notify[0].data["disposition"] == "emergency"
    assert notify[0].data["flags"] == [flag]
    assert "rec.emergency" in keys(turn)
    # The remaining red-flag questions were never asked.
    assert not set(RED_FLAGS_URGENT) & set(session.facts)


@pytest.mark.parametrize("flag", RED_FLAGS_URGENT)
def test_an_urgent_answer_ends_the_screening_at_once(engine: Engine, flag: str) -> None:
    session, turn, asked = play(engine, {**_before(flag), flag: "yes"})

    assert asked[-1] == flag
    assert turn.question is None
    rec = recommendation(turn)
    assert rec is not None
    assert rec["disposition"] == "urgent"
    assert rec["step"] is None
    notify = [e for e in turn.effects if e.kind == "notify_clinic"]
    assert [e.data["disposition"] for e in notify] == ["urgent"]
    assert notify[0].data["flags"] == [flag]
    assert "rec.urgent" in keys(turn)
    assert "age" not in session.facts


def test_age_17_is_out_of_scope_without_notifying_the_clinic(engine: Engine) -> None:
    _, turn, asked = play(engine, {**NO_RED_FLAGS, "age": "17"})

    assert asked[-1] == "age"
    assert turn.question is None
    rec = recommendation(turn)
    assert rec is not None
    assert rec["disposition"] == "out_of_scope"
    assert rec["step"] is None
    assert not [e for e in turn.effects if e.kind == "notify_clinic"]
    assert "rec.out_of_scope" in keys(turn)


def test_age_18_goes_on_to_the_ladder_questions(engine: Engine) -> None:
    _, turn, _ = play(engine, {**NO_RED_FLAGS, "age": "18"})

    assert turn.question is not None
    assert turn.question.fact == "pregnant"
    assert recommendation(turn) is None


@pytest.mark.parametrize(("age", "asked"), [("18", True), ("55", True), ("56", False)])
def test_s1_pregnancy_is_asked_of_routine_patients_aged_18_to_55(
    engine: Engine, age: str, *, asked: bool
) -> None:
    _, turn, _ = play(engine, {**NO_RED_FLAGS, "age": age})

    assert turn.question is not None
    assert (turn.question.fact == "pregnant") is asked
    assert turn.question.fact in {"pregnant", "leg_pain"}


@pytest.mark.parametrize("typed", ["does_not_apply", "does not apply", "N/A", "不适用", "male"])
def test_s1_pregnancy_does_not_apply_is_kept_apart_from_no(engine: Engine, typed: str) -> None:
    session, turn, _ = play(engine, {**NO_RED_FLAGS, "age": "40"})
    assert turn.question is not None
    assert [o.value for o in turn.question.options] == ["yes", "no", "not_sure",
                                                         "does_not_apply"]

    seq = turn.question.seq if typed == "does_not_apply" else None
    turn = engine.answer(session, typed, seq=seq)

    assert session.facts["pregnant"] == "does_not_apply"
    assert turn.question is not None
    assert turn.question.fact == "leg_pain"


@pytest.mark.parametrize("typed", ["not_sure", "not sure", "不确定", "maybe"])
def test_s1_pregnancy_not_sure_counts_as_yes(engine: Engine, typed: str) -> None:
    before = {fact: value for fact, value in STEP_UP_DUE.items() if fact != "pregnant"}
    session, turn, _ = play(engine, before)
    assert turn.question is not None
    assert turn.question.fact == "pregnant"
    # Typed, not pressed: the button sends not_sure, the words go through spec §2a.
    turn, _ = advance(engine, session, engine.answer(session, typed), STEP_UP_DUE)

    assert session.facts["pregnant"] == "not_sure"
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "specialist_review"
    assert rec["alerts"] == ["pregnancy"]


def test_red_flags_are_asked_first_in_order(engine: Engine) -> None:
    _, _, asked = play(engine, {**STEP_UP_DUE, "imaging": "none"})

    # Spec §2: the emergency questions first, then the urgent ones.
    assert asked[:11] == [*RED_FLAGS_EMERGENCY, *RED_FLAGS_URGENT]
    assert RED_FLAGS_EMERGENCY == ("saddle_numbness", "bladder_bowel", "bilateral_leg",
                                   "severe_weakness")


@pytest.mark.parametrize("flag", [*RED_FLAGS_EMERGENCY, *RED_FLAGS_URGENT])
def test_s2_not_sure_on_a_red_flag_counts_as_yes_and_ends_the_screening(
    engine: Engine, flag: str
) -> None:
    session, turn, asked = play(engine, {**_before(flag), flag: "not_sure"})

    assert asked[-1] == flag
    assert session.facts[flag] == "not_sure"
    assert turn.finished
    rec = recommendation(turn)
    assert rec is not None
    expected = "emergency" if flag in RED_FLAGS_EMERGENCY else "urgent"
    assert rec["disposition"] == expected
    assert rec["alerts"] == ["not_sure"]
    notify = next(e for e in turn.effects if e.kind == "notify_clinic")
    assert notify.data["alerts"] == ["not_sure"]
    # The patient is told they were not sure, and why it is treated as yes.
    reported = next(p for m in turn.messages for p in m.parts if p.key == f"rec.{expected}")
    assert reported.values["reported"].key == "rec.reported.unsure"


@pytest.mark.parametrize("flag", [*RED_FLAGS_EMERGENCY, *RED_FLAGS_URGENT])
def test_s2_every_red_flag_question_has_yes_no_and_not_sure_buttons(
    engine: Engine, flag: str
) -> None:
    _, turn, _ = play(engine, _before(flag))
    assert turn.question is not None
    assert turn.question.fact == flag

    assert [o.value for o in turn.question.options] == ["yes", "no", "not_sure"]
    assert [o.label.key for o in turn.question.options] == ["opt.yes", "opt.no", "opt.not_sure"]


# --- only the questions that can change the outcome ----------------------------------------


@pytest.mark.parametrize("flag", [*RED_FLAGS_EMERGENCY, *RED_FLAGS_URGENT])
def test_imaging_is_not_asked_of_a_red_flag_patient(engine: Engine, flag: str) -> None:
    # Everything answered, so only the dialogue's own routing can skip the imaging questions.
    answers = {**STEP_UP_DUE, "imaging": "protrusion", "stenosis": "none",
               "instability": "no", "huge_herniation": "no", flag: "yes"}
    _, turn, asked = play(engine, answers)

    assert turn.finished
    assert not IMAGING_FACTS & set(asked)


@pytest.mark.parametrize(
    ("course", "response_asked"), [("none", False), ("under_6_weeks", False)]
)
def test_imaging_is_not_asked_without_a_full_conservative_course(
    engine: Engine, course: str, *, response_asked: bool
) -> None:
    answers = {**STEP_UP_DUE, "conservative_course": course, "imaging": "protrusion"}
    _, turn, asked = play(engine, answers)

    assert turn.finished
    assert not IMAGING_FACTS & set(asked)
    assert ("conservative_response" in asked) is response_asked
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "conservative"


def test_imaging_is_asked_once_stepping_up_is_due(engine: Engine) -> None:
    _, turn, asked = play(engine, STEP_UP_DUE)

    assert asked[-2:] == ["conservative_response", "previous_procedure"]
    assert turn.question is not None
    assert turn.question.fact == "imaging"


def test_s3_an_earlier_procedure_is_asked_only_when_stepping_up_is_due(engine: Engine) -> None:
    _, turn, asked = play(engine, {**STEP_UP_DUE, "conservative_course": "under_6_weeks"})

    assert "previous_procedure" not in asked
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "conservative"


@pytest.mark.parametrize("pain", ["0", "3"])
def test_s3_mild_pain_stays_conservative_without_more_questions(engine: Engine, pain: str) -> None:
    _, turn, asked = play(engine, {**STEP_UP_DUE, "pain_score": pain})

    assert asked[-1] == "pain_score"
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "conservative"


def test_s3_pregnancy_when_stepping_up_is_due_means_specialist_review(engine: Engine) -> None:
    _, turn, asked = play(engine, {**STEP_UP_DUE, "pregnant": "yes"})

    assert not IMAGING_FACTS & set(asked)
    assert "previous_procedure" not in asked
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "specialist_review"
    assert rec["alerts"] == ["pregnancy"]


def test_a_good_response_stays_conservative_without_imaging(engine: Engine) -> None:
    _, turn, asked = play(engine, {**STEP_UP_DUE, "conservative_response": "good"})

    assert not IMAGING_FACTS & set(asked)
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "conservative"
    assert rec["followup_weeks"] == [2, 6, 12]
    assert any(e.kind == "offer_checkins" for e in turn.effects)


def test_back_pain_alone_is_not_asked_about_treatment_history(engine: Engine) -> None:
    _, turn, asked = play(engine, {**STEP_UP_DUE, "leg_pain": "no"})

    assert asked[-2:] == ["leg_pain", "pain_score"]
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "conservative"


# --- /back and /restart -----------------------------------------------------------------------


def test_back_returns_one_question_and_forgets_its_answer(engine: Engine) -> None:
    session, turn, _ = play(engine, {"saddle_numbness": "no", "bladder_bowel": "no"})
    assert turn.question is not None
    assert turn.question.fact == "bilateral_leg"

    turn = engine.back(session)

    assert keys(turn)[0] == "app.back_done"
    assert turn.question is not None
    assert turn.question.fact == "bladder_bowel"
    assert session.facts == {"saddle_numbness": "no"}
    # Answering again goes on from there, with the new answer.
    turn = engine.answer(session, "yes", seq=turn.question.seq)
    assert recommendation(turn) is not None
    assert session.facts["bladder_bowel"] == "yes"


def test_back_at_the_first_question_says_there_is_nothing_to_go_back_to(engine: Engine) -> None:
    session, turn = engine.start("en")
    seq = session.seq

    turn = engine.back(session)

    assert keys(turn) == ["app.back_none"]
    assert turn.question is not None
    assert turn.question.fact == "saddle_numbness"
    assert session.facts == {}
    assert session.seq == seq


def test_back_after_the_result_reopens_the_last_question(engine: Engine) -> None:
    session, turn, _ = play(engine, {**_before("fever"), "fever": "yes"})
    assert turn.finished

    turn = engine.back(session)

    assert turn.question is not None
    assert turn.question.fact == "fever"
    assert "fever" not in session.facts
    assert session.state == "fever"


def test_back_restores_a_value_known_before_the_question(engine: Engine) -> None:
    # A step-up enters the screening with facts already known; /back must not lose them.
    facts = {"saddle_numbness": "no", "imaging": "protrusion", "leg_pain": "yes"}
    session, turn = engine.enter("en", "imaging", facts)
    assert turn.question is not None

    engine.answer(session, "extrusion", seq=turn.question.seq)
    assert session.facts["imaging"] == "extrusion"
    engine.back(session)

    assert session.facts["imaging"] == "protrusion"


def test_restart_clears_the_answers_and_asks_the_first_question(engine: Engine) -> None:
    session, turn, _ = play(engine, {**NO_RED_FLAGS, "age": "40"}, language="zh")
    assert turn.question is not None
    old_seq = turn.question.seq

    turn = engine.restart(session)

    assert keys(turn)[0] == "app.restart"
    assert turn.question is not None
    assert turn.question.fact == "saddle_numbness"
    assert turn.question.seq > old_seq
    assert session.facts == {}
    assert session.history == []
    assert session.language == "zh"


# --- stale buttons and bad input --------------------------------------------------------------


def test_a_stale_button_is_never_applied_and_the_current_question_is_shown(
    engine: Engine,
) -> None:
    session, turn = engine.start("en")
    assert turn.question is not None
    first_seq = turn.question.seq
    turn = engine.answer(session, "no", seq=first_seq)
    assert turn.question is not None
    assert turn.question.fact == "bladder_bowel"

    # The "Yes" button under the first question, pressed late.
    turn = engine.answer(session, "yes", seq=first_seq)

    assert keys(turn)[0] == "app.stale_button"
    assert turn.question is not None
    assert turn.question.fact == "bladder_bowel"
    assert turn.question.seq == session.seq
    assert session.facts == {"saddle_numbness": "no"}
    assert recommendation(turn) is None


def test_a_current_button_is_applied(engine: Engine) -> None:
    session, turn = engine.start("en")
    assert turn.question is not None

    turn = engine.answer(session, "yes", seq=turn.question.seq)

    assert session.facts == {"saddle_numbness": "yes"}
    assert turn.finished


@pytest.mark.parametrize(
    ("answers", "garbage", "hint"),
    [
        ({}, "banana", Text("app.hint.red_flag")),
        ({**NO_RED_FLAGS, "age": "60"}, "banana", Text("app.hint.yes_no")),
        ({**NO_RED_FLAGS}, "old", Text("app.hint.number", {"min": 0, "max": 120})),
        ({**NO_RED_FLAGS}, "130", Text("app.hint.number", {"min": 0, "max": 120})),
        ({**NO_RED_FLAGS, "age": "40"}, "banana", Text("app.hint.pregnant")),
        ({**NO_RED_FLAGS, "age": "40", "pregnant": "no", "leg_pain": "yes"}, "11",
         Text("app.hint.number", {"min": 0, "max": 10})),
        ({**NO_RED_FLAGS, "age": "40", "pregnant": "no", "leg_pain": "yes", "pain_score": "5"},
         "perhaps", Text("app.hint.choice")),
    ],
    ids=["red_flag", "yes_no", "age_words", "age_too_high", "pregnant", "pain_too_high",
         "choice"],
)
def test_garbage_asks_the_same_question_again_with_the_right_hint(
    engine: Engine, answers: dict[str, str], garbage: str, hint: Text
) -> None:
    session, turn, _ = play(engine, answers)
    assert turn.question is not None
    fact, seq, facts = turn.question.fact, turn.question.seq, dict(session.facts)

    again = engine.answer(session, garbage, seq=seq)

    assert again.messages[0].parts[0] == hint
    assert again.question is not None
    assert again.question.fact == fact
    assert again.question.hint == hint
    assert session.facts == facts
    assert again.answered is None


def test_an_answer_after_the_end_shows_the_closing_note(engine: Engine) -> None:
    session, turn, _ = play(engine, {"saddle_numbness": "yes"})
    assert turn.finished

    turn = engine.answer(session, "no")

    assert keys(turn) == ["app.finished"]
    assert turn.question is None
    assert session.facts == {"saddle_numbness": "yes"}


# --- questions as the channel sees them -------------------------------------------------------


def test_yes_no_questions_offer_yes_and_no_buttons(engine: Engine) -> None:
    _, turn, _ = play(engine, {**NO_RED_FLAGS, "age": "60"})
    assert turn.question is not None

    assert [o.value for o in turn.question.options] == ["yes", "no"]
    assert [o.label.key for o in turn.question.options] == ["opt.yes", "opt.no"]
    assert turn.question.text.key == "q.leg_pain"


def test_age_is_typed_and_pain_has_a_button_per_score(engine: Engine) -> None:
    _, turn, _ = play(engine, NO_RED_FLAGS)
    assert turn.question is not None
    assert turn.question.fact == "age"
    assert turn.question.options == ()

    _, turn, _ = play(engine, {**NO_RED_FLAGS, "age": "30", "pregnant": "no", "leg_pain": "yes"})
    assert turn.question is not None
    assert turn.question.fact == "pain_score"
    assert [o.value for o in turn.question.options] == [str(n) for n in range(11)]


def test_report_questions_offer_a_not_sure_button(engine: Engine) -> None:
    _, turn, _ = play(engine, {**STEP_UP_DUE, "imaging": "protrusion"})
    assert turn.question is not None
    assert turn.question.fact == "stenosis"

    values = [o.value for o in turn.question.options]
    assert values == ["none", "lateral", "central", "not_sure"]
    assert turn.question.options[-1].label == Text("opt.stenosis.not_sure")


def test_start_greets_and_states_the_intended_use(engine: Engine) -> None:
    session, turn = engine.start("en")

    assert keys(turn) == ["app.welcome", "app.intended_use"]
    assert session.state == "saddle_numbness"
    assert turn.question is not None
    assert turn.question.seq == session.seq


# --- the session record ---------------------------------------------------------------------


def test_session_json_round_trip_keeps_everything(engine: Engine) -> None:
    answers = {**STEP_UP_DUE, "imaging": "protrusion", "stenosis": "not_sure"}
    session, turn, _ = play(engine, answers, language="zh")
    assert turn.finished
    engine.back(session)  # history entry with 'before', plus a raised seq
    assert session.state == "stenosis"

    data = json.loads(json.dumps(session.to_json(), ensure_ascii=False))
    restored = Session.from_json(data)

    assert restored == session
    assert restored.to_json() == session.to_json()
    # The restored record steps exactly like the original.
    a = engine.answer(session, "lateral", seq=session.seq)
    b = engine.answer(restored, "lateral", seq=restored.seq)
    assert a == b
    assert restored == session


@pytest.mark.parametrize("fact", ["stenosis", "instability", "huge_herniation"])
def test_s1_a_report_detail_asked_again_gets_its_own_hint_not_the_red_flag_one(
    engine: Engine, fact: str
) -> None:
    before = {"stenosis": {}, "instability": {"stenosis": "none"},
              "huge_herniation": {"stenosis": "none", "instability": "no"}}[fact]
    session, turn, _ = play(engine, {**STEP_UP_DUE, "imaging": "protrusion", **before})
    assert turn.question is not None
    assert turn.question.fact == fact

    turn = engine.answer(session, "banana")

    assert turn.question is not None
    assert turn.question.fact == fact
    assert turn.question.hint == Text(f"app.hint.{fact}")


def test_s2_a_screening_begun_before_sudden_weakness_was_asked_is_asked_it_before_age(
    engine: Engine,
) -> None:
    """Hazard log H6: a place stored by the older dialogues skips no emergency question."""
    older = dict.fromkeys(("saddle_numbness", "bladder_bowel", "bilateral_leg"), "no")
    session, turn = engine.enter("en", "leg_weakness", older)
    assert turn.question is not None

    turn, asked = advance(engine, session, turn, {**NO_RED_FLAGS, "age": "40"})

    assert asked[-3:] == ["other_warning_signs", "severe_weakness", "age"]
    assert session.facts["severe_weakness"] == "no"


def test_s2_sudden_weakness_asked_late_is_still_an_emergency(engine: Engine) -> None:
    older = dict.fromkeys(("saddle_numbness", "bladder_bowel", "bilateral_leg"), "no")
    session, turn = engine.enter("en", "leg_weakness", older)
    answers = {**NO_RED_FLAGS, "severe_weakness": "yes"}

    turn, _ = advance(engine, session, turn, answers)

    rec = recommendation(turn)
    assert rec is not None
    assert rec["disposition"] == "emergency"


def test_s2_sudden_weakness_is_asked_once_in_a_screening_of_today(engine: Engine) -> None:
    _, _, asked = play(engine, {**STEP_UP_DUE, "imaging": "none"})

    assert asked.count("severe_weakness") == 1
