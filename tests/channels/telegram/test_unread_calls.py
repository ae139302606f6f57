"""Replies and answer marks go out as Telegram expects, without their answers being parsed."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import pytest
from support.botapi_standin import StandIn, User
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from bot.channels.telegram.unread_calls import edit_html, send_html

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as running:
        yield running


@pytest.fixture
def user(standin: StandIn) -> User:
    return standin.new_user(language_code="en")


@pytest.fixture
async def bot(standin: StandIn) -> AsyncIterator[Bot]:
    async with Bot(standin.token, base_url=standin.base_url,
                   base_file_url=standin.base_file_url) as client:
        yield client


async def test_a_reply_arrives_with_its_buttons_and_an_edit_takes_them_off(
    standin: StandIn, bot: Bot, user: User,
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("No", callback_data="a:1:no")]])
    with warnings.catch_warnings(record=True) as caught:  # the filters in force stay
        await send_html(bot, user.id, "<b>Fever?</b>", keyboard)
        (sent,) = standin.messages(user)
        await edit_html(bot, user.id, sent.message_id, "<b>Fever?</b>\n\nNo")

    (edited,) = standin.messages(user)
    assert edited.text == "Fever?\n\nNo"
    assert edited.reply_markup is None
    assert sent.callback_data() == ["a:1:no"]
    standin.assert_no_rejections()
    assert caught == [], "no warning in the operator's log for every reply"


async def test_a_refused_edit_raises_as_the_typed_method_would(bot: Bot, user: User) -> None:
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await edit_html(bot, user.id, 99, "gone")
