"""The ladder over time (clinical spec §5): the check-in plan, its reminders, and step-ups."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from bot.content import Content
from bot.dialogue.conditions import FactValue
from bot.dialogue.session import Session
from bot.dialogue.turn import Message, Text, Turn
from bot.outbox import CHECKIN, Button, Payload
from bot.storage import Transaction

# Where the screening decides whether imaging is needed; a step-up at a check-in enters here.
STEP_UP_STATE = "imaging_due"
CHECKIN_CHOICE = "checkin:"
CHECKIN_TIME = time(10, 0)  # local time a check-in reminder is sent on its day
_CHECKIN_ONLY = ("pain_today", "adherence", "checkin_week")


def offer(session: Session, weeks: list[int], now: datetime) -> None:
    """Remember the course a check-in compares against: its start, baseline pain and facts."""
    facts = {k: v for k, v in session.facts.items() if k not in _CHECKIN_ONLY}
    session.care = {"since": now.isoformat(), "weeks": weeks, "facts": facts,
                    "baseline": session.facts.get("pain_score")}


async def schedule(
    tx: Transaction,
    session: Session,
    button_data: str,
    timezone: tzinfo,
    not_before: datetime | None = None,
) -> None:
    """Write one reminder row per planned check-in week, at mid-morning local time.

    Each is due that many weeks after the start, never at night, whenever the screening was.
    """
    since = datetime.fromisoformat(str(session.care["since"]))
    start_day = since.astimezone(timezone).date()
    for week in session.care.get("weeks", []):
        due = datetime.combine(start_day + timedelta(weeks=week), CHECKIN_TIME, timezone)
        if not_before is not None and due < not_before:
            continue  # a week the course has already passed: no reminder for the past
        payload = Payload(
            session.language,
            (Message((Text("checkin.due", {"week": week}),)),),
            (Button(Text("opt.checkin_start"), button_data),),
        )
        key = f"checkin:{tx.chat_id}:{since.date().isoformat()}:{week}"
        await tx.enqueue(CHECKIN, tx.chat_id, payload.to_json(), due, dedupe_key=key)


def start(
    content: Content, session: Session, now: datetime, week: int | None = None
) -> Turn | None:
    """Begin a check-in now; None when there is no course to compare with yet.

    ``week`` is the week of the course; by default it is counted from the course's start.
    """
    care = session.care
    if not care.get("facts") or care.get("baseline") is None:
        return None
    if week is None:
        week = max(0, (now - datetime.fromisoformat(str(care["since"]))).days // 7)
    facts: dict[str, FactValue] = {
        # The red flags are asked afresh at every check-in (the ladder names them).
        k: v for k, v in care["facts"].items() if k not in content.ladder.flag_codes
    }
    facts["checkin_week"] = week
    return content.engines["followup"].move_in(session, facts)


def step_up(content: Content, session: Session, facts: Mapping[str, Any]) -> Turn:
    """Re-run the ladder from the screening's imaging questions with the course's outcome."""
    care_facts = {k: v for k, v in facts.items() if k not in _CHECKIN_ONLY}
    session.care = {**session.care, "facts": care_facts}
    return content.engines["screening"].move_in(session, care_facts, STEP_UP_STATE)
