"""The record kept of every answer: the facts recorded, what the patient did, which dialogues asked.

An ``answer`` event's data is ``{"facts": {fact: value}, "typed": text or None, "dialogues":
content hash}``: ``typed`` is the answer exactly as the patient typed it (None for a button), so
a clinician can always see how a recorded value was read. Events recorded before this trail
hold the facts alone, and are read as such. ``label``, where present, is the answer as it was
shown (a Text), e.g. "Does not apply" where that button records the value no.

An ``unread_answer`` event keeps a typed answer that was not taken (clinical spec §2a): ``{"fact",
"state", "typed", "reading": "unread" or "hedge", "dialogues"}``, so nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.dialogue.conditions import FactValue

ANSWER = "answer"


def answer_event(
    facts: Mapping[str, FactValue | None], typed: str | None, dialogues: str,
    label: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The data of an ``answer`` event (``label``: the answer's Text as JSON, if known)."""
    data = {"facts": dict(facts), "typed": typed, "dialogues": dialogues}
    if label is not None:
        data["label"] = dict(label)
    return data


def recorded_facts(data: Mapping[str, Any]) -> dict[str, Any]:
    """The facts an ``answer`` event recorded, whichever shape it was written in."""
    facts = data.get("facts")
    return dict(facts) if isinstance(facts, Mapping) else dict(data)


def typed_text(data: Mapping[str, Any]) -> str | None:
    """What the patient typed for an ``answer`` event; None for a button (or not known)."""
    typed = data.get("typed") if isinstance(data.get("facts"), Mapping) else None
    return typed if isinstance(typed, str) else None

