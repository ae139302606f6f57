"""Follow-up check-ins of spec §5: how much conservative care helped, and what follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.clinical.ladder import PAIN_WORSE

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.clinical.ladder import Ladder
    from bot.dialogue.conditions import FactValue

Response = Literal["good", "partial", "none"]

# Spec §5: "good when pain fell by at least 30 % and at least 2 points (the usual minimal
# clinically important difference), or is now 2 or less".
GOOD_FALL_PERCENT = 30
GOOD_FALL_POINTS = 2
GOOD_PAIN_AT_MOST = 2
PAIN_MIN, PAIN_MAX = 0, 10  # the numeric rating scale of the pain_score fact
# Severe pain at a check-in is said as pain_worse ("still severe" at 8 or more), not twice.
_SAID_AS_PAIN_WORSE = "severe_pain"
NOT_FOLLOWING = "no"  # the adherence answer of a patient who has stopped the plan


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


@dataclass(frozen=True)
class CheckinOutcome:
    """What a check-in found, and what follows from it (spec §5)."""

    week: int
    baseline: int
    today: int
    response: Response
    adherence: FactValue | None
    alerts: tuple[str, ...]
    # The facts to re-run the ladder with, when it steps up; None otherwise.
    stepped: dict[str, FactValue] | None
    # From the step-up week, a partial or no response on a ladder that stays conservative.
    not_improving: bool
    # The text key of what the patient is told follows; None when the alerts say it all.
    next_text: str | None
    # Spec §3: pain_worse is said as "your pain is worse" only when it rose that much;
    # otherwise it is 8 or more, "your pain is still severe".
    pain_rose: bool = False


def assess_checkin(facts: Mapping[str, FactValue], ladder: Ladder) -> CheckinOutcome:
    """Classify a check-in's pain, raise its alerts, and decide whether the ladder steps up.

    From the step-up week on, a partial or no response re-runs the ladder with
    ``conservative_course`` 6_weeks_or_more, that response and today's pain; never for a
    patient who said they stopped following the plan (spec §5, alert not_following).
    """
    baseline, today = facts.get("pain_score"), facts.get("pain_today")
    if not isinstance(baseline, int) or not isinstance(today, int):
        msg = "a check-in needs the pain_score from the start of the course and today's pain"
        raise ValueError(msg)  # noqa: TRY004  # a missing fact, not a wrong type from the caller
    week = int(facts.get("checkin_week", 0))
    response = classify_response(baseline, today)
    todays = {**facts, "pain_score": today}
    worse = ladder.pain_worse.applies(baseline, today)
    alerts = tuple(a for a in ladder.recommend(todays).alerts if a != _SAID_AS_PAIN_WORSE)
    alerts = (PAIN_WORSE, *alerts) if worse else alerts
    stepped: dict[str, FactValue] | None = None
    not_improving = False
    if facts.get("adherence") == NOT_FOLLOWING:
        # A plan not followed cannot be judged: no step-up, whatever the pain, and never "it
        # has not helped". The not_following alert says what to do.
        next_text: str | None = None
    elif ladder.step_up_due(facts):
        # The screening already moved past conservative care: the clinic plans that step, and
        # a check-in only tells how the patient is doing.
        next_text = "checkin.planned_step"
    elif week >= ladder.step_up_from_week and response != "good":
        course = {**todays, "conservative_course": "6_weeks_or_more",
                  "conservative_response": response}
        if ladder.step_up_due(course):
            stepped, next_text = course, "checkin.step_up"
        else:
            not_improving, next_text = True, "checkin.not_improving"
    elif response == "good":
        next_text = "checkin.keep_going"
    else:
        # "Early days, keep going" is never said to a patient whose pain is getting worse.
        next_text = None if worse else "checkin.give_it_time"
    return CheckinOutcome(week, baseline, today, response, facts.get("adherence"), alerts,
                          stepped, not_improving, next_text,
                          ladder.pain_worse.rose(baseline, today))
