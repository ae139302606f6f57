"""The buttons of an appointment's messages, registered with the conversation as its menu."""

from __future__ import annotations

from bot.clinic import appointments
from bot.conversation.menus import Again, Menu, Step, by_label, yes_or_no
from bot.conversation.reply import Reply
from bot.dialogue.answers import YES
from bot.dialogue.turn import Message, Option, Text


async def _choose(step: Step, rest: str) -> Reply:
    """The patient's answer to a booking or reminder: recorded, the clinic told."""
    note = await appointments.choose(step.tx, step.session.language,
                                     f"{appointments.CHOICE}{rest}", step.desk.notify_clinic)
    return step.reply(step.desk.with_current(step.session, note))


async def _typed(step: Step, typed: str) -> str | Again | None:
    """Typed text after the dialogue ends, while a coming visit waits for the patient's answer.

    Its buttons' words, or a clear yes (I will come), answer it; anything else asks again with
    the buttons, since an unanswered visit is a question still open.
    """
    events = await step.tx.events()
    visit = appointments.latest(events)
    if visit is None or visit.at <= step.now or appointments.last_answer(events, visit.id):
        return None
    options = tuple(Option(Text(f"appointment.opt.{choice}"),
                           appointments.callback(visit.id, choice))
                    for choice in appointments.CHOICES)
    content = step.desk.content
    chosen = by_label(content, typed, options, positions=False)
    if chosen is None and yes_or_no(content, typed) == YES:
        chosen = appointments.callback(visit.id, appointments.CONFIRM)
    if chosen is not None:
        return chosen
    prompt = Message((Text("appointment.reminder.day_before",
                           {"when": appointments.when(visit.at), "place": visit.place}),))
    return Again(prompt=(prompt,), options=options)


MENU = Menu(appointments.CHOICE, _choose, idle=_typed)
