"""``ldh-bot simulate`` as a user runs it: a real process, a facts file, JSON on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main

pytestmark = pytest.mark.slow

RED_FLAGS = [
    "saddle_numbness", "bladder_bowel", "bilateral_leg", "severe_weakness",
    "leg_weakness", "fever", "cancer_history", "weight_loss", "major_trauma",
    "immune_risk", "other_warning_signs",
]
OUTPUT_KEYS = {"disposition", "step", "options", "excluded", "next", "followup_weeks", "alerts"}

# A routine adult after 6+ weeks of conservative care that helped partly, with a protrusion.
STEP_UP: dict[str, Any] = {
    **dict.fromkeys(RED_FLAGS, "no"),
    "age": 40,
    "pregnant": "no",
    "leg_pain": "yes",
    "pain_score": 7,
    "previous_procedure": "none",
    "conservative_course": "6_weeks_or_more",
    "conservative_response": "partial",
    "imaging": "protrusion",
    "stenosis": "none",
    "instability": "no",
    "huge_herniation": "no",
}
# The same patient before any conservative care: pain 6 at the start of the course.
FIRST_VISIT: dict[str, Any] = {
    **{k: v for k, v in STEP_UP.items() if k != "conservative_response"},
    "pain_score": 6,
    "conservative_course": "none",
}


def simulate(
    tmp_path: Path, facts: dict[str, Any], *args: str
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "simulate", str(path), *args],
        capture_output=True, text=True, encoding="utf-8", cwd=tmp_path, env=env,
        timeout=60, check=False,
    )


def result_of(tmp_path: Path, facts: dict[str, Any], *args: str) -> dict[str, Any]:
    done = simulate(tmp_path, facts, *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data: dict[str, Any] = json.loads(done.stdout)
    return data


@pytest.fixture(scope="module")
def step_up(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run for the patient every contract test reads."""
    return result_of(tmp_path_factory.mktemp("step_up"), STEP_UP)


def test_the_json_contract(step_up: dict[str, Any]) -> None:
    result = step_up

    assert set(result) == {"recommendation", "asked", "answers", "transcript"}
    assert set(result["recommendation"]) == OUTPUT_KEYS
    assert result["recommendation"] == {
        "disposition": "routine",
        "step": "minimally_invasive",
        "options": ["percutaneous_decompression", "endoscopic_discectomy"],
        "excluded": [],
        "next": "surgical",
        "followup_weeks": [2, 6, 12],
        "alerts": [],
    }
    # In the order asked, red flags first; only what can change the outcome.
    assert result["asked"] == [
        *RED_FLAGS, "age", "pregnant", "leg_pain", "pain_score", "conservative_course",
        "conservative_response", "previous_procedure", "imaging", "stenosis", "instability",
        "huge_herniation",
    ]
    # Every answer in the order asked: pressed as a button here, so nothing was typed.
    assert [a["fact"] for a in result["answers"]] == result["asked"]
    assert all(a["typed"] is None for a in result["answers"])
    assert result["answers"][11] == {"fact": "age", "typed": None, "recorded": 40}


def test_the_transcript_alternates_bot_and_patient(step_up: dict[str, Any]) -> None:
    result = step_up
    transcript = result["transcript"]

    assert all(set(item) == {"bot", "patient"} for item in transcript)
    assert all(isinstance(item["bot"], str) and item["bot"] for item in transcript)
    # One exchange per question asked, then the recommendation with nothing to answer.
    assert len(transcript) == len(result["asked"]) + 1
    assert transcript[0]["bot"].startswith("Hello.")
    assert "saddle" in transcript[0]["bot"]
    assert [item["patient"] for item in transcript[:12]] == ["No"] * 11 + ["40"]
    assert transcript[17]["patient"] == "No earlier procedure"
    assert transcript[18]["patient"] == "Herniation (protrusion)"
    assert transcript[-1]["patient"] is None
    closing = transcript[-1]["bot"]
    assert "Minimally invasive treatment" in closing
    assert "emergency department" in closing
    assert "<b>" not in closing  # plain text, not Telegram markup


def test_the_chinese_transcript_is_in_chinese(tmp_path: Path, step_up: dict[str, Any]) -> None:
    english = step_up
    chinese = result_of(tmp_path, STEP_UP, "--lang", "zh")

    assert chinese["recommendation"] == english["recommendation"]
    assert chinese["asked"] == english["asked"]
    transcript = chinese["transcript"]
    assert transcript[0]["bot"].startswith("您好")
    assert transcript[0]["patient"] == "否"
    assert transcript[18]["patient"] == "椎间盘突出（包含型）"  # noqa: RUF001  # the Chinese label
    assert "微创治疗" in transcript[-1]["bot"]
    assert "Hello" not in json.dumps(transcript, ensure_ascii=False)


def test_an_emergency_stops_the_questions(tmp_path: Path) -> None:
    result = result_of(tmp_path, {**STEP_UP, "bladder_bowel": "yes", "fever": "yes"})

    assert result["asked"] == ["saddle_numbness", "bladder_bowel"]
    assert result["recommendation"] == {
        "disposition": "emergency", "step": None, "options": [], "excluded": [],
        "next": None, "followup_weeks": [], "alerts": [],
    }
    assert "cauda equina" in result["transcript"][-1]["bot"]


def test_no_conservative_course_is_not_asked_about_imaging(tmp_path: Path) -> None:
    result = result_of(tmp_path, FIRST_VISIT)

    assert result["asked"][-1] == "conservative_course"
    assert "imaging" not in result["asked"]
    assert result["recommendation"]["step"] == "conservative"
    assert result["recommendation"]["followup_weeks"] == [2, 6, 12]


def test_checkins_step_up_at_week_6_when_relief_is_partial(tmp_path: Path) -> None:
    result = result_of(tmp_path, FIRST_VISIT, "--checkin", "2:5", "--checkin", "6:5")

    assert set(result) == {"recommendation", "asked", "answers", "transcript", "checkins"}
    assert result["recommendation"]["step"] == "conservative"
    week2, week6 = result["checkins"]
    assert all(set(c) == {"week", "pain_score", "response", "recommendation"}
               for c in (week2, week6))
    # Baseline 6 (the facts' pain_score): 5 fell by 1 point, less than 2 points and 30 %.
    assert (week2["week"], week2["pain_score"], week2["response"]) == (2, 5, "partial")
    assert week2["recommendation"] == result["recommendation"]  # too early to step up
    assert (week6["week"], week6["pain_score"], week6["response"]) == (6, 5, "partial")
    assert week6["recommendation"] == {
        "disposition": "routine",
        "step": "minimally_invasive",
        "options": ["percutaneous_decompression", "endoscopic_discectomy"],
        "excluded": [],
        "next": "surgical",
        "followup_weeks": [2, 6, 12],
        "alerts": [],
    }


def test_a_good_response_stays_conservative(tmp_path: Path) -> None:
    # Baseline 6, today 4: a fall of 2 points and 33 %, which is good.
    result = result_of(tmp_path, FIRST_VISIT, "--checkin", "2:4", "--checkin", "6:4")

    assert [c["response"] for c in result["checkins"]] == ["good", "good"]
    assert all(c["recommendation"]["step"] == "conservative" for c in result["checkins"])


def test_no_relief_at_week_6_steps_up_with_the_reported_findings(tmp_path: Path) -> None:
    facts = {**FIRST_VISIT, "age": 62, "imaging": "extrusion"}
    result = result_of(tmp_path, facts, "--checkin", "6:7")

    (week6,) = result["checkins"]
    assert week6["response"] == "none"
    assert week6["recommendation"]["step"] == "minimally_invasive"
    assert week6["recommendation"]["options"] == ["endoscopic_discectomy"]
    assert week6["recommendation"]["excluded"] == [
        {"method": "percutaneous_decompression",
         "reasons": ["age_over_55", "herniation_broken_through"]},
    ]


def test_s2a_a_typed_answer_is_read_and_kept_as_typed(tmp_path: Path) -> None:
    facts = {**STEP_UP, "saddle_numbness": {"typed": "Nope!"}, "age": {"typed": "forty"},
             "fever": {"typed": ["maybe", "maybe"]}}
    result = result_of(tmp_path, facts)

    assert result["answers"][0] == {"fact": "saddle_numbness", "typed": "Nope!",
                                    "recorded": "no"}
    # A hedge on a red flag is confirmed once; a second hedge is not sure, which counts as
    # yes: urgent, with the alert.
    assert result["answers"][5:7] == [
        {"fact": "fever", "typed": "maybe", "recorded": None},
        {"fact": "fever", "typed": "maybe", "recorded": "not_sure"},
    ]
    assert result["asked"].count("fever") == 1
    assert result["recommendation"]["disposition"] == "urgent"
    assert result["recommendation"]["alerts"] == ["not_sure"]


# The bladder answers of the issue that were once recorded as no.
DOUBTFUL_NO = ["no?", "No...", "nope 🤔", "no 🤷", "没有？", "没有。。。"]  # noqa: RUF001  # as typed


@pytest.mark.parametrize("doubt", DOUBTFUL_NO)
def test_s2a_a_doubtful_no_is_confirmed_then_a_clear_no_carries_unclear_red_flag(
    tmp_path: Path, doubt: str
) -> None:
    result = result_of(tmp_path, {**STEP_UP, "bladder_bowel": {"typed": [doubt, "no"]}})

    assert result["answers"][1:3] == [
        {"fact": "bladder_bowel", "typed": doubt, "recorded": None},
        {"fact": "bladder_bowel", "typed": "no", "recorded": "no"},
    ]
    confirm = result["transcript"][2]["bot"]
    assert f"You wrote “{doubt}”" in confirm
    assert "go to an emergency department now" in confirm
    assert result["recommendation"]["disposition"] == "routine"
    assert result["recommendation"]["alerts"] == ["unclear_red_flag"]


@pytest.mark.parametrize("doubt", DOUBTFUL_NO)
def test_s2a_a_doubtful_no_alone_is_never_recorded_the_run_stops(
    tmp_path: Path, doubt: str
) -> None:
    result = result_of(tmp_path, {**STEP_UP, "bladder_bowel": {"typed": doubt}})

    assert result["answers"][1] == {"fact": "bladder_bowel", "typed": doubt, "recorded": None}
    assert result["stopped"] == {"fact": "bladder_bowel", "typed": doubt}
    assert result["recommendation"] is None


def test_s2a_every_unread_answer_is_listed_and_the_run_stops_when_the_list_runs_out(
    tmp_path: Path,
) -> None:
    typed = ["I can't pee", "ok", "not really"]
    result = result_of(tmp_path, {**STEP_UP, "bladder_bowel": {"typed": typed}})

    assert result["answers"][1:] == [
        {"fact": "bladder_bowel", "typed": text, "recorded": None} for text in typed
    ]
    assert result["stopped"] == {"fact": "bladder_bowel", "typed": "not really"}
    assert result["asked"] == ["saddle_numbness", "bladder_bowel"]
    assert result["transcript"][-1]["patient"] == "not really"


def test_s2a_a_second_hedge_is_not_sure_and_an_emergency(tmp_path: Path) -> None:
    typed = {"typed": ["I can't pee", "not really", "kind of"]}
    result = result_of(tmp_path, {**STEP_UP, "bladder_bowel": typed})

    assert [a["recorded"] for a in result["answers"][1:]] == [None, None, "not_sure"]
    assert result["recommendation"]["disposition"] == "emergency"
    assert result["recommendation"]["alerts"] == ["not_sure"]


def test_s2a_texts_after_the_answer_is_taken_are_not_typed(tmp_path: Path) -> None:
    result = result_of(tmp_path, {**STEP_UP, "fever": {"typed": ["no", "yes"]}})

    assert [a for a in result["answers"] if a["fact"] == "fever"] == [
        {"fact": "fever", "typed": "no", "recorded": "no"}]
    assert result["recommendation"]["disposition"] == "routine"
    assert result["recommendation"]["alerts"] == []


def test_s2a_a_leaning_hedge_is_yes_at_once(tmp_path: Path) -> None:
    result = result_of(tmp_path, {**STEP_UP, "saddle_numbness": {"typed": "有一点"}},
                       "--lang", "zh")

    assert result["answers"] == [{"fact": "saddle_numbness", "typed": "有一点",
                                  "recorded": "yes"}]
    assert result["recommendation"]["disposition"] == "emergency"


@pytest.mark.parametrize("typed", [{"typed": []}, {"typed": ["no", 3]}, {"typed": "no", "x": 1}])
def test_a_malformed_typed_list_exits_2_naming_the_fact(
    tmp_path: Path, typed: dict[str, Any]
) -> None:
    _fails_with(tmp_path, {**STEP_UP, "fever": typed}, "fever", "typed")


@pytest.mark.parametrize(("typed", "lang"), [("no sensation at all down there", "en"),
                                             ("没感觉了", "zh")])
def test_s2a_an_answer_asked_again_stops_the_run_there(
    tmp_path: Path, typed: str, lang: str
) -> None:
    result = result_of(tmp_path, {**STEP_UP, "saddle_numbness": {"typed": typed}}, "--lang", lang)

    assert result["recommendation"] is None
    assert result["answers"] == [{"fact": "saddle_numbness", "typed": typed, "recorded": None}]
    assert result["stopped"] == {"fact": "saddle_numbness", "typed": typed}
    assert result["asked"] == ["saddle_numbness"]


def test_s2a_typed_chinese_is_read_as_chinese(tmp_path: Path) -> None:
    facts = {**STEP_UP, "saddle_numbness": {"typed": ["不太确定", "不確定"]}}
    result = result_of(tmp_path, facts, "--lang", "zh")

    assert result["answers"][0]["recorded"] is None  # a hedge, confirmed first
    assert "您输入的是“不太确定”" in result["transcript"][1]["bot"]
    assert result["answers"][1]["recorded"] == "not_sure"  # traditional characters, read
    assert result["recommendation"]["disposition"] == "emergency"


def test_s2_red_flags_accept_not_sure_as_a_value(tmp_path: Path) -> None:
    result = result_of(tmp_path, {**STEP_UP, "immune_risk": "not_sure"})

    assert result["recommendation"]["disposition"] == "urgent"
    assert result["recommendation"]["alerts"] == ["not_sure"]


def test_s5_each_checkin_carries_its_own_alerts(tmp_path: Path) -> None:
    result = result_of(tmp_path, FIRST_VISIT, "--checkin", "2:8", "--checkin", "6:4")

    week2, week6 = result["checkins"]
    assert week2["recommendation"]["alerts"] == ["pain_worse"]
    assert week2["recommendation"]["step"] == "conservative"
    assert week6["recommendation"]["alerts"] == []
    assert result["recommendation"]["alerts"] == []


def test_a_malformed_typed_answer_exits_2(tmp_path: Path) -> None:
    _fails_with(tmp_path, {**STEP_UP, "fever": {"typed": 3}}, "fever", "typed")


def _fails_with(tmp_path: Path, facts: dict[str, Any], *needles: str) -> str:
    done = simulate(tmp_path, facts)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def test_a_question_whose_fact_is_missing_exits_2_naming_it(tmp_path: Path) -> None:
    facts = dict(STEP_UP)
    del facts["pain_score"]

    _fails_with(tmp_path, facts, "'pain_score'", "no value")


def test_a_missing_fact_the_dialogue_does_not_ask_is_fine(tmp_path: Path) -> None:
    facts = {**STEP_UP, "saddle_numbness": "yes"}
    del facts["age"]  # asked only after the red flags

    assert result_of(tmp_path, facts)["recommendation"]["disposition"] == "emergency"


def test_an_unknown_fact_exits_2_naming_it(tmp_path: Path) -> None:
    _fails_with(tmp_path, {**STEP_UP, "sciatica": "yes"}, "unknown fact 'sciatica'")


def test_an_invalid_value_exits_2_naming_the_fact(tmp_path: Path) -> None:
    line = _fails_with(tmp_path, {**STEP_UP, "fever": "maybe"}, "'fever'")

    assert "invalid value 'maybe'" in line


@pytest.mark.parametrize(
    ("fact", "value"),
    [("age", 200), ("age", -1), ("age", "40"), ("fever", True), ("imaging", "huge"),
     ("pain_score", 7.5)],
)
def test_every_kind_of_invalid_value_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fact: str, value: Any
) -> None:
    # The same command in this process, to try many values quickly.
    path = tmp_path / "facts.json"
    path.write_text(json.dumps({**STEP_UP, fact: value}), encoding="utf-8")

    code = main(["simulate", str(path)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert f"invalid value {value!r} for fact '{fact}'" in err


def test_a_step_up_needing_a_missing_finding_exits_2_naming_it(tmp_path: Path) -> None:
    facts = dict(FIRST_VISIT)
    del facts["imaging"]

    done = simulate(tmp_path, facts, "--checkin", "6:6")

    assert done.returncode == 2
    assert "'imaging'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("checkin", ["6-5", "6:11", "six:5", "6:5:fever", "6:5:=yes",
                                     "6:5:fever=yes,,"])
def test_a_malformed_checkin_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checkin: str
) -> None:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(FIRST_VISIT), encoding="utf-8")

    code = main(["simulate", str(path), "--checkin", checkin])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert f"--checkin {checkin!r} must be WEEK:PAIN" in err
    assert err.count("\n") == 1


def test_a_facts_file_that_is_not_one_json_object_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "facts.json"
    for text, needle in (("[1, 2]", "must hold one JSON object"), ("{oops", "cannot read")):
        path.write_text(text, encoding="utf-8")
        assert main(["simulate", str(path)]) == 2
        assert needle in capsys.readouterr().err


def test_s5_a_checkin_answers_a_red_flag_from_the_command_line(tmp_path: Path) -> None:
    result = result_of(tmp_path, FIRST_VISIT, "--checkin", "2:5", "--checkin", "6:6:fever=yes")

    week2, week6 = result["checkins"]
    assert week2["recommendation"]["disposition"] == "routine"
    assert week6["response"] is None
    assert week6["recommendation"]["disposition"] == "urgent"
    assert set(week6) == {"week", "pain_score", "response", "recommendation"}


def test_s5_checkin_overrides_of_several_facts_and_the_default_answers(tmp_path: Path) -> None:
    # Red flags not named are no (even when the facts file typed a hedge at the screening).
    facts = {**FIRST_VISIT, "fever": {"typed": ["maybe", "no"]}}
    result = result_of(tmp_path, facts, "--checkin", "6:4:adherence=yes,bilateral_leg=no",
                       "--checkin", "12:4:bladder_bowel=not_sure,adherence=no")

    week6, week12 = result["checkins"]
    assert week6["response"] == "good"
    assert week6["recommendation"]["disposition"] == "routine"
    assert week12["recommendation"]["disposition"] == "emergency"
    assert week12["recommendation"]["alerts"] == ["not_sure"]
    # The screening's unclear answer stays with the screening's result.
    assert result["recommendation"]["alerts"] == ["unclear_red_flag"]


@pytest.mark.parametrize(
    ("checkin", "needles"),
    [("6:6:sciatica=yes", ["unknown fact 'sciatica'"]),
     ("6:6:age=40", ["unknown fact 'age'"]),
     ("6:6:fever=maybe", ["invalid value 'maybe'", "'fever'"]),
     ("6:6:adherence=sometimes", ["invalid value 'sometimes'", "'adherence'"]),
     ("6:6:pregnant=perhaps", ["invalid value 'perhaps'", "'pregnant'"])],
)
def test_s5_a_checkin_override_that_is_not_a_fact_and_value_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checkin: str, needles: list[str]
) -> None:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(FIRST_VISIT), encoding="utf-8")

    code = main(["simulate", str(path), "--checkin", checkin])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    for needle in needles:
        assert needle in err
