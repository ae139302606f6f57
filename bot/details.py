"""A result's full explanations, each sent on request (clinical spec §4 "Short first").

A routine result's summary carries a button per option and one for all of it. What the buttons
show is kept with the session when the result is given, so it survives a restart of the
process and still says what the patient was told then; a button from an earlier result is
answered with a note, never with another result's details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.clinical.explain import SUMMARY_KEY, details
from bot.clinical.ladder import Exclusion, Recommendation
from bot.content import Content
from bot.dialogue.session import Session
from bot.dialogue.texts import Catalog
from bot.dialogue.turn import Message, Option, Text, Turn

CHOICE = "details:"
ALL = "all"
_KEPT = "details"  # the key in Session.care
_OPTIONS_KEY = "rec.options"  # the summary's list of the options by name


def choice(result_id: int | None, which: str) -> str:
    """What a details button (with its result's id) or a typed /details (without) submits."""
    return f"{CHOICE}{'' if result_id is None else result_id}:{which}"


def remember(content: Content, session: Session, turn: Turn) -> Turn:
    """After a recommendation, keep its explanations and give its summary their buttons."""
    found = [effect.data for effect in turn.effects if effect.kind == "recommendation"]
    if not found:
        return turn
    recommendation = _recommendation(found[-1])
    options, about = details(recommendation, session.facts, content.ladder)
    if not options:
        session.care.pop(_KEPT, None)  # an older result's buttons must not answer for this one
        return turn
    result_id = session.seq
    session.care[_KEPT] = {"id": result_id, "options": [m.to_json() for m in options],
                           "about": about.to_json() if about is not None else None}
    buttons = (*(Option(Text(f"method.{method}.name"), choice(result_id, str(number)))
                 for number, method in enumerate(recommendation.options, 1)),
               Option(Text("rec.details_all"), choice(result_id, ALL)))
    summaries = [i for i, message in enumerate(turn.messages)
                 if message.parts and message.parts[0].key == SUMMARY_KEY]
    if not summaries:
        return turn
    messages = list(turn.messages)
    summary = _unrepeated(content.catalog, messages[summaries[-1]], recommendation)
    messages[summaries[-1]] = replace(summary, buttons=buttons)
    return replace(turn, messages=tuple(messages))


def _unrepeated(catalog: Catalog, summary: Message, recommendation: Recommendation) -> Message:
    """The summary without its list of options when that list only repeats the step's name."""
    if len(recommendation.options) != 1 or not summary.parts:
        return summary
    step = summary.parts[0].values.get("step")
    name = Text(f"method.{recommendation.options[0]}.name")
    if not isinstance(step, Text) or any(
            catalog.plain(step, language) != catalog.plain(name, language)
            for language in catalog.templates):
        return summary
    return replace(summary, parts=tuple(p for p in summary.parts if p.key != _OPTIONS_KEY))


def show(catalog: Catalog, session: Session, chosen: str) -> tuple[Message, ...]:
    """The explanations a button or /details asks for, or a note saying why there are none."""
    result_id, _, which = chosen.removeprefix(CHOICE).partition(":")
    kept: Mapping[str, Any] | None = session.care.get(_KEPT)
    if not kept and not result_id:
        return (Message((Text("details.none"),)),)
    if not kept or (result_id and result_id != str(kept["id"])):
        # A button of an earlier result, since replaced (maybe by one without options).
        return (Message((Text("details.stale"),)),)
    options = [Message.from_json(data) for data in kept["options"]]
    about = [Message.from_json(kept["about"])] if kept.get("about") else []
    if which in {"", ALL}:
        wanted = [*options, *about]
    elif which.isdigit() and 1 <= int(which) <= len(options):
        wanted = [options[int(which) - 1]]
    else:
        count = len(options)
        return (Message((Text("count.no_such.one" if count == 1 else "count.no_such.other",
                              {"count": count}),)),)
    if not all(_known(catalog, part) for message in wanted for part in message.parts):
        # The texts were revised since this result: its words can no longer be shown as given.
        return (Message((Text("details.stale"),)),)
    return tuple(wanted)


def _known(catalog: Catalog, text: Text) -> bool:
    """Whether ``text`` and every text inside it can still be rendered."""
    if text.key and not catalog.has(text.key):
        return False
    inner = [v for value in text.values.values()
             for v in (value if isinstance(value, list) else [value]) if isinstance(v, Text)]
    return all(_known(catalog, v) for v in inner)


def _recommendation(data: Mapping[str, Any]) -> Recommendation:
    """The recommendation a "recommendation" effect recorded."""
    decided = data["recommendation"]
    return Recommendation(
        disposition=str(decided["disposition"]),
        step=decided["step"],
        options=tuple(decided["options"]),
        excluded=tuple(Exclusion(e["method"], tuple(e["reasons"])) for e in decided["excluded"]),
        next=decided["next"],
        followup_weeks=tuple(decided["followup_weeks"]),
        why=tuple(data.get("why", ())),
        flags=tuple(data.get("flags", ())),
        alerts=tuple(decided.get("alerts", ())),
    )
