"""The bench's in-process Bot API answers as Telegram does, and plays whole screenings."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import ApplicationBuilder

from bot.bench.baseline import build_baseline
from bot.bench.fake_telegram import FakeTelegram
from bot.bench.serve import drive
from bot.bench.traffic import Patient, Traffic, question_texts
from bot.content import load_content
from bot.dialogue.turn import Text

TOKEN = "1234567:test"  # noqa: S105  # not a credential: nothing leaves the process


async def test_a_sent_message_comes_back_parsed_and_its_buttons_stay_pressable() -> None:
    api = FakeTelegram()
    app = ApplicationBuilder().token(TOKEN).request(api).get_updates_request(api).build()
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("No", callback_data="a:1:no")]])
    async with app:
        sent = await app.bot.send_message(5, "<b>Fever?</b>", parse_mode="HTML",
                                          reply_markup=keyboard)
        await app.bot.edit_message_text("Fever? No", chat_id=5, message_id=sent.message_id)

    assert sent.chat.id == 5
    assert sent.text == "Fever?"
    assert api.calls["sendMessage"] == 1
    assert api.calls["editMessageText"] == 1
    # The edit carried no buttons, so the message has none left to press.
    assert api.chats[5].keyboards == []
    assert api.chats[5].last_text == "<b>Fever?</b>"


async def test_the_baseline_bot_is_taken_through_whole_screenings_by_the_traffic() -> None:
    content = load_content()
    api = FakeTelegram()
    app = build_baseline(content, TOKEN, api)
    traffic = Traffic(api, question_texts(content), seed=3)
    patients = [Patient(chat_id, "en") for chat_id in (11, 12, 13)]

    async def untimed(step: object) -> float:
        await step  # type: ignore[misc]  # an awaitable, as drive hands it over
        return 0.0

    async with app:
        await drive(app, traffic, patients, untimed)

    closing = content.catalog.html(Text("app.finished"), "en")
    for patient in patients:
        assert api.chats[patient.chat_id].last_text == closing
    assert traffic.kinds["press"] > 0
    assert traffic.kinds["typed"] > 0
