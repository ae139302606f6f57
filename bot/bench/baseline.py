"""The yardstick: a plain python-telegram-bot ConversationHandler bot, state in memory.

It asks the same screening questions, in the dialogue file's order, with the same texts and
buttons, and keeps answers in ``user_data``: what a bot written straight on the library costs.
"""

from __future__ import annotations

import warnings

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest
from telegram.warnings import PTBUserWarning

from bot.bench.traffic import screening_questions
from bot.channels.telegram.render import answer_data, split_html
from bot.content import Content
from bot.conversation import language_from_hint
from bot.dialogue.turn import Question, Text

Context = ContextTypes.DEFAULT_TYPE
Keyboard = InlineKeyboardMarkup


class _Screening:
    """The questions as a straight line; state is the index of the open question."""

    def __init__(self, content: Content) -> None:
        self.catalog = content.catalog
        self.questions = screening_questions(content)

    async def ask(self, update: Update, context: Context, index: int) -> int:
        """Send question ``index`` (or the closing note) and return the next state."""
        chat = update.effective_chat
        if chat is None:
            return ConversationHandler.END
        language = _language(update, context)
        if index >= len(self.questions):
            closing = self.catalog.html(Text("app.finished"), language)
            await context.bot.send_message(chat.id, closing, parse_mode=ParseMode.HTML)
            return ConversationHandler.END
        question = self.questions[index]
        pieces = split_html(self.catalog.html(question.text, language))
        for piece in pieces[:-1]:
            await context.bot.send_message(chat.id, piece, parse_mode=ParseMode.HTML)
        await context.bot.send_message(chat.id, pieces[-1], parse_mode=ParseMode.HTML,
                                       reply_markup=self._keyboard(question, index, language))
        return index

    def _keyboard(self, question: Question, index: int, language: str) -> Keyboard | None:
        if not question.options:
            return None
        return InlineKeyboardMarkup([[InlineKeyboardButton(
            self.catalog.plain(option.label, language),
            callback_data=answer_data(index, option.value),
        )] for option in question.options])

    def typed(self, index: int, text: str, language: str) -> str | None:
        """The value a typed answer names: an option's value or label, or any number."""
        question = self.questions[index]
        wanted = text.strip().lower()
        for option in question.options:
            label = self.catalog.plain(option.label, language).lower()
            if wanted in {option.value.lower(), label}:
                return option.value
        return wanted if not question.options and wanted.isdigit() else None


def _language(update: Update, context: Context) -> str:
    user = update.effective_user
    stored = context.user_data.get("language") if context.user_data is not None else None
    return str(stored) if stored else language_from_hint(user.language_code if user else None)


def build_baseline(
    content: Content, token: str, request: BaseRequest
) -> Application:  # type: ignore[type-arg]  # PTB's generics are for custom contexts
    """The plain bot, wired to ``request`` instead of the network."""
    screening = _Screening(content)

    async def start(update: Update, context: Context) -> int:
        if context.user_data is not None:
            context.user_data.setdefault("answers", {})
            context.user_data["language"] = _language(update, context)
        state = context.user_data.get("index", 0) if context.user_data is not None else 0
        return await screening.ask(update, context, int(state))

    async def pressed(update: Update, context: Context) -> int:
        query = update.callback_query
        index = int(context.user_data.get("index", 0)) if context.user_data is not None else 0
        if query is None:
            return index
        await query.answer()
        _, seq, value = (query.data or "::").split(":", 2)
        if seq != str(index):  # a stale button: show the open question again
            return await screening.ask(update, context, index)
        return await _advance(update, context, index, value)

    async def typed(update: Update, context: Context) -> int:
        index = int(context.user_data.get("index", 0)) if context.user_data is not None else 0
        message = update.effective_message
        value = screening.typed(index, message.text or "", _language(update, context)) \
            if message is not None else None
        if value is None:
            return await screening.ask(update, context, index)
        return await _advance(update, context, index, value)

    async def _advance(update: Update, context: Context, index: int, value: str) -> int:
        if context.user_data is not None:
            context.user_data["answers"][screening.questions[index].state] = value
            context.user_data["index"] = index + 1
        return await screening.ask(update, context, index + 1)

    states = {index: [CallbackQueryHandler(pressed),
                      MessageHandler(filters.TEXT & ~filters.COMMAND, typed)]
              for index in range(len(screening.questions))}
    with warnings.catch_warnings():
        # per_message=False is the plain choice; the library warns about it on principle.
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation = ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states=states,  # type: ignore[arg-type]  # PTB's handler generics
            fallbacks=[CommandHandler("start", start), CallbackQueryHandler(pressed)],
        )
    app = (ApplicationBuilder().token(token).request(request).get_updates_request(request)
           .build())
    app.add_handler(conversation)
    return app
