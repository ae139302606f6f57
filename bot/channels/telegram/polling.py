"""Long polling that confirms updates only after they are handled: at-least-once delivery.

python-telegram-bot's Updater confirms a batch (by asking for the next offset) as soon as it
has queued it, so a crash loses the updates in hand. Here each update is handled in a task of
its own while polling goes on, and the offset asked for is the lowest update still unfinished:
Telegram forgets only what is done. After a crash it sends the rest again, and the store's
update-id record turns repeats into a re-shown question instead of a double step. One chat's
slow reply (a 429 it must sleep out) therefore holds up that chat alone; updates of one chat
are still handled one after another, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

log = logging.getLogger(__name__)

POLL_TIMEOUT = 30  # seconds Telegram holds a getUpdates request open
BATCH = 100  # the most updates Telegram returns at once
MAX_BACKOFF = 30.0


STOP_GRACE = 10.0  # seconds updates in hand get to finish at shutdown
RECHECK = 0.2  # seconds between polls while only unfinished updates come back


class _InFlight:
    """Updates being handled, each chat's in order, and the lowest one not finished yet."""

    def __init__(self, app: Application) -> None:  # type: ignore[type-arg]  # see poll
        self._app = app
        self.tasks: dict[int, asyncio.Task[None]] = {}  # by update id
        # Finished but not yet confirmable (an earlier one is unfinished): Telegram sends
        # these again with every batch, and they must not be handled twice.
        self._finished_ids: set[int] = set()
        self._last_of_chat: dict[int, asyncio.Task[None]] = {}
        self.done = asyncio.Event()

    def start(self, update: Update) -> bool:
        """Handle ``update`` unless it is already in hand; True if it was new."""
        if update.update_id in self.tasks or update.update_id in self._finished_ids:
            return False
        chat = update.effective_chat
        previous = self._last_of_chat.get(chat.id) if chat is not None else None
        task = asyncio.create_task(self._handle(update, previous))
        self.tasks[update.update_id] = task
        if chat is not None:
            self._last_of_chat[chat.id] = task
        task.add_done_callback(lambda t: self._finished(update, t))
        return True

    async def _handle(self, update: Update, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            # The chat's earlier update first, whatever became of it: order within a chat.
            await asyncio.wait({previous})
        await self._app.process_update(update)

    def _finished(self, update: Update, task: asyncio.Task[None]) -> None:
        del self.tasks[update.update_id]
        self._finished_ids.add(update.update_id)
        chat = update.effective_chat
        if chat is not None and self._last_of_chat.get(chat.id) is task:
            del self._last_of_chat[chat.id]
        if not task.cancelled() and task.exception() is not None:
            log.error("update handling failed", exc_info=task.exception())
        self.done.set()

    def offset(self, fetched: int | None) -> int | None:
        """The offset to confirm: the lowest unfinished update, else just past the last fetched."""
        if self.tasks:
            lowest = min(self.tasks)
            self._finished_ids = {i for i in self._finished_ids if i > lowest}
            return lowest
        self._finished_ids.clear()
        return None if fetched is None else fetched + 1


async def poll(app: Application, stop: asyncio.Event) -> None:  # type: ignore[type-arg]  # PTB's generics are for custom contexts
    """Fetch updates and handle each as it comes, confirming only handled ones, until ``stop``."""
    flight = _InFlight(app)
    newest: int | None = None  # the highest update id fetched
    backoff = 1.0
    while not stop.is_set():
        offset = flight.offset(newest)
        flight.done.clear()
        # While updates are in hand Telegram answers at once (they are not confirmed yet), so
        # the wait for something new is a short recheck rather than a long poll.
        timeout = 0 if flight.tasks else POLL_TIMEOUT
        fetch = asyncio.ensure_future(app.bot.get_updates(
            offset=offset, timeout=timeout, limit=BATCH, allowed_updates=Update.ALL_TYPES,
            read_timeout=timeout + 10,
        ))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
            break
        try:
            updates = fetch.result()
        except RetryAfter as error:
            await _sleep(stop, float(error.retry_after if isinstance(error.retry_after, int)
                                     else error.retry_after.total_seconds()))
            continue
        except NetworkError as error:
            log.warning("getUpdates failed (%s); retrying in %.0f s", type(error).__name__, backoff)
            await _sleep(stop, backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            continue
        backoff = 1.0
        started = [flight.start(update) for update in updates]
        if updates:
            newest = max(newest or 0, updates[-1].update_id)
        if flight.tasks and not any(started):
            # Nothing new: wait for an update to finish (so it can be confirmed) or a moment.
            await _until(stop, flight.done, RECHECK)
    # Let the updates in hand finish, then confirm them, so a restart does not see them again.
    if flight.tasks:
        _, late = await asyncio.wait(set(flight.tasks.values()), timeout=STOP_GRACE)
        for task in late:
            task.cancel()  # unconfirmed: Telegram sends it again after the restart
        await asyncio.gather(*late, return_exceptions=True)
    offset = flight.offset(newest)
    if offset is not None:
        with contextlib.suppress(TelegramError):
            await app.bot.get_updates(offset=offset, timeout=0, limit=1)


async def _until(stop: asyncio.Event, event: asyncio.Event, seconds: float) -> None:
    """Wait for ``event`` or ``stop``, at most ``seconds``."""
    waits = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())}
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_until_stopped(
    app: Application,  # type: ignore[type-arg]  # see above
    serve: Callable[[Application, asyncio.Event], Awaitable[None]],  # type: ignore[type-arg]
) -> None:
    """The application's whole life around ``serve``, until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with app:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            await serve(app, stop)
        finally:
            await app.stop()
            # While the bot can still send: the outbox dispatcher finishes its sends here.
            if app.post_stop is not None:
                await app.post_stop(app)
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


async def run_polling(app: Application) -> None:  # type: ignore[type-arg]  # see above
    """Run the application by long polling until SIGTERM or SIGINT."""

    async def serve(app: Application, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
        await app.bot.delete_webhook()
        await poll(app, stop)

    await run_until_stopped(app, serve)
