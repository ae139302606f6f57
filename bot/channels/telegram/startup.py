"""``ldh-bot run`` from settings to serving: ops listener, Telegram reached, then updates.

Start-up faults are one clear line each, never a traceback: an unreachable Telegram is retried
with back-off (the ops listener already answers 503 meanwhile), a refused token or a database
that cannot be opened ends the process with a non-zero code for its supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlparse

from telegram import Bot
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

from bot.channels.telegram.polling import run_polling
from bot.channels.telegram.webhook import run_webhook
from bot.ops.health import Health
from bot.ops.listener import start_listener
from bot.ops.logs import mask
from bot.ops.settings import RunSettings
from bot.storage import StorageError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_SETTINGS = 0, 1, 2
FIRST_RETRY = 1.0  # seconds before the second try to reach Telegram, doubling after
MAX_RETRY = 60.0

Sleep = Callable[[float], Awaitable[None]]


async def wait_for_telegram(bot: Bot, stop: asyncio.Event, sleep: Sleep | None = None) -> bool:
    """Initialise ``bot`` (a getMe), retrying until Telegram answers; False if ``stop`` came first.

    A refused token is not retried: InvalidToken is raised.
    """
    delay = FIRST_RETRY
    while not stop.is_set():
        try:
            await bot.initialize()
        except InvalidToken:
            raise
        except RetryAfter as error:
            wait = _seconds(error.retry_after)
            why = "Telegram asks to wait"
        except TelegramError as error:
            wait, delay = delay, min(delay * 2, MAX_RETRY)
            why = f"{type(error).__name__}: {error.message}"
        else:
            return True
        log.warning("cannot reach Telegram (%s); retrying in %.0f s", why, wait)
        await _pause(stop, wait, sleep)
    return False


async def serve(app: Application, run: RunSettings, health: Health) -> int:  # type: ignore[type-arg]  # PTB's generics are for custom contexts
    """Serve until SIGTERM or SIGINT; the exit code says how it ended."""
    listener = None
    if run.ops.listen is not None:
        host, port = run.ops.listen
        try:
            listener = start_listener(host, port, health)
        except OSError as error:
            log.error("cannot listen on LDH_OPS_LISTEN %s:%d: %s", host, port, error.strerror)  # noqa: TRY400  # one line, not a traceback
            return EXIT_FAILED
    try:
        return await _serve(app, run)
    except InvalidToken:
        log.error("Telegram refused the bot token %s: check TELEGRAM_BOT_TOKEN with @BotFather",  # noqa: TRY400  # one line, not a traceback
                  mask(run.bot.token))
        return EXIT_SETTINGS
    except StorageError as error:
        log.error("cannot open the database: %s", _one_line(error))  # noqa: TRY400  # one line, not a traceback
        return EXIT_FAILED
    except (TelegramError, OSError) as error:
        log.error("cannot serve: %s: %s", type(error).__name__, _one_line(error))  # noqa: TRY400  # one line, not a traceback
        return EXIT_FAILED
    except Exception:
        # A fault nobody foresaw: its traceback helps, and it goes through the log so the
        # token and passwords in it are masked.
        log.exception("ldh-bot run stopped by an unexpected error")
        return EXIT_FAILED
    finally:
        if listener is not None:
            listener.stop()


async def _serve(app: Application, run: RunSettings) -> int:  # type: ignore[type-arg]  # see above
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        reached = await wait_for_telegram(app.bot, stop)
    except InvalidToken:
        await app.bot.shutdown()
        raise
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
    if not reached:
        await app.bot.shutdown()
        return EXIT_OK
    settings = run.bot
    if settings.webhook_url is None:
        await run_polling(app)
    else:
        host, port = settings.webhook_listen
        await run_webhook(
            app, host=host, port=port, path=urlparse(settings.webhook_url).path,
            url=settings.webhook_url, secret=settings.webhook_secret or "",
        )
    return EXIT_OK


async def _pause(stop: asyncio.Event, seconds: float, sleep: Sleep | None) -> None:
    """Wait ``seconds`` (on ``sleep`` when given), or less when ``stop`` is set."""
    if sleep is not None:
        await sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _one_line(error: BaseException) -> str:
    """An error's message on one line (libpq's, for one, adds a hint on a second)."""
    return " ".join(str(error).split())


def _seconds(delay: float | timedelta) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
