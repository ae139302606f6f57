"""Long polling that confirms updates only after they are handled: at-least-once delivery.

python-telegram-bot's Updater confirms a batch (by asking for the next offset) as soon as it
has queued it, so a crash loses the updates in hand. Here a batch is handled completely, and
only then is the next offset asked for; after a crash Telegram sends the batch again, and the
store's update-id record turns the repeats into a re-shown question instead of a double step.
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


async def poll(app: Application, stop: asyncio.Event) -> None:  # type: ignore[type-arg]  # PTB's generics are for custom contexts
    """Fetch, handle and confirm batches until ``stop`` is set."""
    offset: int | None = None
    backoff = 1.0
    while not stop.is_set():
        fetch = asyncio.ensure_future(app.bot.get_updates(
            offset=offset, timeout=POLL_TIMEOUT, limit=BATCH, allowed_updates=Update.ALL_TYPES,
            read_timeout=POLL_TIMEOUT + 10,
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
        if updates:
            # Many chats at once; the channel's per-chat lock keeps each chat in order.
            await asyncio.gather(*(app.process_update(update) for update in updates))
            offset = updates[-1].update_id + 1
    if offset is not None:
        # Confirm the last handled batch, so a restart does not see it again.
        with contextlib.suppress(TelegramError):
            await app.bot.get_updates(offset=offset, timeout=0, limit=1)


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
