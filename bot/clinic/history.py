"""A patient's history as staff read it: one line per recorded event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any

from bot.audit import ANSWER, recorded_facts, typed_text
from bot.clinic import appointments
from bot.clinic.replies import clock_time
from bot.dialogue.turn import Text
from bot.storage.base import Event
from bot.storage.dashboard_tables import QUEUE_EVENT

Label = Callable[[str, Any], Text]
Data = Mapping[str, Any]


def step_text(recommendation: Data) -> Text:
    """The outcome of a recommendation: its step, or the disposition that replaced one."""
    step = recommendation.get("step")
    if step:
        return Text(f"step.{step}")
    return Text(f"staff.disposition.{recommendation.get('disposition', 'routine')}")


def _recommendation(data: Data) -> dict[str, Any]:
    return {"step": step_text(data.get("recommendation", {}))}


def _notify_clinic(data: Data) -> dict[str, Any]:
    return {"disposition": Text(f"staff.disposition.{data.get('disposition', 'routine')}")}


def _offer_checkins(data: Data) -> dict[str, Any]:
    return {"weeks": ", ".join(str(week) for week in data.get("weeks", []))}


def _checkin(data: Data) -> dict[str, Any]:
    return {"week": data.get("week", "?"), "pain": data.get("pain_score", "?"),
            "response": Text(f"staff.response.{data.get('response', 'none')}")}


def _step_up(data: Data) -> dict[str, Any]:
    return {"week": data.get("week", "?")}


def _appointment(data: Data) -> dict[str, Any]:
    visit = appointments.Appointment.from_json(dict(data))
    return {"when": appointments.when(visit.at), "zone": visit.timezone, "place": visit.place}


def _unread_answer(data: Data) -> dict[str, Any]:
    """Spec §2a: a typed answer not taken, as typed, with its question."""
    return {"fact": data.get("fact", "?"), "typed": data.get("typed", ""),
            "reading": Text(f"staff.reading.{data.get('reading', 'unread')}")}


def _appointment_answer(data: Data) -> dict[str, Any]:
    return {"choice": Text(f"staff.choice.{data.get('choice', appointments.CONFIRM)}")}


# Event kind -> the values of its line, whose text is ``staff.history.<kind>``.
_LINES: dict[str, Callable[[Data], dict[str, Any]]] = {
    "recommendation": _recommendation,
    "notify_clinic": _notify_clinic,
    "offer_checkins": _offer_checkins,
    "checkin": _checkin,
    "step_up": _step_up,
    "unread_answer": _unread_answer,
    appointments.EVENT: _appointment,
    appointments.ANSWER_EVENT: _appointment_answer,
}


def event_lines(event: Event, zone: tzinfo, label: Label) -> list[Text]:
    """An event's history lines: one per answered fact, else one; unknown kinds are named."""
    if event.kind == QUEUE_EVENT:  # the same notice is told by its own event's line
        return []
    at = clock_time(event.at, zone)
    if event.kind == ANSWER:
        typed = typed_text(event.data)
        key = "staff.history.answer" if typed is None else "staff.history.answer_typed"
        return [Text(key, {"at": at, "fact": fact, "value": _label(label, fact, value),
                           "typed": typed or ""})
                for fact, value in recorded_facts(event.data).items()]
    values = _LINES.get(event.kind)
    if values is None:
        return [Text("staff.history.other", {"at": at, "kind": event.kind})]
    return [Text(f"staff.history.{event.kind}", {"at": at, **values(event.data)})]


def _label(label: Label, fact: str, value: object) -> Text:
    try:
        return label(fact, value)
    except KeyError:  # a fact no longer declared: its stored value as it is
        return Text.raw(str(value))
