"""Bot API calls whose answer nobody reads, sent without building objects from that answer.

python-telegram-bot turns every answer into objects (a Message with its chat, sender and
keyboard). For a reply or an edit the bot never looks at again that was about a fifth of an
update's time, so these keep the answer as plain data. They raise the same errors as the
typed methods (RetryAfter, Forbidden, BadRequest, ...) and pass the same rate limiter.
"""

from __future__ import annotations

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode


async def _call(bot: Bot, method: str, params: dict[str, object]) -> None:
    # Bot._post is what every typed method calls before it builds objects from the answer.
    # The public do_api_request does the same but warns on every call for a method the
    # library knows, which would put a warning in the log for each reply.
    await bot._post(method, params)  # noqa: SLF001  # see above; pinned below the next major


async def send_html(bot: Bot, chat_id: int, text: str,
                    keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Send HTML text (and buttons, if any) as a new message."""
    params: dict[str, object] = {"chat_id": chat_id, "text": text, "parse_mode": ParseMode.HTML}
    if keyboard is not None:
        params["reply_markup"] = keyboard
    await _call(bot, "sendMessage", params)


async def edit_html(bot: Bot, chat_id: int, message_id: int, text: str) -> None:
    """Replace a message's text with HTML, taking its buttons off."""
    await _call(bot, "editMessageText", {"chat_id": chat_id, "message_id": message_id,
                                         "text": text, "parse_mode": ParseMode.HTML})
