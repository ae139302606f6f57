"""The conversation with each patient: one action in, one reply out, in one transaction.

``service`` holds the transaction and the step; ``commands`` the /commands; ``menus`` the
registry of buttons features add; ``disposition`` the rule that an emergency or urgent result
stands. The names channels use are gathered here.
"""

from bot.clock import Clock, system_clock
from bot.conversation.menus import Menu, Step
from bot.conversation.reply import (
    UNSUPPORTED,
    Action,
    BeforeCommit,
    Contact,
    Reply,
    language_from_hint,
)
from bot.conversation.service import Conversations
from bot.conversation.service_menus import LANGUAGE_CHOICE

__all__ = [
    "LANGUAGE_CHOICE",
    "UNSUPPORTED",
    "Action",
    "BeforeCommit",
    "Clock",
    "Contact",
    "Conversations",
    "Menu",
    "Reply",
    "Step",
    "language_from_hint",
    "system_clock",
]
