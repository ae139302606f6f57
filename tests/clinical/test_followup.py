"""Follow-up check-ins against the clinical spec, section 5."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.clinical.followup import CheckinOutcome, assess_checkin, classify_response
from bot.clinical.ladder import Ladder
from bot.clinical.ladder_loader import load_ladder

DIALOGUES = Path(__file__).parents[2] / "dialogues"


@pytest.fixture(scope="module")
def ladder() -> Ladder:
    return load_ladder(DIALOGUES)


@pytest.mark.parametrize(
    ("baseline", "today", "response"),
    [
        (10, 7, "good"),  # fell 3 points = 30 %: both thresholds met exactly
        (10, 8, "partial"),  # fell 2 points but only 20 %
        (9, 6, "good"),  # 3 points, 33 %
        (8, 6, "partial"),  # 2 points but 25 %
        (7, 5, "partial"),  # 2 points but 28.6 %
        (7, 4, "good"),
        (6, 4, "good"),  # 2 points, 33 %
        (5, 3, "good"),  # 2 points, 40 %
        (5, 4, "partial"),  # 20 % but only 1 point
        (4, 3, "partial"),  # 25 %, 1 point
        (3, 2, "good"),  # now 2 or less
        (10, 0, "good"),
        (2, 2, "good"),  # already 2 or less and still is
        (1, 2, "good"),  # 2 or less counts as good even without a fall
        (0, 0, "good"),
        (6, 6, "none"),
        (6, 7, "none"),
        (3, 3, "none"),
        (0, 3, "none"),
        (10, 10, "none"),
    ],
)
def test_classify_response(baseline, today, response):
    assert classify_response(baseline, today) == response


@pytest.mark.parametrize(("baseline", "today"), [(-1, 3), (11, 3), (5, -1), (5, 11), (True, 3)])
def test_classify_response_rejects_scores_off_the_scale(baseline, today):
    with pytest.raises(ValueError, match="pain must be a whole number from 0 to 10"):
        classify_response(baseline, today)


def conservative_patient() -> dict[str, int | str]:
    """Facts of a routine patient with sciatica sent to conservative care with no course yet."""
    return {
        "age": 40,
        "leg_pain": "yes",
        "pain_score": 8,
        "conservative_course": "none",
    }


def checkin(ladder: Ladder, start: dict[str, int | str], week: int, today: int) -> CheckinOutcome:
    return assess_checkin({**start, "checkin_week": week, "pain_today": today,
                           "adherence": "yes"}, ladder)


@pytest.mark.parametrize(("week", "today"), [(2, 7), (2, 8), (2, 9)])
def test_s5_before_the_step_up_week_the_ladder_is_not_rerun(ladder, week, today):
    outcome = checkin(ladder, conservative_patient(), week, today)
    assert outcome.response in {"partial", "none"}
    assert outcome.stepped is None
    assert not outcome.not_improving


@pytest.mark.parametrize("week", [6, 12])
def test_s5_partial_response_from_week_six_reruns_the_ladder_with_todays_pain(ladder, week):
    start = conservative_patient()
    outcome = checkin(ladder, start, week, 7)
    assert outcome.response == "partial"
    assert outcome.stepped is not None
    assert outcome.stepped["conservative_course"] == "6_weeks_or_more"
    assert outcome.stepped["conservative_response"] == "partial"
    assert outcome.stepped["pain_score"] == 7  # "the ladder of §3 is run again with today's pain"
    assert outcome.next_text == "checkin.step_up"
    assert start["conservative_course"] == "none"


def test_s5_no_response_at_week_six_steps_up(ladder):
    outcome = checkin(ladder, {**conservative_patient(), "pain_score": 6}, 6, 6)
    assert outcome.response == "none"
    assert outcome.stepped is not None
    assert outcome.stepped["conservative_response"] == "none"


def test_s5_a_week_between_check_ins_counts_from_the_step_up_week(ladder):
    assert checkin(ladder, conservative_patient(), 5, 7).stepped is None
    assert checkin(ladder, conservative_patient(), 7, 7).stepped is not None


@pytest.mark.parametrize("week", [2, 6, 12])
def test_s5_good_response_stays_conservative(ladder, week):
    outcome = checkin(ladder, conservative_patient(), week, 2)
    assert outcome.response == "good"
    assert outcome.stepped is None
    assert outcome.next_text == "checkin.keep_going"
    assert outcome.alerts == ()


def test_s5_step_up_facts_rerun_the_ladder(ladder):
    start = conservative_patient()
    assert ladder.recommend(start).step == "conservative"
    facts = checkin(ladder, start, 6, 7).stepped
    assert facts is not None
    assert ladder.step_up_due(facts)
    rec = ladder.recommend(facts)
    assert rec.step == "specialist_review"  # imaging not asked yet: the dialogue asks it now
    assert rec.why == ("course_not_enough", "no_imaging")
    with_scan = facts | {"imaging": "protrusion", "previous_procedure": "none"}
    assert ladder.recommend(with_scan).step == "minimally_invasive"


@pytest.mark.parametrize(("baseline", "today"), [(5, 7), (5, 9), (8, 8), (2, 8), (0, 2)])
def test_s5_pain_two_points_up_or_eight_or_more_is_pain_worse(ladder, baseline, today):
    outcome = checkin(ladder, {**conservative_patient(), "pain_score": baseline}, 2, today)
    assert outcome.alerts[0] == "pain_worse"
    assert "severe_pain" not in outcome.alerts  # said once, as pain_worse
    # "Early days, keep going" is never said to a patient whose pain is getting worse.
    assert outcome.next_text != "checkin.give_it_time"


@pytest.mark.parametrize(("baseline", "today"), [(5, 6), (7, 7), (3, 4), (9, 7)])
def test_s5_pain_up_by_less_than_two_and_under_eight_is_not_pain_worse(ladder, baseline, today):
    outcome = checkin(ladder, {**conservative_patient(), "pain_score": baseline}, 2, today)
    assert "pain_worse" not in outcome.alerts


def test_s5_pain_worse_at_week_six_also_steps_up(ladder):
    outcome = checkin(ladder, conservative_patient(), 6, 9)
    assert outcome.alerts == ("pain_worse",)
    assert outcome.stepped is not None


@pytest.mark.parametrize(
    ("start", "today"),
    [({"leg_pain": "no", "pain_score": 6}, 6), ({"pain_score": 3}, 3), ({"pain_score": 4}, 3)],
)
def test_s5_a_ladder_that_stays_conservative_is_not_improving_not_a_step_up(ladder, start, today):
    outcome = checkin(ladder, {**conservative_patient(), **start}, 6, today)
    assert outcome.response in {"partial", "none"}
    assert outcome.stepped is None
    assert outcome.not_improving
    assert outcome.next_text == "checkin.not_improving"


def test_s5_a_pregnant_patient_hears_the_pregnancy_alert_at_each_checkin(ladder):
    outcome = checkin(ladder, {**conservative_patient(), "pregnant": "yes"}, 2, 6)
    assert outcome.alerts == ("pregnancy",)


def test_s5_a_checkin_needs_the_baseline_pain(ladder):
    start = conservative_patient()
    del start["pain_score"]
    with pytest.raises(ValueError, match="pain_score"):
        checkin(ladder, start, 6, 5)


@pytest.mark.parametrize(("week", "today"), [(2, 9), (6, 8), (6, 10), (12, 9)])
def test_s5_adherence_no_is_never_stepped_up_whatever_the_pain(ladder, week, today):
    facts = {**conservative_patient(), "checkin_week": week, "pain_today": today,
             "adherence": "no"}
    outcome = assess_checkin(facts, ladder)
    assert outcome.stepped is None
    assert not outcome.not_improving
    assert outcome.next_text is None  # the not_following alert says what to do
    assert "not_following" in outcome.alerts


@pytest.mark.parametrize(("baseline", "today", "rose", "alerts"), [
    (5, 7, True, ("pain_worse",)),  # 2 points up: "your pain is worse"
    (9, 8, False, ("pain_worse",)),  # fell, but 8 or more: "your pain is still severe"
    (8, 8, False, ("pain_worse",)),
    (6, 7, False, ()),
])
def test_s5_pain_worse_knows_whether_the_pain_rose(ladder, baseline, today, rose, alerts):
    outcome = checkin(ladder, {**conservative_patient(), "pain_score": baseline}, 2, today)
    assert outcome.alerts == alerts
    assert outcome.pain_rose is rose
