"""Follow-up check-ins of spec §5: how much conservative care helped, and when to step up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.clinical.ladder import Ladder

Response = Literal["good", "partial", "none"]

# Spec §5: "good when pain fell by at least 30 % and at least 2 points (the usual minimal
# clinically important difference), or is now 2 or less".
GOOD_FALL_PERCENT = 30
GOOD_FALL_POINTS = 2
GOOD_PAIN_AT_MOST = 2
PAIN_MIN, PAIN_MAX = 0, 10  # the numeric rating scale of the pain_score fact


def classify_response(baseline: int, today: int) -> Response:
    """Classify today's pain against the pain at the start of the course (spec §5)."""
    for name, score in (("baseline", baseline), ("today", today)):
        if (
            isinstance(score, bool)
            or not isinstance(score, int)
            or not PAIN_MIN <= score <= PAIN_MAX
        ):
            msg = f"{name} pain must be a whole number from {PAIN_MIN} to {PAIN_MAX}, not {score!r}"
            raise ValueError(msg)
    if today <= GOOD_PAIN_AT_MOST:
        return "good"
    fall = baseline - today
    # Whole-number arithmetic: 30 % of 10 as a float is 3.0000000000000004, which 3 would miss.
    if fall >= GOOD_FALL_POINTS and fall * 100 >= GOOD_FALL_PERCENT * baseline:
        return "good"
    return "partial" if fall > 0 else "none"


def checkin_facts(
    facts: Mapping[str, int | str], week: int, today_pain: int, ladder: Ladder
) -> tuple[Response, dict[str, int | str] | None]:
    """Classify a check-in; from the step-up week on, a partial or no response gives new facts.

    The new facts are the patient's facts with ``conservative_course`` 6_weeks_or_more and
    ``conservative_response`` set, for the ladder to be run again; otherwise None.
    """
    baseline = facts.get("pain_score")
    if not isinstance(baseline, int):
        msg = "a check-in needs the pain_score from the start of the course"
        raise ValueError(msg)  # noqa: TRY004  # a missing fact, not a wrong type from the caller
    response = classify_response(baseline, today_pain)
    if week < ladder.step_up_from_week or response == "good":
        return response, None
    return response, {
        **facts,
        "conservative_course": "6_weeks_or_more",
        "conservative_response": response,
    }
