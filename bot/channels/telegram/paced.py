"""Any Bot API call to a chat through the one pacer, retried through 429s and faults, each logged.

Replies, staff answers and the note a group gets all go this way, so they share Telegram's
budget with the outbox dispatcher and none of them is dropped at the first 429.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram.sender import retry_seconds
from bot.logsafe import chat_ref
from bot.reminders.pacing import Pace, acquire

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

# A message is retried through 429s and server or network faults for this long, each retry
# logged; only then is it given up. Only its own chat waits meanwhile.
PATIENCE = 600.0
RETRY_FIRST = 0.5  # seconds before the first retry after a fault, doubling after
RETRY_MAX = 30.0


class GivenUp(Exception):  # noqa: N818  # an outcome the caller reports, not a bug
    """Telegram did not take the call within ``PATIENCE`` seconds of retries."""


class PacedCalls:
    """Makes Bot API calls to chats at the pace the shared budget allows, retried until taken."""

    def __init__(self, pace: Pace, *, sleep: Sleep = asyncio.sleep,
                 patience: float = PATIENCE) -> None:
        """Book every call with ``pace``; retry for ``patience`` seconds at most."""
        self.pace = pace
        self._sleep = sleep
        self._patience = patience

    async def wait_turn(self, chat_id: int) -> None:
        """Wait for the pacer; if it cannot be asked (its database is down), go unpaced."""
        try:
            await acquire(self.pace, chat_id, urgent=True, sleep=self._sleep)
        except Exception as error:  # noqa: BLE001  # a reply matters more than its pace
            log.warning("pacer unavailable (%s); sending to chat %s unpaced",
                        type(error).__name__, chat_ref(chat_id))

    async def call(self, chat_id: int, make: Callable[[], Awaitable[T]], what: str = "reply") -> T:
        """Make one call (``make`` each attempt) after the pacer's turn; GivenUp after patience.

        Forbidden (the chat blocks the bot) and BadRequest (the call is wrong) are raised at
        once: sending again cannot help.
        """
        waited = 0.0  # seconds spent on retries so far, 429 holds included
        pause = RETRY_FIRST
        while True:
            await self.wait_turn(chat_id)
            try:
                return await make()
            except RetryAfter as error:
                wait = retry_seconds(error)
                # Held in the shared pacer, so every process waits for this chat, and only it.
                await self.pace.hold(chat_id, wait)
                cause, delay = "RetryAfter", 0.0
                waited += wait
                log.warning("%s to chat %s got 429; retrying in %.0f s",
                            what, chat_ref(chat_id), wait)
            except (Forbidden, BadRequest):
                raise
            except (TimedOut, NetworkError) as error:
                cause, delay = type(error).__name__, pause
                pause = min(RETRY_MAX, pause * 2)
                log.warning("%s to chat %s failed (%s: %s); retrying in %.1f s",
                            what, chat_ref(chat_id), cause, error.message, delay)
            waited += delay
            if waited > self._patience:
                msg = f"last fault {cause}"
                raise GivenUp(msg)
            if delay > 0:
                await self._sleep(delay)
