"""Follow-up check-ins against the clinical spec, section 5."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.clinical.followup import checkin_facts, classify_response
from bot.clinical.ladder import Ladder, load_ladder

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
    """Facts of a routine patient sent to conservative care with no course yet."""
    return {
        "age": 40,
        "leg_pain": "yes",
        "pain_score": 8,
        "conservative_course": "none",
        "previous_procedure": "none",
    }


@pytest.mark.parametrize(("week", "today"), [(2, 7), (2, 8), (2, 9)])
def test_before_the_step_up_week_no_new_facts(ladder, week, today):
    response, facts = checkin_facts(conservative_patient(), week, today, ladder)
    assert response in {"partial", "none"}
    assert facts is None


@pytest.mark.parametrize("week", [6, 12])
def test_partial_response_from_week_six_steps_up(ladder, week):
    start = conservative_patient()
    response, facts = checkin_facts(start, week, 7, ladder)
    assert response == "partial"
    assert facts == start | {
        "conservative_course": "6_weeks_or_more",
        "conservative_response": "partial",
    }
    assert start["conservative_course"] == "none"


def test_no_response_at_week_six_steps_up(ladder):
    response, facts = checkin_facts(conservative_patient(), 6, 9, ladder)
    assert response == "none"
    assert facts is not None
    assert facts["conservative_response"] == "none"


def test_a_week_between_check_ins_counts_from_the_step_up_week(ladder):
    assert checkin_facts(conservative_patient(), 5, 8, ladder)[1] is None
    assert checkin_facts(conservative_patient(), 7, 8, ladder)[1] is not None


@pytest.mark.parametrize("week", [2, 6, 12])
def test_good_response_stays_conservative(ladder, week):
    assert checkin_facts(conservative_patient(), week, 2, ladder) == ("good", None)


def test_step_up_facts_rerun_the_ladder(ladder):
    start = conservative_patient()
    assert ladder.recommend(start).step == "conservative"
    _, facts = checkin_facts(start, 6, 7, ladder)
    assert facts is not None
    assert ladder.step_up_due(facts)
    rec = ladder.recommend(facts)
    assert rec.step == "specialist_review"  # imaging not asked yet: the dialogue asks it now
    assert rec.why == ("course_not_enough", "no_imaging")
    assert ladder.recommend(facts | {"imaging": "protrusion"}).step == "minimally_invasive"


def test_a_checkin_needs_the_baseline_pain(ladder):
    start = conservative_patient()
    del start["pain_score"]
    with pytest.raises(ValueError, match="pain_score"):
        checkin_facts(start, 6, 5, ladder)
