"""The patient's /commands: each one a handler of one step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot import details
from bot.conversation import disposition
from bot.conversation.details_menu import MENU as DETAILS
from bot.conversation.menus import Step
from bot.conversation.mydata import mydata
from bot.conversation.reply import UNSUPPORTED, Reply, noted
from bot.conversation.service_menus import (
    ask_forget,
    ask_language,
    list_reminders,
    start_checkin,
)
from bot.dialogue.turn import Text

Command = Callable[[Step], Awaitable[Reply]]

# Commands that only show something: a menu waiting for its answer stays open, shown again.
PASSIVE = frozenset({"start", "help", "mydata", "details", "reminders", UNSUPPORTED})


async def _welcome_back(step: Step) -> Reply:
    """A patient returning: a short welcome back and where they are (never the whole welcome)."""
    return step.reply(noted(Text("resume.welcome_back"), step.desk.current(step.session)))


async def _back(step: Step) -> Reply:
    if disposition.standing(step.session) is not None:
        return disposition.hold(step, "back")
    return step.reply(step.desk.engine(step.session).back(step.session))


async def _restart(step: Step) -> Reply:
    if disposition.standing(step.session) is not None:
        return disposition.hold(step, "restart")
    return step.reply(step.desk.content.engines["screening"].restart(step.session))


async def _checkin(step: Step) -> Reply:
    return step.reply(start_checkin(step))


async def _help(step: Step) -> Reply:
    return step.noted("app.help")


async def _mydata(step: Step) -> Reply:
    return step.reply(await mydata(step))


async def _details(step: Step) -> Reply:
    return await DETAILS.handle(step, details.choice(None, details.ALL)
                                .removeprefix(details.CHOICE))


async def _unsupported(step: Step) -> Reply:
    return step.noted("app.unsupported")


async def _language(step: Step) -> Reply:
    return ask_language(step)


async def _forget(step: Step) -> Reply:
    return ask_forget(step)


COMMANDS: dict[str, Command] = {
    "start": _welcome_back,
    "back": _back,
    "restart": _restart,
    "checkin": _checkin,
    "help": _help,
    "mydata": _mydata,
    "details": _details,
    UNSUPPORTED: _unsupported,
    "language": _language,
    "forget": _forget,
    "reminders": list_reminders,
}


def passive(name: str) -> bool:
    """Whether a command only shows something (an unknown one is named back, nothing more)."""
    return name in PASSIVE or name not in COMMANDS


async def command(step: Step, name: str) -> Reply:
    """A /command; an unknown one is named back to the patient with where they are."""
    handler = COMMANDS.get(name)
    if handler is None:
        return step.noted("app.unknown_command", command=f"/{name}")
    return await handler(step)
