"""Outbox rows sent through python-telegram-bot: rendered at send time in the row's language."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.channels.telegram.render import MAX_CALLBACK, menu_data, split_html
from bot.dialogue.texts import Catalog
from bot.logsafe import chat_ref
from bot.outbox import Payload
from bot.reminders.sending import Gate, Outcome, Verdict
from bot.storage.base import OutboxItem

log = logging.getLogger(__name__)

# A patient's pain chart as PNG bytes, or None when there is nothing to draw.
Charts = Callable[[int], Awaitable[bytes | None]]


@dataclass(frozen=True)
class Part:
    """One Bot API call of a row: an HTML text (maybe with buttons), or a chart photo."""

    text: str = ""
    keyboard: InlineKeyboardMarkup | None = None
    chart_of: int | None = None


def keyboard(payload: Payload, catalog: Catalog) -> InlineKeyboardMarkup | None:
    """The payload's buttons, one per row; each sends its value back as a menu choice."""
    if not payload.buttons:
        return None
    rows = []
    for button in payload.buttons:
        data = menu_data(button.data)
        if len(data.encode()) > MAX_CALLBACK:
            msg = f"callback data of {len(data.encode())} bytes, over {MAX_CALLBACK}"
            raise ValueError(msg)
        label = catalog.plain(button.label, payload.language)
        rows.append([InlineKeyboardButton(label, callback_data=data)])
    return InlineKeyboardMarkup(rows)


def parts(payload: Payload, catalog: Catalog) -> list[Part]:
    """The calls a payload takes, in order: its texts (buttons on the last), then the chart.

    The chart comes after the text because the text is what a notification preview shows.
    """
    texts = [piece for message in payload.messages
             for piece in split_html(catalog.message_html(message, payload.language))]
    out = [Part(text) for text in texts]
    markup = keyboard(payload, catalog)
    if markup is not None and out:
        out[-1] = Part(out[-1].text, markup)
    if payload.chart_of is not None:
        out.append(Part(chart_of=payload.chart_of))
    return out


def retry_seconds(error: RetryAfter) -> float:
    """Telegram's retry_after in seconds, whichever type this python-telegram-bot gives."""
    # PTB 22 warns that the int will become a timedelta; both are handled, so the warning is moot.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        delay = error.retry_after
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


def outcome_of(error: TelegramError, delivered: int) -> Outcome:
    """Map a python-telegram-bot error to what the dispatcher does about it."""
    cause, detail = type(error).__name__, error.message
    if isinstance(error, RetryAfter):
        return Outcome(Verdict.FLOOD, delivered, retry_seconds(error), cause, detail)
    if isinstance(error, Forbidden):
        return Outcome(Verdict.BLOCKED, delivered, cause=cause, detail=detail)
    # A group that became a supergroup needs its new id in the settings; resending cannot help.
    if isinstance(error, BadRequest | ChatMigrated):
        return Outcome(Verdict.REJECTED, delivered, cause=cause, detail=detail)
    # TimedOut, NetworkError and the rest (a bad gateway, a server restart) may pass.
    return Outcome(Verdict.FAILED, delivered, cause=cause, detail=detail)


class TelegramSender:
    """Sends a row's messages with sendMessage (HTML) and its chart with sendPhoto."""

    def __init__(self, bot: Bot, catalog: Catalog, charts: Charts | None = None) -> None:
        """Send through ``bot``, rendering with ``catalog``; ``charts`` draws pain charts."""
        self._bot = bot
        self._catalog = catalog
        self._charts = charts

    async def send(self, item: OutboxItem, gate: Gate, skip: int) -> Outcome:
        """Send the parts after the first ``skip``, each after ``gate``."""
        try:
            todo = parts(Payload.from_json(item.payload), self._catalog)
        except (KeyError, ValueError, TypeError, IndexError) as error:
            # A text key gone from the catalog or a malformed row: it never becomes sendable.
            return Outcome(Verdict.REJECTED, skip, cause=type(error).__name__,
                           detail=f"cannot render the payload: {error!r}")
        delivered = skip
        for part in todo[skip:]:
            try:
                await self._send_part(item.chat_id, part, gate)
            except TelegramError as error:
                return outcome_of(error, delivered)
            delivered += 1
        return Outcome(Verdict.SENT, delivered)

    async def _send_part(self, chat_id: int, part: Part, gate: Gate) -> None:
        if part.chart_of is None:
            await gate()
            await self._bot.send_message(chat_id, part.text, parse_mode=ParseMode.HTML,
                                         reply_markup=part.keyboard)
            return
        png = await self._chart(part.chart_of)
        if png is not None:
            await gate()
            await self._bot.send_photo(chat_id, png)

    async def _chart(self, patient: int) -> bytes | None:
        """The chart, or None; a chart that fails to draw must not hold back the message."""
        if self._charts is None:
            return None
        try:
            return await self._charts(patient)
        except Exception as error:  # noqa: BLE001  # any drawing fault: the text still goes out
            log.warning("pain chart of chat %s failed (%s); sent without it",
                        chat_ref(patient), type(error).__name__)
            return None
