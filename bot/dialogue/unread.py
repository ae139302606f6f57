"""What the patient typed and the bot could not take (spec §2a), as the clinic and they see it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.dialogue.session import Session
from bot.dialogue.turn import Text

UNCLEAR_RED_FLAG = "unclear_red_flag"
# The event that keeps a typed answer the engine did not take (its data: ``unread_event``).
UNREAD_ANSWER = "unread_answer"
# A clinic note quotes this many answers, each cut to this length, so it fits one message; the
# patient's history (/patient) has them all.
QUOTED = 10
QUOTE_LIMIT = 200


def unread_event(fact: str, state: str, typed: str, reading: str, dialogues: str) -> dict[str, Any]:
    """The data of an ``unread_answer`` event: what was typed, at which question, how read."""
    return {"fact": fact, "state": state, "typed": typed, "reading": reading,
            "dialogues": dialogues}


def quote(typed: str) -> str:
    """What the patient typed, cut to ``QUOTE_LIMIT`` characters."""
    return typed if len(typed) <= QUOTE_LIMIT else typed[:QUOTE_LIMIT] + "…"


def clinic_alert(alert: str, data: Mapping[str, Any]) -> Text:
    """An alert as told to the clinic; ``unclear_red_flag`` quotes what the patient typed."""
    if alert != UNCLEAR_RED_FLAG:
        return Text(f"clinic.alert.{alert}")
    quotes = [Text("clinic.unclear_quote", {"flag": Text(f"flag.{item['fact']}"),
                                            "typed": quote(str(typed))})
              for item in data.get("unclear", []) for typed in item.get("typed", [])]
    if len(quotes) > QUOTED:
        more = Text("clinic.unclear_more", {"count": len(quotes) - QUOTED})
        quotes = [*quotes[:QUOTED], more]
    return Text(f"clinic.alert.{alert}", {"quotes": quotes})


def unread_lines(session: Session, has_topic: Callable[[str], bool]) -> list[Text]:
    """Each typed answer not taken, with its question's topic, for ``/mydata``.

    Those of answered questions first, then those of the open one; ``has_topic`` tells which
    facts have a topic text (questions a patient answers).
    """
    typed = [(fact, attempt["typed"]) for entry in session.history for fact in entry.facts
             for attempt in entry.unread]
    typed += [(attempt.get("fact", ""), attempt["typed"]) for attempt in session.attempts]
    return [Text("app.mydata_unread", {"question": Text(f"topic.{fact}"), "typed": text})
            for fact, text in typed if has_topic(fact)]
