"""What a webhook body must be to be read as a Telegram update (the fields the bot reads)."""

from __future__ import annotations

import pytest

from bot.channels.telegram.update_shape import problem

USER = {"id": 5, "is_bot": False, "first_name": "Pat", "language_code": "en"}
MESSAGE = {"message_id": 1, "date": 1700000000, "text": "/start",
           "chat": {"id": 5, "type": "private"}, "from": USER,
           "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}


def test_updates_as_telegram_sends_them_pass() -> None:
    assert problem({"update_id": 1, "message": MESSAGE}) is None
    press = {"id": "q", "from": USER, "chat_instance": "c", "data": "a:1:no", "message": MESSAGE}
    assert problem({"update_id": 2, "callback_query": press}) is None
    # Kinds the bot does not read pass as they are; a reply nests a few levels deep.
    assert problem({"update_id": 3, "my_chat_member": {"anything": [1, 2.5, None]}}) is None
    assert problem({"update_id": 4, "message": {**MESSAGE, "reply_to_message": MESSAGE}}) is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ([1, 2], "the body is not a JSON object"),
        ({"message": MESSAGE}, "no update_id that Telegram would send"),
        ({"update_id": 2**70, "message": MESSAGE}, "no update_id that Telegram would send"),
        ({"update_id": True}, "no update_id that Telegram would send"),
        ({"update_id": 1, "message": {**MESSAGE, "date": 2**64}},
         "a number larger than any Telegram field"),
        ({"update_id": 1, "x": float("inf")}, "a number that is not finite"),
        ({"update_id": 1, "message": "hi"}, "its message is not one Telegram would send"),
        ({"update_id": 1, "message": {**MESSAGE, "text": 5}},
         "its message is not one Telegram would send"),
        ({"update_id": 1, "callback_query": {"id": "q", "data": "a:1:no"}},
         "its callback_query is not one Telegram would send"),
    ],
)
def test_bodies_no_telegram_update_would_be_are_named(body: object, why: str) -> None:
    assert problem(body) == why


def test_nesting_beyond_any_update_is_refused_without_recursion() -> None:
    deep: object = []
    for _ in range(100_000):  # far deeper than Python's recursion limit
        deep = [deep]
    assert problem({"update_id": 1, "x": deep}) == "nested deeper than any update"
