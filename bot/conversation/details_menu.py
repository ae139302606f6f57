"""A result's "tell me more" buttons and /details, as a menu of the conversation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot import details
from bot.conversation import disposition
from bot.conversation.menus import Again, Menu, Step, by_label
from bot.conversation.reply import Reply
from bot.dialogue.turn import Message, Option, Text, Turn


async def _show(step: Step, rest: str) -> Reply:
    """The explanations asked for, then where the patient is, so no open question is lost."""
    session, desk = step.session, step.desk
    advice = disposition.advice(session)
    if advice and session.care.get("details") is None:
        # After an emergency or urgent result there are no options: its advice is what stands.
        # A button of an earlier result (it carries that result's id) is said to be stale first.
        result_id = rest.partition(":")[0]
        stale = (Message((Text("details.stale"),)),) if result_id else ()
        return step.reply(Turn((*stale, *advice)))
    shown = details.show(desk.content.catalog, session, f"{details.CHOICE}{rest}")
    current = desk.current(session)
    if current.question is None:
        return step.reply(Turn(shown))
    return step.reply(Turn((*shown, *current.messages), current.question))


async def _typed(step: Step, typed: str) -> str | Again | None:
    """A method's name (or "all of it") typed after a result asks for its explanation."""
    kept: Mapping[str, Any] | None = step.session.care.get("details")
    if not kept:
        return None
    options = [Option(_method(Message.from_json(m)), details.choice(kept["id"], str(number)))
               for number, m in enumerate(kept["options"], 1)]
    options.append(Option(Text("rec.details_all"), details.choice(kept["id"], details.ALL)))
    return by_label(step.desk.content, typed, options, positions=False)


def _method(message: Message) -> Text:
    """The name of the method a detail message explains."""
    method = message.parts[0].values.get("method") if message.parts else None
    return method if isinstance(method, Text) else Text.raw("")


# Passive: reading about a result leaves an open offer (the check-ins) open, shown again after.
MENU = Menu(details.CHOICE, _show, idle=_typed, passive=True)
