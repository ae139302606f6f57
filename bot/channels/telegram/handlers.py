"""Telegram updates → conversation actions → messages; one update at a time per chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial

from telegram import Bot, CallbackQuery, Message, Update, User
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot import details
from bot.channels.telegram.paced import PATIENCE, GivenUp, PacedCalls
from bot.channels.telegram.render import ANSWER_PREFIX, MENU_PREFIX, Outgoing, render
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
from bot.reminders.pacing import CHAT_BURST, SAFE_CHAT_INTERVAL, Pace, Pacer
from bot.storage.faults import is_storage_fault
from bot.storage.locks import ChatLocks

log = logging.getLogger(__name__)

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
        self.calls = PacedCalls(self.pace, sleep=sleep)
        if staff is not None:
            staff.send_with(self.calls)  # staff answers share the budget and its retries

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
            # answered the first time, and Telegram refuses a second answer (so a step decided
            # again after a conflict answers only once).
            nonlocal answered
            if not answered:
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
        except Exception as error:
            metrics.error("update")
            if is_storage_fault(error):
                # The database refused (down, full, re-created): one line per update, since
                # every update meets it alike and /healthz says the rest.
                metrics.error("storage")
                log.error("update for chat %s failed: the database refused (%s)",  # noqa: TRY400  # a traceback per update would say nothing more
                          chat_ref(action.chat_id), type(error).__name__)
            else:
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
            try:
                await self.calls.call(
                    chat_id, partial(send_html, bot, chat_id, item.text, item.keyboard))
            except GivenUp as error:
                fault = str(error)
            except Forbidden:
                # The patient blocked the bot after writing: one line, and the rest unsent.
                log.info("chat %s blocks the bot; %d reply message(s) not sent",
                         chat_ref(chat_id), len(outgoing) - index)
                return
            else:
                continue
            # The rest would only meet the same fault, and in order after a gap.
            log.error("reply to chat %s given up after %.0f s of retries (%s): %d message(s) "
                      "unsent", chat_ref(chat_id), PATIENCE, fault, len(outgoing) - index)
            return

    async def _paced(self, chat_id: int) -> None:
        """Wait for the pacer (unpaced, with a warning, if it cannot be asked)."""
        await self.calls.wait_turn(chat_id)

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
        except Forbidden:
            pass  # the patient blocked the bot: the reply that follows says so, in one line

    async def _not_private(self, message: Message) -> None:
        """Groups get one short note when they address the bot; other chatter is not ours."""
        if not (message.text or "").startswith("/"):
            return
        user = message.from_user
        language = language_from_hint(user.language_code if user else None)
        note = self.catalog.html(Text("app.not_private"), language)
        chat_id = message.chat.id
        try:
            # Through the pacer: a group takes 20 messages a minute, and a burst of /start
            # there must wait its turn, not be refused.
            await self.calls.call(chat_id, partial(message.reply_text, note,
                                                   parse_mode=ParseMode.HTML), "group note")
        except (GivenUp, Forbidden, BadRequest) as error:
            log.warning("group note to chat %s not sent: %s", chat_ref(chat_id),
                        type(error).__name__)


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
