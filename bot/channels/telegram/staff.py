"""Staff commands over Telegram: recognised only from staff, answered with texts, a photo, files."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Protocol

from telegram import Bot, BotCommand, BotCommandScopeChat, LinkPreviewOptions, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import RetryAfter, TelegramError

from bot.channels.telegram.paced import GivenUp, PacedCalls
from bot.channels.telegram.render import split_html
from bot.clinic.replies import Output, Photo, StaffRequest, discard
from bot.clinic.staff import COMMANDS, Clock, StaffDesk
from bot.config import Settings
from bot.content import Content
from bot.dialogue.texts import Catalog
from bot.dialogue.turn import Message, Text
from bot.logsafe import chat_ref
from bot.storage.base import Store

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 3  # a staff reply is retried through flood waits this often
PROGRESS_PACE = 3.0  # seconds between edits of a progress message
DASHBOARD = "dashboard"  # the command that asks for a sign-in link


class DashboardLinks(Protocol):
    """The dashboard (the web channel): its one-time sign-in links and its audit trail."""

    async def link_text(self, staff_id: int, language: str, name: str = "") -> str:
        """The answer to /dashboard: a link, or why there is none (``name``: as Telegram shows)."""
        ...

    async def audit(self, staff_id: int, action: str, patient: int | None, detail: str) -> None:
        """Record a staff command in the audit trail."""
        ...


class StaffChannel:
    """Carries staff commands from Telegram to the desk and its answers back."""

    def __init__(self, desk: StaffDesk, catalog: Catalog,
                 monotonic: Callable[[], float] = time.monotonic,
                 dashboard: DashboardLinks | None = None) -> None:
        """Serve ``desk``'s answers, rendered with ``catalog`` in the desk's language."""
        self.desk = desk
        self.catalog = catalog
        self.monotonic = monotonic  # paces the edits of a progress message
        self.dashboard = dashboard  # /dashboard answers with a sign-in link when set
        self._calls: PacedCalls | None = None

    def send_with(self, calls: PacedCalls) -> None:
        """Send every answer through ``calls``: the shared pacer, retried until taken."""
        self._calls = calls

    async def _call(self, chat_id: int, make: Callable[[], Awaitable[object]]) -> None:
        if self._calls is None:
            await _retrying(make)
        else:
            await self._calls.call(chat_id, make, "staff reply")

    def request(self, update: Update) -> StaffRequest | None:
        """The staff command an update carries, or None: not a staff command, or not from staff."""
        message = update.message
        if message is None or message.from_user is None or not (message.text or "").startswith("/"):
            return None
        words = (message.text or "")[1:].split(maxsplit=1)
        command = words[0].split("@", 1)[0].lower() if words else ""
        if command == DASHBOARD and self.dashboard is not None:
            # A sign-in link only ever goes to a staff member's own private chat.
            if message.chat.type != ChatType.PRIVATE or not self.desk.authorised(
                    message.from_user.id, message.chat.id, private=True):
                return None
            return StaffRequest(message.from_user.id, message.chat.id, DASHBOARD, "",
                                update.update_id, message.from_user.full_name)
        if command not in COMMANDS or not self.desk.authorised(
            message.from_user.id, message.chat.id, private=message.chat.type == ChatType.PRIVATE
        ):
            return None
        return StaffRequest(message.from_user.id, message.chat.id, command,
                            words[1].strip() if len(words) > 1 else "", update.update_id)

    async def serve(self, bot: Bot, request: StaffRequest) -> None:
        """Answer one staff command in the chat it came from."""
        if request.command == DASHBOARD and self.dashboard is not None:
            text = await self.dashboard.link_text(request.user_id, self.desk.language,
                                                  request.name)
            try:
                # No preview: a preview fetcher must not even open the link.
                await self._call(request.chat_id, partial(
                    bot.send_message, request.chat_id, text,
                    link_preview_options=LinkPreviewOptions(is_disabled=True)))
            except (TelegramError, GivenUp) as error:
                log.warning("dashboard link to chat %s failed: %s", chat_ref(request.chat_id),
                            type(error).__name__)
            return
        progress = ProgressMessage(bot, request.chat_id, self._progress_text, self.monotonic,
                                   self._calls)
        outputs = await self.desk.handle(request, progress.report)
        try:
            for output in outputs:
                try:
                    await self._send(bot, request.chat_id, output)
                except (TelegramError, GivenUp) as error:
                    log.warning("staff reply to chat %s failed: %s", chat_ref(request.chat_id),
                                type(error).__name__)
                    return
        finally:
            discard(outputs)

    def _progress_text(self, count: int, done: bool) -> str:  # noqa: FBT001  # Progress's flag
        key = "staff.export.progress_done" if done else "staff.export.progress"
        return self.catalog.message_html(Message((Text(key, {"count": count}),)),
                                         self.desk.language)

    async def _send(self, bot: Bot, chat_id: int, output: Output) -> None:
        language = self.desk.language
        if isinstance(output, Message):
            for piece in split_html(self.catalog.message_html(output, language)):
                await self._call(chat_id, partial(bot.send_message, chat_id, piece,
                                        parse_mode=ParseMode.HTML))
            return
        caption = self.catalog.html(output.caption, language)
        if isinstance(output, Photo):
            await self._call(chat_id, partial(bot.send_photo, chat_id, output.png, caption=caption,
                                    parse_mode=ParseMode.HTML))
        elif isinstance(output.data, Path):
            with output.data.open("rb") as file:  # the upload reads it, once per attempt

                async def upload() -> object:
                    file.seek(0)
                    return await bot.send_document(chat_id, file, filename=output.filename,
                                                   caption=caption, parse_mode=ParseMode.HTML)

                await self._call(chat_id, upload)
        else:
            await self._call(chat_id, partial(bot.send_document, chat_id, output.data,
                                    filename=output.filename, caption=caption,
                                    parse_mode=ParseMode.HTML))


class ProgressMessage:
    """One message that tells staff how far a long command has got, edited as it goes on.

    Edits are paced (``PROGRESS_PACE`` seconds apart) so a fast export does not spend
    Telegram's per-chat budget; a failed progress message never stops the command itself.
    """

    def __init__(self, bot: Bot, chat_id: int, text: Callable[[int, bool], str],
                 monotonic: Callable[[], float], calls: PacedCalls | None = None) -> None:
        """Report in ``chat_id``, worded by ``text(count, done)``, each call in the pacer's turn."""
        self.calls = calls
        self.bot = bot
        self.chat_id = chat_id
        self.text = text
        self.monotonic = monotonic
        self.message_id: int | None = None
        self.last: float | None = None

    async def report(self, count: int, done: bool) -> None:  # noqa: FBT001  # Progress's flag
        """Show ``count``: at once the first time, then at most every ``PROGRESS_PACE`` s."""
        now = self.monotonic()
        if not done and self.last is not None and now - self.last < PROGRESS_PACE:
            return
        self.last = now
        text = self.text(count, done)
        if self.calls is not None:
            await self.calls.wait_turn(self.chat_id)
        try:
            if self.message_id is None:
                message = await self.bot.send_message(self.chat_id, text,
                                                       parse_mode=ParseMode.HTML)
                self.message_id = message.message_id
            else:
                await self.bot.edit_message_text(text, self.chat_id, self.message_id,
                                                 parse_mode=ParseMode.HTML)
        except TelegramError as error:
            log.info("progress message in chat %s failed: %s", chat_ref(self.chat_id),
                     type(error).__name__)


async def _retrying(call: Callable[[], Awaitable[object]]) -> None:
    """Make a call, waiting out Telegram's flood limits a few times before giving up."""
    for attempt in range(SEND_ATTEMPTS):
        try:
            await call()
        except RetryAfter as error:
            if attempt == SEND_ATTEMPTS - 1:
                raise
            await asyncio.sleep(_seconds(error.retry_after))
        else:
            return


def staff_channel(settings: Settings, content: Content, store: Store,
                  clock: Clock, dashboard: DashboardLinks | None = None) -> StaffChannel | None:
    """The staff side of the bot, or None when ``LDH_STAFF_IDS`` names nobody."""
    if not settings.staff_ids:
        return None
    desk = StaffDesk(content, store, staff_ids=settings.staff_ids,
                     clinic_chat_id=settings.clinic_chat_id, language=settings.clinic_language,
                     timezone=settings.timezone, clock=clock,
                     audit=dashboard.audit if dashboard is not None else None)
    return StaffChannel(desk, content.catalog, dashboard=dashboard)


async def set_staff_commands(bot: Bot, channel: StaffChannel,
                             patient_commands: Sequence[BotCommand]) -> None:
    """Show staff commands in each staff member's own chat menu (no one else's).

    ``/dashboard`` is listed only when the bot serves the dashboard.
    """
    language = channel.desk.language
    names = [*COMMANDS, *([DASHBOARD] if channel.dashboard is not None else [])]
    staff = [BotCommand(name, channel.catalog.plain(Text(f"staff.cmd.{name}"), language))
             for name in names]
    for user_id in sorted(channel.desk.staff_ids):
        try:
            await bot.set_my_commands([*patient_commands, *staff],
                                      scope=BotCommandScopeChat(user_id))
        except TelegramError as error:  # e.g. a staff member who never opened the bot
            log.info("staff commands not set for %s: %s", chat_ref(user_id), type(error).__name__)


def _seconds(delay: float | timedelta) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)

