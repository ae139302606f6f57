"""The bot's Telegram channel in-process against the Bot API stand-in, updates pumped by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from support.botapi_standin import Chat, ChatMessage, StandIn, User
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, TypeHandler

from bot.channels.telegram.handlers import TelegramChannel
from bot.reminders.pacing import Pacer


def unpaced() -> Pacer:
    """A pacer that books every reply at once: for tests of what is said, not of its pace."""
    return Pacer(1e6, chat_interval=0.0)


@dataclass
class Bot:
    """The Application wired to the stand-in; ``pump`` plays the part of polling."""

    app: Application  # type: ignore[type-arg]  # PTB's generics are for custom contexts
    standin: StandIn
    offset: int | None = None

    async def pump(self) -> None:
        """Hand every queued update to the application, as polling would, and confirm them."""
        while updates := await self.app.bot.get_updates(offset=self.offset, timeout=0):
            for update in updates:
                await self.app.process_update(update)
            self.offset = updates[-1].update_id + 1

    async def say(self, user: User, text: str, chat: Chat | None = None) -> list[ChatMessage]:
        """Send a line; return the bot's new messages in that chat."""
        where = chat or user
        before = self._newest(where)
        if chat is None:
            self.standin.send_text(user, text)
        else:
            self.standin.send_in_group(chat, user, text)
        await self.pump()
        return [m for m in self.standin.messages(where) if m.message_id > before]

    async def press(self, user: User, message: ChatMessage, data: str) -> list[ChatMessage]:
        """Press a button of a bot message; return the bot's new messages."""
        before = self._newest(user)
        self.standin.press(user, message.message_id, data)
        await self.pump()
        return [m for m in self.standin.messages(user) if m.message_id > before]

    def _newest(self, chat: Chat | User) -> int:
        return max((m.message_id for m in self.standin.history(chat)), default=0)


@asynccontextmanager
async def running(standin: StandIn, channel: TelegramChannel) -> AsyncIterator[Bot]:
    """The channel served in-process; afterwards, nothing refused and every query answered."""
    app = (ApplicationBuilder().token(standin.token).base_url(standin.base_url)
           .base_file_url(standin.base_file_url).build())
    app.add_handler(TypeHandler(Update, channel.on_update))
    async with app:
        yield Bot(app, standin)
    standin.assert_no_rejections()
    assert standin.unanswered_callback_queries() == []
