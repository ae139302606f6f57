"""Typed answers (spec §2a): whole answers only, hedges as not sure, never a guess towards no."""
# ruff: noqa: RUF001  # full-width letters and Chinese punctuation are what patients type

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from screening_play import NO_RED_FLAGS, STEP_UP_DUE, advance, keys, play, recommendation

from bot.content import Content
from bot.dialogue.answers import Vocabulary, load_vocabulary, normalise
from bot.dialogue.engine import Engine
from bot.dialogue.session import Session
from bot.dialogue.turn import Text, Turn
from bot.dialogue.yamlio import YamlError

_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def vocabulary(content: Content) -> Vocabulary:
    return content.vocabulary


# --- the table of typed answers (spec §2a) ---------------------------------------------------

TABLE = Path(__file__).parent / "data" / "typed_answers.yaml"
# Where each section of the table is typed: the answers that lead to that question.
_QUESTION = {
    "red_flag": ("saddle_numbness", {}),
    "yes_no": ("leg_pain", {**NO_RED_FLAGS, "age": "60"}),
    "pregnant": ("pregnant", {**NO_RED_FLAGS, "age": "30"}),
    "pain": ("pain_score", {**NO_RED_FLAGS, "age": "60", "leg_pain": "yes"}),
    "age": ("age", NO_RED_FLAGS),
    "course": ("conservative_course", {**NO_RED_FLAGS, "age": "60", "leg_pain": "yes",
                                       "pain_score": "6"}),
}
def _word(value: object) -> object:
    """YAML reads a bare yes or no as a boolean: the table means the word."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _rows() -> list[tuple[str, str, object]]:
    table = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    return [(section, str(_word(typed)), _word(expect))
            for section, rows in table.items() for typed, expect in rows]


ROWS = _rows()


def test_s2a_the_table_covers_both_languages_both_directions_and_the_unsafe_one() -> None:
    red_flag = [(typed, expect) for section, typed, expect in ROWS if section == "red_flag"]
    assert len(ROWS) >= 150
    assert {"yes", "no", "not_sure", "again", "confirm"} <= {expect for _, expect in red_flag}
    assert any(_CJK.search(typed) for typed, _ in red_flag)
    # The unsafe direction: every red-flag answer that does not plainly say no.
    assert sum(expect != "no" for _, expect in red_flag) >= 100


@pytest.mark.parametrize(("section", "typed", "expect"), ROWS)
def test_s2a_a_typed_answer_is_recorded_or_asked_again_as_the_table_says(
    engine: Engine, section: str, typed: str, expect: object
) -> None:
    fact, answers = _QUESTION[section]
    session = _at(engine, answers, fact)
    before, asked = dict(session.facts), engine.question(session)
    assert asked is not None

    turn = engine.answer(session, typed)

    if expect in {"again", "confirm"}:
        assert session.facts == before
        assert turn.question is not None
        assert turn.question.fact == fact
        assert turn.question.options == asked.options  # asked again with its buttons
        assert turn.answered is None
        # Kept as typed, with its question, whether it was unread or a hedge.
        assert session.attempts[-1]["typed"] == typed
        confirming = [p for p in keys(turn) if p.startswith("reading.confirm.")]
        assert confirming == (["reading.confirm.emergency"] if expect == "confirm" else [])
    if expect == "confirm":
        assert turn.messages[0].parts[0].values == {"typed": typed}  # quoting the patient
        engine.answer(session, typed)  # the same doubt again: not sure, which counts as yes
        assert session.facts[fact] == "not_sure"
        assert session.history[-1].unread == [{"typed": typed, "reading": "hedge"}]
    elif expect != "again":
        assert session.facts[fact] == expect
        assert session.history[-1].typed == typed  # kept exactly as typed, for the record


# Continuations a patient may add to a word that alone would mean no.
_MORE = [
    " feeling down there", ", both legs now", " control", " sensation", " way to pee", ", wait",
    "... actually yes", ", it's numb", " i can't", " more than before", ", but it tingles",
    " 😟 it hurts", "t any more", " feeling at all", "ne of it works", " longer", "w it's both",
    "感觉", "知觉", "法控制", "办法", "有感觉了", "控制", "力气", "不能", "了", "好", "是很",
]


def test_s2a_a_no_word_followed_by_anything_more_is_never_recorded_as_no(
    engine: Engine, vocabulary: Vocabulary
) -> None:
    no_words = [w for words in vocabulary.phrases["no"].values() for w in words]
    checked = 0
    for word in no_words:
        for more in _MORE:
            typed = f"{word}{more}"
            if vocabulary.says("no", typed):
                continue  # the longer text is itself a plain no ("no" + "ne" = "none")
            session = _at(engine, {}, "saddle_numbness")
            engine.answer(session, typed)
            assert session.facts.get("saddle_numbness") != "no", typed
            checked += 1
    assert checked > 1000


def test_s2a_there_is_no_default_however_often_the_answer_is_unclear(engine: Engine) -> None:
    session = _at(engine, {}, "saddle_numbness")

    for _ in range(12):
        turn = engine.answer(session, "no feeling down there")
        assert "saddle_numbness" not in session.facts
        assert turn.question is not None
        assert turn.question.fact == "saddle_numbness"
        assert [o.value for o in turn.question.options] == ["yes", "no", "not_sure"]
        # Each time: the buttons, "if you are not sure, tap Not sure", and go now if it might be.
        assert keys(turn) == ["app.hint.red_flag", "reading.reask.emergency"]
    assert len(session.attempts) == 12  # every one kept, as typed


def test_s2a_the_same_reading_holds_at_checkins(content: Content) -> None:
    followup = content.engines["followup"]
    session, turn = followup.start("zh", {"pain_score": 6})
    assert turn.question is not None
    assert turn.question.fact == "saddle_numbness"

    followup.answer(session, "没感觉了")
    assert "saddle_numbness" not in session.facts
    turn = followup.answer(session, "沒有？")  # a doubtful no, in traditional characters
    assert "saddle_numbness" not in session.facts
    assert keys(turn) == ["reading.confirm.emergency", "reading.reask.emergency"]
    followup.answer(session, "不太确定")
    assert session.facts["saddle_numbness"] == "not_sure"
    assert [a["typed"] for a in session.history[-1].unread] == ["没感觉了", "沒有？"]


def test_a_phrase_in_two_sections_is_refused(tmp_path: Path, content: Content) -> None:
    shutil.copytree(content.directory, tmp_path / "d")
    path = tmp_path / "d" / "answers.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("[否,", "[可能, 否,"),
                    encoding="utf-8")

    with pytest.raises(YamlError, match="'可能' is listed under both"):
        load_vocabulary(tmp_path / "d")


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
    "typed",
    ["", "many", "5 or 6", "between 40 and 50", "fifty-ish", "五十多", "六七", "-3", "− 3", "3.5"],
)
def test_text_that_is_not_one_number_is_refused(vocabulary: Vocabulary, typed: str) -> None:
    assert vocabulary.number(typed) is None


def test_normalise_folds_case_width_and_punctuation() -> None:
    assert normalise("  Ｙｅｓ！ ") == "yes"
    assert normalise("“No.”") == "no"
    assert normalise("没有。") == "没有"
    assert normalise("No, I don’t!") == "no i don't"


# --- typed answers through the engine ---------------------------------------------------------


def _at(engine: Engine, answers: dict[str, str], fact: str, language: str = "en") -> Session:
    session, turn, _ = play(engine, answers, language)
    assert turn.question is not None
    assert turn.question.fact == fact
    return session


def test_age_seventeen_in_words_is_out_of_scope(engine: Engine) -> None:
    session = _at(engine, NO_RED_FLAGS, "age")

    turn = engine.answer(session, "seventeen")

    rec = recommendation(turn)
    assert rec is not None
    assert rec["disposition"] == "out_of_scope"


_AT_COURSE = {**NO_RED_FLAGS, "age": "60", "leg_pain": "yes", "pain_score": "6"}
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
        (_AT_IMAGING, "imaging", "protrusion!", "protrusion"),
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


@pytest.mark.parametrize("typed", ["0", "7", "bulge", "yes", "maybe", "bulging disc, I think"])
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
def test_s1_not_sure_on_a_report_detail_is_kept_on_it_and_leads_to_specialist_review(
    engine: Engine, fact: str, how: str
) -> None:
    session, turn = _report_question(engine, fact)
    assert turn.question is not None
    raw = {"button": "not_sure", "typed_en": "I don't know", "typed_zh": "不确定"}[how]

    turn = engine.answer(session, raw, seq=turn.question.seq if how == "button" else None)

    assert turn.finished
    assert session.facts[fact] == "not_sure"
    # The patient's own reading of the scan stands: no "result unknown", no new MRI asked for.
    assert session.facts["imaging"] == "protrusion"
    rec = recommendation(turn)
    assert rec is not None
    assert rec["disposition"] == "routine"
    assert rec["step"] == "specialist_review"
    assert rec["options"] == []
    why = next(e.data["why"] for e in turn.effects if e.kind == "recommendation")
    assert why[-1] == "report_details_unknown"


@pytest.mark.parametrize("fact", ["instability", "huge_herniation", "adjacent_degeneration"])
@pytest.mark.parametrize(("typed", "recorded"),
                         [("maybe", "not_sure"), ("可能", "not_sure"), ("yes?", None)])
def test_s2a_a_hedge_on_a_report_detail_of_yes_and_no_is_its_not_sure(
    engine: Engine, fact: str, typed: str, recorded: str | None
) -> None:
    session, _ = _report_question(engine, fact)

    engine.answer(session, typed)

    assert session.facts.get(fact) == recorded
    assert session.facts["imaging"] == "protrusion"


def test_s1_not_sure_on_stenosis_by_position_after_the_choices(engine: Engine) -> None:
    session, _ = _report_question(engine, "stenosis")

    turn = engine.answer(session, "4")

    assert session.facts["stenosis"] == "not_sure"
    assert session.facts["imaging"] == "protrusion"
    rec = recommendation(turn)
    assert rec is not None
    assert rec["step"] == "specialist_review"


def test_s1_back_after_not_sure_on_a_detail_asks_it_again_with_the_scan_kept(
    engine: Engine,
) -> None:
    session, turn, _ = play(engine, {**STEP_UP_DUE, "imaging": "extrusion"})
    assert turn.question is not None
    engine.answer(session, "not_sure", seq=turn.question.seq)

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


def test_an_extra_button_value_is_not_taken_when_typed(engine: Engine) -> None:
    session = _at(engine, {**NO_RED_FLAGS, "age": "30"}, "pregnant")

    turn = engine.answer(session, "+0")

    assert "pregnant" not in session.facts
    assert turn.question is not None
    assert turn.question.fact == "pregnant"
