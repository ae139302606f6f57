"""A disposition stands (clinical spec §2): an emergency or urgent answer is not undone quietly.

Going back (``/back``) or starting again (``/restart``) over a red-flag answer that led to
``emergency`` or ``urgent`` shows that advice again first, with one way on: "I pressed the
wrong button". Choosing it keeps the first answer and its result in the record (an event), tells
the clinic at once, and tells it again with both answers once the question is answered anew.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.conversation.menus import Again, Menu, OpenMenu, Step, by_label, keep_open
from bot.conversation.reply import Reply, noted
from bot.dialogue.session import Session
from bot.dialogue.turn import Message, Option, Text, Turn

WRONG_BUTTON = "undo:"
STANDS = "disposition"  # Session.care: the advice given, while the patient is at that result
WITHDRAWN = "withdrawn"  # Session.care: answers withdrawn, until the patient answers again
RED_FLAG_DISPOSITIONS = frozenset({"emergency", "urgent"})
WITHDRAWN_EVENT = "answer_withdrawn"
ANSWERED_AGAIN_EVENT = "withdrawn_answer_replaced"
_COMMANDS = ("back", "restart")


def remember(session: Session, turn: Turn) -> None:
    """After a turn with a result: keep emergency or urgent advice, so that it stands."""
    found = [effect.data for effect in turn.effects if effect.kind == "recommendation"]
    if not found:
        return
    decided: Mapping[str, Any] = found[-1]["recommendation"]
    disposition = str(decided["disposition"])
    if disposition not in RED_FLAG_DISPOSITIONS:
        session.care.pop(STANDS, None)
        return
    flags = [str(flag) for flag in found[-1].get("flags", [])]
    session.care[STANDS] = {
        "dialogue": session.dialogue, "seq": session.seq, "disposition": disposition,
        "answers": {flag: session.facts[flag] for flag in flags if flag in session.facts},
        # Only the words: a message's own buttons belong to the reply that carried them.
        "advice": [Message(message.parts).to_json() for message in turn.messages],
    }


def standing(session: Session) -> Mapping[str, Any] | None:
    """The emergency or urgent advice the patient is at, if they are at one."""
    data = session.care.get(STANDS)
    if not isinstance(data, dict):
        return None
    if data.get("dialogue") != session.dialogue or data.get("seq") != session.seq:
        return None  # the patient has since moved on (a new check-in, a step-up)
    return data


def advice(session: Session) -> tuple[Message, ...]:
    """The advice that stands, as it was given; empty when none does."""
    data = standing(session)
    return tuple(Message.from_json(m) for m in data["advice"]) if data else ()


def hold(step: Step, command: str) -> Reply:
    """/back or /restart over a standing result: the advice again, and the explicit way on."""
    session = step.session
    data = standing(session)
    if data is None:  # the caller asks only when one stands; nothing to hold then
        return step.reply(step.desk.current(session))
    parts = [Text("stands.note", {"answers": _answers(step, data["answers"])})]
    if step.desk.clinic_chat_id is not None:  # said only where a clinic will be told
        parts.append(Text("stands.note_clinic"))
    note = Message(tuple(parts))
    prompt = (*advice(session), note)
    menu = (Option(Text("menu.opt.wrong_button"), f"{WRONG_BUTTON}{command}:{session.seq}"),)
    keep_open(session, WRONG_BUTTON, prompt, menu)
    return step.reply(Turn(prompt), menu)


async def _withdraw(step: Step, rest: str) -> Reply:
    """"I pressed the wrong button": record it, tell the clinic, then go back or start again."""
    session, tx, desk = step.session, step.tx, step.desk
    command, _, seq = rest.partition(":")
    data = standing(session)
    if data is None or command not in _COMMANDS or seq != str(session.seq):
        return step.noted("app.stale_button")
    disposition, answers = str(data["disposition"]), dict(data["answers"])
    await tx.record_event(WITHDRAWN_EVENT, {"dialogue": session.dialogue,
                                            "disposition": disposition, "answers": answers,
                                            "reason": "wrong_button"})
    told = await desk.notify_clinic(tx, Text("stands.clinic.withdrawn", {
        "patient": str(tx.chat_id), "disposition": Text(f"stands.disposition.{disposition}"),
        "answers": _answers(step, answers)}))
    session.care.pop(STANDS, None)
    session.care[WITHDRAWN] = {"disposition": disposition, "answers": answers}
    engine = desk.engine(session)
    if command == "back":
        turn = engine.back(session)
    else:
        turn = desk.content.engines["screening"].restart(session)
    if told:
        turn = noted(Text("stands.clinic_told"), turn)
    return step.reply(noted(Text("stands.withdrawn"), turn))


async def answered_again(step: Step, turn: Turn) -> None:
    """Once a withdrawn question is answered anew: record both answers and tell the clinic."""
    session, tx = step.session, step.tx
    pending = session.care.get(WITHDRAWN)
    if turn.answered is None or not isinstance(pending, dict):
        return
    first: dict[str, Any] = dict(pending["answers"])
    now = {fact: session.facts[fact] for fact in first if fact in session.facts}
    if not now:
        return
    session.care.pop(WITHDRAWN, None)
    await tx.record_event(ANSWERED_AGAIN_EVENT, {"disposition": pending["disposition"],
                                                 "first": first, "now": now})
    engine = step.desk.engine(session)
    changes = [Text("stands.change", {"question": Text(f"topic.{fact}"),
                                      "first": engine.label(fact, first[fact]),
                                      "now": engine.label(fact, value)})
               for fact, value in now.items()]
    await step.desk.notify_clinic(tx, Text("stands.clinic.answered", {
        "patient": str(tx.chat_id),
        "disposition": Text(f"stands.disposition.{pending['disposition']}"),
        "changes": changes}))


def _answers(step: Step, answers: Mapping[str, Any]) -> list[Text]:
    """Each red-flag answer as "question: answer", for the patient or the clinic."""
    engine = step.desk.engine(step.session)
    return [Text("stands.answer", {"question": Text(f"topic.{fact}"),
                                   "answer": engine.label(fact, value)})
            for fact, value in answers.items() if fact in engine.domains]


async def _read(step: Step, typed: str, shown: OpenMenu) -> str | Again:
    """Only the button's own words withdraw an emergency answer; anything else asks again."""
    chosen = by_label(step.desk.content, typed, shown.options, positions=False)
    return chosen if chosen is not None else Again(Text("stands.again"))


MENU = Menu(WRONG_BUTTON, _withdraw, read=_read)
