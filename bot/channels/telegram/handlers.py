"""Telegram updates → conversation actions → messages; one update at a time per chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from telegram import Bot, CallbackQuery, Message, Update, User
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ContextTypes

from bot import details
from bot.channels.telegram.render import ANSWER_PREFIX, MENU_PREFIX, Outgoing, render
from bot.channels.telegram.sender import retry_seconds
from bot.channels.telegram.staff import StaffChannel
from bot.channels.telegram.unread_calls import edit_html, send_html
from bot.clinic.charts import patient_chart
from bot.conversation import (
    UNSUPPORTED,
    Action,
    BeforeCommit,
    Contact,
    Conversations,
    Reply,
    language_from_hint,
)
from bot.dialogue.turn import Message as TurnMessage
from bot.dialogue.turn import Text, Turn
from bot.logsafe import chat_ref
from bot.ops import metrics
from bot.reminders.pacing import CHAT_BURST, SAFE_CHAT_INTERVAL, Pace, Pacer, acquire
from bot.storage.locks import ChatLocks

log = logging.getLogger(__name__)

# A reply is retried through 429s and server or network faults for this long, each retry
# logged; only then is it given up, with an error line. Only its own chat waits meanwhile.
REPLY_PATIENCE = 600.0
RETRY_FIRST = 0.5  # seconds before the first retry after a fault, doubling after
RETRY_MAX = 30.0

Sleep = Callable[[float], Awaitable[None]]


class TelegramChannel:
    """Carries the conversation to Telegram and back."""

    def __init__(
        self,
        conversations: Conversations,
        staff: StaffChannel | None = None,
        *,
        pace: Pace | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Serve ``conversations`` (and ``staff`` commands); sends for one chat never interleave.

        Every reply goes through ``pace``, the budget the outbox dispatcher shares.
        """
        self.conversations = conversations
        self.catalog = conversations.content.catalog
        self.locks = ChatLocks()
        self.staff = staff
        self.pace: Pace = pace or Pacer(chat_interval=SAFE_CHAT_INTERVAL, chat_burst=CHAT_BURST)
        self._sleep = sleep

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Route any update: private messages and buttons are answered, the rest politely."""
        chat = update.effective_chat
        if update.callback_query is not None:
            await self._on_button(context.bot, update, update.callback_query)
        elif update.message is not None and chat is not None:
            # Staff commands (bot/clinic) from staff only; anyone else's fall through below and
            # are answered like any unknown command, with no hint that they exist.
            if self.staff is not None and (request := self.staff.request(update)) is not None:
                async with self.locks.hold(chat.id):
                    await self.staff.serve(context.bot, request)
            elif chat.type != ChatType.PRIVATE:
                await self._not_private(update.message)
            else:
                await self._on_message(context.bot, update, update.message)
        # Edited messages, channel posts and other update kinds change nothing: no reply is due.

    async def _on_message(self, bot: Bot, update: Update, message: Message) -> None:
        user = message.from_user
        hint = user.language_code if user else None
        text = message.text
        if text is None:
            action = Action(message.chat.id, command=UNSUPPORTED, update_id=update.update_id,
                            language_hint=hint)
        elif text.startswith("/"):
            action = _command_action(message.chat.id, text, update.update_id, hint)
        else:
            action = Action(message.chat.id, text=text, update_id=update.update_id,
                            language_hint=hint)
        action = replace(action, contact=_contact(user))
        async with self.locks.hold(message.chat.id):
            reply = await self._handle(action)
            await self._deliver(bot, message.chat.id, reply)

    async def _on_button(self, bot: Bot, update: Update, query: CallbackQuery) -> None:
        message = query.message
        hint = query.from_user.language_code if query.from_user else None
        if not isinstance(message, Message) or message.chat.type != ChatType.PRIVATE:
            await _answer_query(query)
            return
        chat_id = message.chat.id
        action = replace(_button_action(chat_id, query.data or "", update.update_id, hint),
                         contact=_contact(query.from_user))
        answered = False

        async def acknowledge(_: Reply) -> None:
            # Answered before the step commits: a redelivered (already committed) update was
            # answered the first time, and Telegram refuses a second answer.
            nonlocal answered
            answered = True
            await _answer_query(query)

        async with self.locks.hold(chat_id):
            reply = await self._handle(action, acknowledge)
            if not answered and not reply.duplicate:  # the step failed before acknowledging
                await _answer_query(query)
            if reply.turn.answered is not None and not reply.duplicate:
                await self._record_answer(message, reply)
            await self._deliver(bot, chat_id, reply)

    async def _handle(self, action: Action, before_commit: BeforeCommit | None = None) -> Reply:
        try:
            return await self.conversations.handle(action, before_commit)
        except Exception:
            metrics.error("update")
            log.exception("update for chat %s failed", chat_ref(action.chat_id))
            language = language_from_hint(action.language_hint)
            return Reply(language, Turn(messages=(TurnMessage((Text("app.error"),)),)))

    async def _deliver(self, bot: Bot, chat_id: int, reply: Reply) -> None:
        """Send a reply; a check-in's pain chart goes before the question that follows it."""
        outgoing = render(reply, self.catalog)
        chart = None
        if any(effect.kind == "pain_chart" for effect in reply.turn.effects):
            chart = await patient_chart(self.conversations.store, chat_id)
        if chart is None:
            await self._send(bot, chat_id, outgoing)
            return
        waiting = reply.turn.question is not None or bool(reply.menu)
        head, tail = (outgoing[:-1], outgoing[-1:]) if waiting else (outgoing, [])
        await self._send(bot, chat_id, head)
        caption = self.catalog.html(Text("checkin.chart_caption"), reply.language)
        try:
            await self._paced(chat_id)
            await bot.send_photo(chat_id, chart, caption=caption, parse_mode=ParseMode.HTML)
        except TelegramError as error:  # the chart is a courtesy; the words already went out
            log.info("pain chart not sent to %s: %s", chat_ref(chat_id), type(error).__name__)
        await self._send(bot, chat_id, tail)

    async def _send(self, bot: Bot, chat_id: int, outgoing: list[Outgoing]) -> None:
        """Send in order; the question with its buttons is always last."""
        for index, item in enumerate(outgoing):
            if not await self._send_one(bot, chat_id, item):
                # The rest would only meet the same fault, and in order after a gap.
                log.error("reply to chat %s given up after %.0f s of retries: %d message(s) "
                          "unsent", chat_ref(chat_id), REPLY_PATIENCE, len(outgoing) - index)
                return

    async def _paced(self, chat_id: int) -> None:
        """Wait for the pacer; if it cannot be asked (its database is down), send unpaced."""
        try:
            await acquire(self.pace, chat_id, urgent=True, sleep=self._sleep)
        except Exception as error:  # noqa: BLE001  # a reply matters more than its pace
            log.warning("pacer unavailable (%s); replying to chat %s unpaced",
                        type(error).__name__, chat_ref(chat_id))

    async def _send_one(self, bot: Bot, chat_id: int, item: Outgoing) -> bool:
        """One message through the shared pacer, retried through 429s and faults, each logged.

        False when it could not be sent within ``REPLY_PATIENCE``.
        """
        waited = 0.0  # seconds spent on retries so far, 429 holds included
        pause = RETRY_FIRST
        while True:
            await self._paced(chat_id)
            try:
                await send_html(bot, chat_id, item.text, item.keyboard)
            except RetryAfter as error:
                wait = retry_seconds(error)
                # Held in the shared pacer, so every process waits for this chat, and only it.
                await self.pace.hold(chat_id, wait)
                cause, delay = "RetryAfter", 0.0
                waited += wait
                log.warning("reply to chat %s got 429; retrying in %.0f s",
                            chat_ref(chat_id), wait)
            except (Forbidden, BadRequest):
                raise  # the chat is gone or the message is wrong: sending again cannot help
            except (TimedOut, NetworkError) as error:
                cause, delay = type(error).__name__, pause
                pause = min(RETRY_MAX, pause * 2)
                log.warning("reply to chat %s failed (%s: %s); retrying in %.1f s",
                            chat_ref(chat_id), cause, error.message, delay)
            else:
                return True
            waited += delay
            if waited > REPLY_PATIENCE:
                log.warning("reply to chat %s: last fault %s", chat_ref(chat_id), cause)
                return False
            if delay > 0:
                await self._sleep(delay)

    async def _record_answer(self, message: Message, reply: Reply) -> None:
        """Edit the question message to show the answer pressed, so the chat reads as a record."""
        answered = reply.turn.answered
        if answered is None:
            return
        note = self.catalog.html(Text("app.answered", {"answer": answered}), reply.language)
        try:
            await edit_html(message.get_bot(), message.chat.id, message.message_id,
                            f"{message.text_html}\n\n{note}")
        except BadRequest as error:
            # The message may be gone or already show this answer; the reply still follows.
            log.info("could not mark answer on message: %s", error.message)

    async def _not_private(self, message: Message) -> None:
        """Groups get one short note when they address the bot; other chatter is not ours."""
        if not (message.text or "").startswith("/"):
            return
        user = message.from_user
        language = language_from_hint(user.language_code if user else None)
        await message.reply_text(self.catalog.html(Text("app.not_private"), language),
                                 parse_mode=ParseMode.HTML)


def _command_action(chat_id: int, text: str, update_id: int, hint: str | None) -> Action:
    """A typed /command; ``/details N`` asks for option N alone (all of it without N)."""
    name, *arguments = text[1:].split() if len(text) > 1 else [""]
    name = name.split("@", 1)[0].lower()
    if name == "details":
        which = arguments[0] if arguments else details.ALL
        return Action(chat_id, text=details.choice(None, which), update_id=update_id,
                      language_hint=hint)
    return Action(chat_id, command=name or "help", update_id=update_id, language_hint=hint)


def _contact(user: User | None) -> Contact | None:
    """A patient's name and username as Telegram shows them, for the clinic."""
    if user is None:
        return None
    name = " ".join(part for part in (user.first_name, user.last_name) if part) or None
    return Contact(name, user.username)


def _button_action(chat_id: int, data: str, update_id: int, hint: str | None) -> Action:
    """Decode callback data; anything unrecognised is treated as a stale button."""
    prefix, _, rest = data.partition(":")
    if prefix == ANSWER_PREFIX:
        seq, _, value = rest.partition(":")
        if seq.isdigit():
            return Action(chat_id, text=value, seq=int(seq), update_id=update_id,
                          language_hint=hint)
    if prefix == MENU_PREFIX:
        return Action(chat_id, text=rest, update_id=update_id, language_hint=hint)
    return Action(chat_id, text="", seq=-1, update_id=update_id, language_hint=hint)


async def _answer_query(query: CallbackQuery) -> None:
    """Every callback query is answered, so the patient's button stops spinning."""
    try:
        await query.answer()
    except TelegramError as error:
        log.info("callback query could not be answered: %s", error)
