"""The conversation's own menus: language, /forget, the check-in offer and /reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import checkins
from bot.conversation.menus import Again, Menu, OpenMenu, Step, by_label, keep_open, yes_or_no
from bot.conversation.reply import Reply, say
from bot.dialogue.answers import NO, YES, normalise
from bot.dialogue.session import Session
from bot.dialogue.texts import LANGUAGES
from bot.dialogue.turn import Message, Option, Text, Turn
from bot.outbox import APPOINTMENT_REMINDER, CHECKIN

LANGUAGE_CHOICE = "lang:"
FORGET_CHOICE = "forget:"
REMINDERS_CHOICE = "reminders:"
# The reminders a patient may stop; clinic notifications are the clinic's, not theirs.
PATIENT_REMINDERS = (CHECKIN, APPOINTMENT_REMINDER)
# A forget button deletes only this soon after it was shown ("forget:yes:<unix seconds>"), so
# an old chat scrolled back to cannot erase a patient by one stray tap.
FORGET_VALID = timedelta(minutes=10)
# Clocks of several bot processes may differ a little; a button "from the future" by less is fine.
CLOCK_SKEW = timedelta(minutes=1)


class Forgotten(Reply):
    """The reply to a confirmed /forget: nothing is saved afterwards, and the channel says so."""


# -- language ---------------------------------------------------------------------------------


def language_menu() -> tuple[Option, ...]:
    """A button per language, each named in its own language."""
    return tuple(Option(Text(f"lang.{code}"), f"{LANGUAGE_CHOICE}{code}") for code in LANGUAGES)


def ask_language(step: Step) -> Reply:
    """/language: the menu of languages, waiting for a choice."""
    turn, menu = say("app.language_prompt"), language_menu()
    keep_open(step.session, LANGUAGE_CHOICE, turn.messages, menu)
    return step.reply(turn, menu)


async def _set_language(step: Step, code: str) -> Reply:
    session = step.session
    if code not in LANGUAGES:  # a forged or outdated button: ask again, change nothing
        turn, menu = say("service.language_unknown"), language_menu()
        keep_open(session, LANGUAGE_CHOICE, say("app.language_prompt").messages, menu)
        return step.reply(turn, menu)
    session.language = code
    return step.noted("app.language_set")


async def _read_language(step: Step, typed: str, shown: OpenMenu) -> str | Again:
    chosen = by_label(step.desk.content, typed, shown.options)
    if chosen is None and normalise(typed) in LANGUAGES:  # "en", "zh"
        chosen = f"{LANGUAGE_CHOICE}{normalise(typed)}"
    return chosen or Again()


# -- /forget ----------------------------------------------------------------------------------


def forget_menu(now: datetime) -> tuple[Option, ...]:
    """Delete (valid for a while from ``now``) or cancel."""
    shown = int(now.timestamp())
    return (Option(Text("opt.confirm_forget"), f"{FORGET_CHOICE}yes:{shown}"),
            Option(Text("opt.cancel"), f"{FORGET_CHOICE}no"))


def ask_forget(step: Step) -> Reply:
    """/forget: ask first, with a delete button that expires."""
    turn, menu = say("app.forget_confirm"), forget_menu(step.now)
    keep_open(step.session, FORGET_CHOICE, turn.messages, menu)
    return step.reply(turn, menu)


async def _forget(step: Step, choice: str) -> Reply:
    answer, _, shown = choice.partition(":")
    if answer != "yes":
        return step.noted("app.forget_cancelled")
    if not _still_valid(shown, step.now):
        return step.noted("service.forget_expired")
    await step.tx.forget()
    return Forgotten(step.session.language, say("app.forgotten"))


async def _read_forget(step: Step, typed: str, shown: OpenMenu) -> str | Again:
    """A typed no cancels; only the delete button's own words delete.

    Erasure cannot be undone, and a bare "yes" may have been meant for the question before: it
    is asked again, pointing at the button, rather than taken (spec §2a: never dropped).
    """
    content = step.desk.content
    chosen = by_label(content, typed, shown.options, positions=False)
    if chosen is not None:
        return chosen
    said = yes_or_no(content, typed)
    if said == NO:
        return f"{FORGET_CHOICE}no"
    if said == YES:
        return Again(Text("menu.forget_typed_yes"))
    return Again()


def _still_valid(shown: str, now: datetime) -> bool:
    """Whether a forget button shown at ``shown`` (unix seconds) may still delete."""
    if not shown.isdigit():
        return False
    age = now - datetime.fromtimestamp(int(shown), UTC)
    return -CLOCK_SKEW <= age <= FORGET_VALID


# -- the check-in offer -----------------------------------------------------------------------


def checkin_menu() -> tuple[Option, ...]:
    """Accept or decline the check-ins offered."""
    return (Option(Text("opt.checkin_accept"), f"{checkins.CHECKIN_CHOICE}accept"),
            Option(Text("opt.checkin_decline"), f"{checkins.CHECKIN_CHOICE}decline"))


def offer_checkins(session: Session, offer: Message) -> tuple[Option, ...]:
    """The offer's buttons, and the offer kept open so a typed answer is read."""
    menu = checkin_menu()
    keep_open(session, checkins.CHECKIN_CHOICE, (offer,), menu)
    return menu


async def _checkin_choice(step: Step, what: str) -> Reply:
    session, desk = step.session, step.desk
    if what == "start":
        return step.reply(start_checkin(step))
    if what == "accept" and session.care.get("weeks"):
        await step.tx.cancel(step.tx.chat_id, [CHECKIN])  # a new course's plan replaces the old
        await checkins.schedule(step.tx, session, f"{checkins.CHECKIN_CHOICE}start",
                                desk.timezone)
        return step.noted("rec.checkin_accepted")
    return step.noted("rec.checkin_declined")


async def _read_checkin(step: Step, typed: str, shown: OpenMenu) -> str | Again:
    content = step.desk.content
    chosen = by_label(content, typed, shown.options)
    if chosen is not None:
        return chosen
    said = yes_or_no(content, typed)
    if said is None:
        return Again()
    return f"{checkins.CHECKIN_CHOICE}{'accept' if said == YES else 'decline'}"


def start_checkin(step: Step) -> Turn:
    """/checkin, or a reminder's button: the check-in questions, once the screening is done."""
    session, desk = step.session, step.desk
    screening = desk.content.engines["screening"]
    if session.dialogue == "screening" and screening.question(session) is not None:
        # A check-in would leave the screening half answered: finish it first.
        return desk.with_current(session, Text("checkin.finish_screening_first"))
    turn = checkins.start(desk.content, session, desk.clock())
    if turn is None:
        return desk.with_current(session, Text("checkin.no_screening"))
    return turn


# -- /reminders -------------------------------------------------------------------------------


async def list_reminders(step: Step) -> Reply:
    """What is scheduled for this patient, with a button to stop it all."""
    tx = step.tx
    rows = [r for r in await tx.pending() if r.kind in PATIENT_REMINDERS]
    if not rows:
        return step.noted("reminders.none")
    zone = step.desk.timezone
    items = [Text("reminders.item", {"when": r.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                                     "what": Text(f"reminders.kind.{r.kind}")})
             for r in rows]
    stop = Option(Text("opt.stop_reminders"), f"{REMINDERS_CHOICE}stop")
    # Not kept open: a list with a button to act on, not a question waiting for its answer.
    return step.reply(say("reminders.list", items=items), (stop,))


async def _stop_reminders(step: Step, _: str) -> Reply:
    await step.tx.cancel(step.tx.chat_id, PATIENT_REMINDERS)
    return step.noted("reminders.stopped")


MENUS = (
    Menu(LANGUAGE_CHOICE, _set_language, read=_read_language),
    Menu(FORGET_CHOICE, _forget, read=_read_forget),
    Menu(checkins.CHECKIN_CHOICE, _checkin_choice, read=_read_checkin),
    Menu(REMINDERS_CHOICE, _stop_reminders),
)
