"""Staff commands over Telegram: recognised only from staff, answered with texts, a photo, files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import RetryAfter, TelegramError

from bot.channels.telegram.render import split_html
from bot.clinic.replies import Output, Photo, StaffRequest
from bot.clinic.staff import COMMANDS, Clock, StaffDesk
from bot.config import Settings
from bot.content import Content
from bot.dialogue.texts import Catalog
from bot.dialogue.turn import Message, Text
from bot.logsafe import chat_ref
from bot.storage.base import Store

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 3  # a staff reply is retried through flood waits this often


class StaffChannel:
    """Carries staff commands from Telegram to the desk and its answers back."""

    def __init__(self, desk: StaffDesk, catalog: Catalog) -> None:
        """Serve ``desk``'s answers, rendered with ``catalog`` in the desk's language."""
        self.desk = desk
        self.catalog = catalog

    def request(self, update: Update) -> StaffRequest | None:
        """The staff command an update carries, or None: not a staff command, or not from staff."""
        message = update.message
        if message is None or message.from_user is None or not (message.text or "").startswith("/"):
            return None
        words = (message.text or "")[1:].split(maxsplit=1)
        command = words[0].split("@", 1)[0].lower() if words else ""
        if command not in COMMANDS or not self.desk.authorised(
            message.from_user.id, message.chat.id, private=message.chat.type == ChatType.PRIVATE
        ):
            return None
        return StaffRequest(message.from_user.id, message.chat.id, command,
                            words[1].strip() if len(words) > 1 else "", update.update_id)

    async def serve(self, bot: Bot, request: StaffRequest) -> None:
        """Answer one staff command in the chat it came from."""
        for output in await self.desk.handle(request):
            try:
                await self._send(bot, request.chat_id, output)
            except TelegramError as error:
                log.warning("staff reply to chat %s failed: %s", chat_ref(request.chat_id),
                            type(error).__name__)
                return

    async def _send(self, bot: Bot, chat_id: int, output: Output) -> None:
        language = self.desk.language
        if isinstance(output, Message):
            for piece in split_html(self.catalog.message_html(output, language)):
                await _retrying(partial(bot.send_message, chat_id, piece,
                                        parse_mode=ParseMode.HTML))
            return
        caption = self.catalog.html(output.caption, language)
        if isinstance(output, Photo):
            await _retrying(partial(bot.send_photo, chat_id, output.png, caption=caption,
                                    parse_mode=ParseMode.HTML))
        else:
            await _retrying(partial(bot.send_document, chat_id, output.data,
                                    filename=output.filename, caption=caption,
                                    parse_mode=ParseMode.HTML))


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
                  clock: Clock) -> StaffChannel | None:
    """The staff side of the bot, or None when ``LDH_STAFF_IDS`` names nobody."""
    if not settings.staff_ids:
        return None
    desk = StaffDesk(content, store, staff_ids=settings.staff_ids,
                     clinic_chat_id=settings.clinic_chat_id, language=settings.clinic_language,
                     timezone=settings.timezone, clock=clock)
    return StaffChannel(desk, content.catalog)


async def set_staff_commands(bot: Bot, channel: StaffChannel,
                             patient_commands: Sequence[BotCommand]) -> None:
    """Show staff commands in each staff member's own chat menu (no one else's)."""
    language = channel.desk.language
    staff = [BotCommand(name, channel.catalog.plain(Text(f"staff.cmd.{name}"), language))
             for name in COMMANDS]
    for user_id in sorted(channel.desk.staff_ids):
        try:
            await bot.set_my_commands([*patient_commands, *staff],
                                      scope=BotCommandScopeChat(user_id))
        except TelegramError as error:  # e.g. a staff member who never opened the bot
            log.info("staff commands not set for %s: %s", chat_ref(user_id), type(error).__name__)


def _seconds(delay: float | timedelta) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)

