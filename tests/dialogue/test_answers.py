"""Typed answers: yes/no synonyms, numbers in words, choices by label or position, "not sure"."""
# ruff: noqa: RUF001  # full-width letters and Chinese punctuation are what patients type

from __future__ import annotations

import pytest
from screening_play import NO_RED_FLAGS, STEP_UP_DUE, advance, keys, play, recommendation

from bot.content import Content
from bot.dialogue.answers import Vocabulary, normalise
from bot.dialogue.engine import Engine
from bot.dialogue.session import Session
from bot.dialogue.turn import Text, Turn


@pytest.fixture(scope="module")
def vocabulary(content: Content) -> Vocabulary:
    return content.vocabulary


# --- the vocabulary -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meaning"),
    [
        ("yes", "yes"),
        ("Yes.", "yes"),
        ("YES!", "yes"),
        ("Ｙｅｓ", "yes"),  # full-width, as a Chinese keyboard may send it
        ("yeah", "yes"),
        ("yep, I do", "yes"),
        ("y", "yes"),
        ("i have", "yes"),
        ("是", "yes"),
        ("是的", "yes"),
        ("有的。", "yes"),
        ("对", "yes"),
        ("no", "no"),
        ("No.", "no"),
        ("nope", "no"),
        ("nah", "no"),
        ("n", "no"),
        ("not really", "no"),
        ("never", "no"),
        ("否", "no"),
        ("不", "no"),
        ("不是", "no"),
        ("没有", "no"),
        ("没有。", "no"),
        ("不对", "no"),
    ],
)
def test_yes_and_no_are_understood_in_both_languages(
    vocabulary: Vocabulary, typed: str, meaning: str
) -> None:
    assert vocabulary.yes_no(typed) == meaning


@pytest.mark.parametrize(
    "typed",
    [
        "no idea",  # starts with "no" but means "I don't know"
        "No idea!",
        "I have no idea",
        "not sure",
        "don't know",
        "I don't know",
        "maybe",
        "idk",
        "不知道",
        "不确定",
        "不清楚",
        "可能",
        "yesterday",  # starts with "yes" but is not a word "yes"
        "nobody told me",
        "banana",
        "",
    ],
)
def test_doubt_and_other_words_are_neither_yes_nor_no(vocabulary: Vocabulary, typed: str) -> None:
    assert vocabulary.yes_no(typed) is None


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("55", 55),
        (" 7 ", 7),
        ("55 years", 55),
        ("I am 40", 40),
        ("55岁", 55),
        ("seven", 7),
        ("Seventeen", 17),
        ("fifty-five", 55),
        ("fifty five", 55),
        ("one hundred and five", 105),
        ("hundred", 100),
        ("zero", 0),
        ("五", 5),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("五十五", 55),
        ("五十五岁", 55),
        ("一百零五", 105),
        ("一百二十", 120),
        ("两", 2),
    ],
)
def test_numbers_in_digits_and_in_words(vocabulary: Vocabulary, typed: str, number: int) -> None:
    assert vocabulary.number(typed) == number


@pytest.mark.parametrize(
    "typed", ["", "many", "5 or 6", "between 40 and 50", "fifty-ish", "五十多"]
)
def test_text_that_is_not_one_number_is_refused(vocabulary: Vocabulary, typed: str) -> None:
    assert vocabulary.number(typed) is None


def test_normalise_folds_case_width_and_surrounding_punctuation() -> None:
    assert normalise("  Ｙｅｓ！ ") == "yes"
    assert normalise("“No.”") == "no"
    assert normalise("没有。") == "没有"


# --- typed answers through the engine ---------------------------------------------------------


def _at(engine: Engine, answers: dict[str, str], fact: str, language: str = "en") -> Session:
    session, turn, _ = play(engine, answers, language)
    assert turn.question is not None
    assert turn.question.fact == fact
    return session


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("yeah", "yes"), ("是的", "yes"), ("nope", "no"), ("没有", "no"), ("No.", "no")],
)
def test_a_typed_synonym_answers_a_yes_no_question(
    engine: Engine, typed: str, stored: str
) -> None:
    session = _at(engine, {}, "saddle_numbness")

    turn = engine.answer(session, typed)

    assert session.facts == {"saddle_numbness": stored}
    assert turn.answered == Text(f"opt.{stored}")


@pytest.mark.parametrize("typed", ["no idea", "No idea.", "不知道", "not sure"])
def test_doubt_on_a_red_flag_question_asks_it_again(engine: Engine, typed: str) -> None:
    session = _at(engine, {}, "saddle_numbness")

    turn = engine.answer(session, typed)

    assert "saddle_numbness" not in session.facts
    assert keys(turn) == ["app.hint.yes_no"]
    assert turn.question is not None
    assert turn.question.fact == "saddle_numbness"


@pytest.mark.parametrize(
    ("typed", "age"), [("fifty-five", 55), ("五十五", 55), ("一百零五", 105), ("40 years", 40)]
)
def test_age_typed_in_words_in_either_language(engine: Engine, typed: str, age: int) -> None:
    session = _at(engine, NO_RED_FLAGS, "age")

    turn = engine.answer(session, typed)

    assert session.facts["age"] == age
    assert turn.answered == Text.raw(str(age))
    assert turn.question is not None
    assert turn.question.fact == "leg_pain"


def test_age_seventeen_in_words_is_out_of_scope(engine: Engine) -> None:
    session = _at(engine, NO_RED_FLAGS, "age")

    turn = engine.answer(session, "seventeen")

    rec = recommendation(turn)
    assert rec is not None
    assert rec["disposition"] == "out_of_scope"


@pytest.mark.parametrize("typed", ["-3", "minus", "3-4", "7/10", "3.5"])
def test_a_pain_score_that_is_not_one_whole_number_in_range_asks_again(
    engine: Engine, typed: str
) -> None:
    session = _at(engine, {**NO_RED_FLAGS, "age": "40", "leg_pain": "yes"}, "pain_score")

    turn = engine.answer(session, typed)

    assert "pain_score" not in session.facts
    assert keys(turn) == ["app.hint.number"]
    assert turn.question is not None
    assert turn.question.fact == "pain_score"


@pytest.mark.parametrize(("typed", "score"), [("seven", 7), ("七", 7), ("8", 8), ("十", 10)])
def test_pain_score_typed_in_words(engine: Engine, typed: str, score: int) -> None:
    session = _at(engine, {**NO_RED_FLAGS, "age": "40", "leg_pain": "yes"}, "pain_score")

    engine.answer(session, typed)

    assert session.facts["pain_score"] == score


_AT_COURSE = {**NO_RED_FLAGS, "age": "40", "leg_pain": "yes", "pain_score": "6",
              "previous_procedure": "none"}
_AT_IMAGING = {**STEP_UP_DUE}


@pytest.mark.parametrize(
    ("answers", "fact", "typed", "stored"),
    [
        (_AT_COURSE, "conservative_course", "Yes, 6 weeks or more", "6_weeks_or_more"),
        (_AT_COURSE, "conservative_course", "试过，6周或更久", "6_weeks_or_more"),
        (_AT_COURSE, "conservative_course", "not tried yet", "none"),
        (_AT_COURSE, "conservative_course", "2", "under_6_weeks"),
        (_AT_COURSE, "conservative_course", "under_6_weeks", "under_6_weeks"),
        (_AT_IMAGING, "imaging", "Bulging disc", "bulging"),
        (_AT_IMAGING, "imaging", "椎间盘膨出", "bulging"),
        (_AT_IMAGING, "imaging", "髓核游离（游离型）", "sequestration"),
        (_AT_IMAGING, "imaging", "4", "protrusion"),
        (_AT_IMAGING, "imaging", "6", "sequestration"),
        (_AT_IMAGING, "imaging", "Protrusion", "protrusion"),
        (_AT_IMAGING, "imaging", "herniation (protrusion)", "protrusion"),
    ],
)
def test_a_choice_by_label_text_in_either_language_or_by_position(
    engine: Engine, answers: dict[str, str], fact: str, typed: str, stored: str
) -> None:
    session = _at(engine, answers, fact, language="en")

    turn = engine.answer(session, typed)

    assert session.facts[fact] == stored
    assert turn.answered == Text(f"opt.{fact}.{stored}")


@pytest.mark.parametrize("typed", ["0", "7", "bulge", "yes"])
def test_a_choice_that_matches_nothing_asks_again(engine: Engine, typed: str) -> None:
    session = _at(engine, _AT_IMAGING, "imaging")

    turn = engine.answer(session, typed)

    assert "imaging" not in session.facts
    assert keys(turn) == ["app.hint.choice"]
    assert turn.question is not None
    assert turn.question.fact == "imaging"


# --- "not sure" on the report questions -------------------------------------------------------


# The answers that lead to each report question.
_TO_REPORT_QUESTION = {
    "stenosis": {},
    "instability": {"stenosis": "none"},
    "huge_herniation": {"stenosis": "none", "instability": "no"},
    "adjacent_degeneration": {"stenosis": "none", "instability": "yes"},
}


def _report_question(engine: Engine, fact: str) -> tuple[Session, Turn]:
    answers = {**STEP_UP_DUE, "imaging": "protrusion", **_TO_REPORT_QUESTION[fact]}
    session, turn, _ = play(engine, answers)
    assert turn.question is not None
    assert turn.question.fact == fact
    return session, turn


@pytest.mark.parametrize("fact", list(_TO_REPORT_QUESTION))
@pytest.mark.parametrize("how", ["button", "typed_en", "typed_zh"])
def test_not_sure_on_a_report_question_leads_to_specialist_review(
    engine: Engine, fact: str, how: str
) -> None:
    session, turn = _report_question(engine, fact)
    assert turn.question is not None
    raw = {"button": "+0", "typed_en": "Not sure", "typed_zh": "不确定"}[how]

    turn = engine.answer(session, raw, seq=turn.question.seq if how == "button" else None)

    assert turn.finished
    assert turn.answered == Text("opt.not_sure")
    assert session.facts["imaging"] == "unknown"
    assert fact not in session.facts
    rec = recommendation(turn)
    assert rec is not None
    assert rec["disposition"] == "routine"
    assert rec["step"] == "specialist_review"
    assert rec["options"] == []


def test_not_sure_by_position_after_the_choices(engine: Engine) -> None:
    session, _ = _report_question(engine, "stenosis")

    turn = engine.answer(session, "4")

    assert session.facts["imaging"] == "unknown"
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "specialist_review"


def test_back_after_not_sure_restores_the_imaging_answer(engine: Engine) -> None:
    session, turn, _ = play(engine, {**STEP_UP_DUE, "imaging": "extrusion"})
    assert turn.question is not None
    engine.answer(session, "+0", seq=turn.question.seq)
    assert session.facts["imaging"] == "unknown"

    turn = engine.back(session)

    assert turn.question is not None
    assert turn.question.fact == "stenosis"
    assert session.facts["imaging"] == "extrusion"
    turn, asked = advance(engine, session, turn, {"stenosis": "none", "instability": "no",
                                                  "huge_herniation": "no"})
    assert asked == ["stenosis", "instability", "huge_herniation"]
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "minimally_invasive"
    assert rec["options"] == ["endoscopic_discectomy"]


def test_not_sure_is_not_offered_where_it_does_not_exist(engine: Engine) -> None:
    session = _at(engine, {}, "saddle_numbness")

    turn = engine.answer(session, "+0")

    assert session.facts == {}
    assert turn.question is not None
    assert turn.question.fact == "saddle_numbness"
