"""Self-tests of the Bot API stand-in, driven by python-telegram-bot and by raw HTTP."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from functools import cache
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from support.botapi_spec import check_object
from support.botapi_standin import RateLimits, StandIn, User
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

JsonDict = dict[str, Any]
KEYBOARD = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"},
                                 {"text": "No", "callback_data": "no"}]]}


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


@cache
def http() -> httpx.Client:
    """One shared client (a new httpx client costs ~50 ms of TLS setup)."""
    return httpx.Client(timeout=10)


def api(standin: StandIn, method: str, /, **params: object) -> httpx.Response:
    """A raw JSON call."""
    return http().post(f"{standin.base_url}{standin.token}/{method}", json=params)


def refusal(response: httpx.Response, status: int = 400) -> str:
    """The description of a refused call, after checking Telegram's error shape."""
    body = response.json()
    assert response.status_code == status, body
    assert body["ok"] is False
    assert body["error_code"] == status
    return str(body["description"])


def result(response: httpx.Response) -> Any:
    """The result of an accepted call."""
    body = response.json()
    assert response.status_code == 200, body
    assert body["ok"] is True
    return body["result"]


def send(standin: StandIn, user: User, text: str, **params: object) -> httpx.Response:
    """sendMessage to the user's private chat."""
    return api(standin, "sendMessage", chat_id=user.id, text=text, **params)


# -- accepted calls, through python-telegram-bot --------------------------------------------------


async def test_get_me_returns_the_bot_user(standin: StandIn, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == standin.bot.id
    assert me.is_bot
    assert standin.calls[0].method == "getMe"


async def test_send_message_with_inline_keyboard_is_accepted(
    standin: StandIn, bot: Bot, user: User
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes"),
                                    InlineKeyboardButton("Docs", url="https://example.org")]])
    sent = await bot.send_message(user.id, "<b>Hello</b> &amp; welcome", parse_mode="HTML",
                                  reply_markup=markup)
    assert sent.text == "Hello & welcome"
    assert sent.entities[0].type == "bold"
    assert sent.reply_markup == markup
    stored = standin.last_bot_message(user)
    assert stored is not None
    assert stored.message_id == sent.message_id
    assert stored.text == "Hello & welcome"
    assert stored.source_text == "<b>Hello</b> &amp; welcome"
    assert stored.callback_data() == ["yes"]
    assert stored.button("Docs").url == "https://example.org"
    assert standin.delivered(user) == 1
    standin.assert_no_rejections()


def test_form_encoded_reply_markup_is_a_json_string(standin: StandIn, user: User) -> None:
    url = f"{standin.base_url}{standin.token}/sendMessage"
    form = {"chat_id": str(user.id), "text": "hi", "reply_markup": '{"inline_keyboard": []}'}
    assert result(http().post(url, data=form))["text"] == "hi"
    by_get = http().get(url, params={"chat_id": user.id, "text": "by GET"})
    assert result(by_get)["text"] == "by GET"


async def test_message_ids_are_per_chat_and_shared_with_user_messages(
    standin: StandIn, bot: Bot, user: User
) -> None:
    other = standin.new_user()
    assert standin.send_text(user, "hello") == 1
    assert (await bot.send_message(user.id, "one")).message_id == 2
    assert (await bot.send_message(other.id, "first")).message_id == 1
    assert [m.message_id for m in standin.history(user)] == [1, 2]
    assert [m.text for m in standin.messages(user)] == ["one"]


async def test_photo_upload_is_multipart_and_downloadable(
    standin: StandIn, bot: Bot, user: User
) -> None:
    sent = await bot.send_photo(user.id, b"\x89PNG fake", caption="<i>scan</i>", parse_mode="HTML")
    assert sent.caption == "scan"
    assert standin.calls_to("sendPhoto")[0].files == ("photo",)
    file = await bot.get_file(sent.photo[-1].file_id)
    assert file.file_path is not None
    assert file.file_path.startswith(f"{standin.base_file_url}{standin.token}/")
    assert bytes(await file.download_as_bytearray()) == b"\x89PNG fake"
    again = await bot.send_photo(user.id, sent.photo[-1].file_id)
    assert again.photo[-1].file_id == sent.photo[-1].file_id


async def test_document_upload_keeps_the_file_name(bot: Bot, user: User) -> None:
    sent = await bot.send_document(user.id, b"a,b\n1,2\n", filename="diary.csv")
    assert sent.document is not None
    assert sent.document.file_name == "diary.csv"


async def test_user_photo_can_be_fetched_by_the_bot(standin: StandIn, bot: Bot,
                                                    user: User) -> None:
    standin.send_photo(user, caption="my MRI", data=b"image-bytes")
    (update,) = await bot.get_updates()
    assert update.message is not None
    assert update.message.caption == "my MRI"
    file = await bot.get_file(update.message.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == b"image-bytes"


def test_unknown_file_id_is_refused(standin: StandIn, user: User) -> None:
    response = api(standin, "sendPhoto", chat_id=user.id, photo="not-a-file-id")
    assert refusal(response) == "Bad Request: wrong file identifier/HTTP URL specified"


def test_unreferenced_file_part_is_refused(standin: StandIn, user: User) -> None:
    url = f"{standin.base_url}{standin.token}/sendMessage"
    files = {"stray": ("a.txt", b"x", "text/plain")}
    response = http().post(url, data={"chat_id": str(user.id), "text": "hi"}, files=files)
    assert "not referenced" in refusal(response)


async def test_chat_action_is_recorded_and_checked(standin: StandIn, bot: Bot, user: User) -> None:
    await bot.send_chat_action(user.id, "typing")
    assert standin.chat_actions(user) == ["typing"]
    response = api(standin, "sendChatAction", chat_id=user.id, action="dancing")
    assert refusal(response) == "Bad Request: wrong parameter action in request"


def test_reply_keyboard_is_tracked_per_chat(standin: StandIn, user: User) -> None:
    keyboard = {"keyboard": [["Yes", {"text": "No"}]], "one_time_keyboard": True}
    result(send(standin, user, "Pick", reply_markup=keyboard))
    assert standin.reply_keyboard(user) == keyboard
    result(send(standin, user, "Thanks", reply_markup={"remove_keyboard": True}))
    assert standin.reply_keyboard(user) is None


async def test_delete_message(standin: StandIn, bot: Bot, user: User) -> None:
    sent = await bot.send_message(user.id, "temporary")
    assert await bot.delete_message(user.id, sent.message_id)
    assert standin.messages(user) == []
    assert [m.text for m in standin.deleted_messages(user)] == ["temporary"]
    response = api(standin, "deleteMessage", chat_id=user.id, message_id=sent.message_id)
    assert refusal(response) == "Bad Request: message to delete not found"


async def test_reply_to_missing_message_is_refused(bot: Bot, user: User) -> None:
    with pytest.raises(BadRequest, match="replied not found"):
        await bot.send_message(user.id, "re", reply_parameters=ReplyParameters(message_id=42))


def test_other_spec_methods_are_validated_and_answered(standin: StandIn,
                                                              user: User) -> None:
    assert result(api(standin, "pinChatMessage", chat_id=user.id, message_id=1)) is True
    sticker = result(api(standin, "sendSticker", chat_id=user.id, sticker="CAACAgIA"))
    assert sticker["chat"]["id"] == user.id
    assert result(api(standin, "setChatMenuButton", menu_button={"type": "commands"})) is True
    bogus = api(standin, "setChatMenuButton", menu_button={"type": "bogus"})
    assert refusal(bogus).startswith("Bad Request: invalid menu_button: expected MenuButton, got")
    assert refusal(api(standin, "pinChatMessage", chat_id=1, message_id=1)).endswith("not found")
    assert result(api(standin, "close")) is True
    assert result(api(standin, "logOut")) is True


# -- refusals ------------------------------------------------------------------------------------


def test_wrong_token_is_unauthorized(standin: StandIn) -> None:
    response = http().post(f"{standin.base_url}123:wrong/getMe")
    assert refusal(response, 401) == "Unauthorized"


async def test_wrong_token_is_invalid_for_ptb(standin: StandIn) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("123:wrong", base_url=standin.base_url):
            pass


def test_unknown_method_is_not_found(standin: StandIn) -> None:
    assert refusal(api(standin, "sendTelepathy"), 404) == "Not Found: method not found"
    assert result(api(standin, "GETME"))["id"] == standin.bot.id


def test_missing_chat_id_is_refused(standin: StandIn) -> None:
    assert refusal(api(standin, "sendMessage", text="hi")) == "Bad Request: chat_id is empty"


def test_missing_other_required_parameter_is_refused(standin: StandIn, user: User) -> None:
    response = api(standin, "deleteMessage", chat_id=user.id)
    assert refusal(response) == "Bad Request: message_id is required"


def test_unknown_parameter_is_refused(standin: StandIn, user: User) -> None:
    response = send(standin, user, "hi", disable_web_page_preview=True)
    assert "unknown parameter 'disable_web_page_preview'" in refusal(response)


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("deleteMessage", {"message_id": "seven"}, "invalid message_id: expected Integer"),
        ("sendMessage", {"text": "x", "disable_notification": "maybe"},
         "invalid disable_notification: expected Boolean"),
        ("sendMessage", {"text": "x", "reply_markup": {"inline_keyboard": [{"text": "a"}]}},
         "invalid reply_markup.inline_keyboard[0]: expected Array of InlineKeyboardButton"),
        ("sendMessage", {"text": "x", "reply_markup": {"inline_keyboard": [[
            {"text": "a", "callback_data": 5}]]}},
         "invalid reply_markup.inline_keyboard[0][0].callback_data: expected String"),
        ("sendMessage", {"text": "x", "reply_markup": {"inline_keyboard": [[
            {"text": "a", "callback": "x"}]]}},
         "invalid reply_markup.inline_keyboard[0][0].callback: InlineKeyboardButton has no field"),
        ("sendMessage", {"text": "x", "link_preview_options": {"is_disabled": "yes"}},
         "invalid link_preview_options.is_disabled: expected Boolean"),
        ("sendMessage", {"text": "x", "reply_parameters": {"chat_id": 1}},
         "invalid reply_parameters.message_id: required by ReplyParameters"),
        ("setMyCommands", {"commands": [{"command": "start"}]},
         "invalid commands[0].description: required by BotCommand"),
        ("setMyCommands", {"commands": [], "scope": {"type": "chat"}},
         "invalid scope.chat_id: required by BotCommandScopeChat"),
        ("setMyCommands", {"commands": [], "scope": {"type": "everywhere"}},
         "invalid scope: expected BotCommandScope"),
    ],
)
def test_wrong_types_are_refused(
    standin: StandIn, user: User, method: str, params: JsonDict, expected: str
) -> None:
    if method in {"sendMessage", "deleteMessage"}:
        params = {"chat_id": user.id, **params}
    assert refusal(api(standin, method, **params)).startswith(f"Bad Request: {expected}")


def test_unknown_chat_is_refused(standin: StandIn) -> None:
    assert refusal(api(standin, "sendMessage", chat_id=123, text="hi")) == (
        "Bad Request: chat not found"
    )


def test_text_of_4096_characters_is_accepted(standin: StandIn, user: User) -> None:
    assert len(result(send(standin, user, "a" * 4096))["text"]) == 4096
    result(send(standin, user, "😀" * 2048))
    result(send(standin, user, f"<b>{'a' * 4096}</b>", parse_mode="HTML"))
    result(send(standin, user, "&amp;" * 4096, parse_mode="HTML"))


@pytest.mark.parametrize(
    ("text", "parse_mode"),
    [("a" * 4097, None), ("😀" * 2049, None), (f"<b>{'a' * 4097}</b>", "HTML")],
)
def test_text_over_4096_utf16_units_is_refused(
    standin: StandIn, user: User, text: str, parse_mode: str | None
) -> None:
    params = {"parse_mode": parse_mode} if parse_mode else {}
    assert refusal(send(standin, user, text, **params)) == "Bad Request: message is too long"


def test_empty_text_is_refused(standin: StandIn, user: User) -> None:
    assert refusal(send(standin, user, "")) == "Bad Request: message text is empty"
    assert refusal(send(standin, user, "  \n ")) == "Bad Request: message text is empty"
    empty_html = send(standin, user, "<b> </b>", parse_mode="HTML")
    assert refusal(empty_html) == "Bad Request: message text is empty"


def test_caption_over_1024_is_refused(standin: StandIn, user: User) -> None:
    response = api(standin, "sendPhoto", chat_id=user.id, photo="https://example.org/p.png",
                   caption="c" * 1025)
    assert refusal(response) == "Bad Request: message caption is too long"


def test_unsupported_parse_mode_is_refused(standin: StandIn, user: User) -> None:
    assert refusal(send(standin, user, "x", parse_mode="html")) == (
        "Bad Request: unsupported parse_mode"
    )


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", 'unescaped "&" or unsupported HTML entity at byte offset 4'),
        ("&nbsp;", 'unescaped "&" or unsupported HTML entity at byte offset 0'),
        ("<i>x</b>", 'Unmatched end tag at byte offset 4, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ('<span class="red">x</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="x>y</a>', 'Unclosed start tag "a" at byte offset 0'),
    ],
)
def test_malformed_html_is_refused(
    standin: StandIn, user: User, text: str, detail: str
) -> None:
    response = send(standin, user, text, parse_mode="HTML")
    assert refusal(response) == f"Bad Request: can't parse entities: {detail}"


@pytest.mark.parametrize(
    ("text", "plain", "entity_types"),
    [
        ("a &amp; b &lt;c&gt; &quot;d&quot; &#128512; &#x41;", 'a & b <c> "d" 😀 A', []),
        ("a > b", "a > b", []),
        ("<b>bold <i>both</i></b>", "bold both", ["bold", "italic"]),
        ('<a href="https://example.org/?a=1&amp;b=2">link</a>', "link", ["text_link"]),
        ('<span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler>', "s t",
         ["spoiler", "spoiler"]),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", ["pre"]),
        ("<blockquote expandable>q</blockquote>", "q", ["expandable_blockquote"]),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍", ["custom_emoji"]),
        ("<U>under</U> <s>gone</s> <code>c</code>", "under gone c",
         ["underline", "strikethrough", "code"]),
    ],
)
def test_valid_html_is_parsed_like_telegram(
    standin: StandIn, user: User, text: str, plain: str, entity_types: list[str]
) -> None:
    sent = result(send(standin, user, text, parse_mode="HTML"))
    assert sent["text"] == plain
    assert [e["type"] for e in sent.get("entities", [])] == entity_types


def test_bare_ampersand_is_accepted_when_not_strict() -> None:
    with StandIn(strict_ampersand=False) as lenient:
        member = lenient.new_user()
        response = send(lenient, member, "Tom & Jerry", parse_mode="HTML")
        assert result(response)["text"] == "Tom & Jerry"


def test_entities_use_utf16_offsets(standin: StandIn, user: User) -> None:
    sent = result(send(standin, user, "😀 <b>x</b>", parse_mode="HTML"))
    assert sent["entities"] == [{"type": "bold", "offset": 3, "length": 1}]


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("*bold* and _italic_", None),
        ("ok\\.", None),
        ("[link](https://example.org)", None),
        ("`code with . inside`", None),
        ("end.", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("*open", "Can't find end of Bold entity at byte offset 0"),
    ],
)
def test_markdown_v2(standin: StandIn, user: User, text: str, refused: str | None) -> None:
    response = send(standin, user, text, parse_mode="MarkdownV2")
    if refused is None:
        result(response)
    else:
        assert refusal(response) == f"Bad Request: can't parse entities: {refused}"


def keyboard_of(*rows: list[JsonDict]) -> JsonDict:
    return {"inline_keyboard": list(rows)}


def test_callback_data_of_64_bytes_is_accepted(standin: StandIn, user: User) -> None:
    result(send(standin, user, "x", reply_markup=keyboard_of(
        [{"text": "a", "callback_data": "d" * 64}],
        [{"text": "b", "callback_data": "é" * 32}],
    )))


@pytest.mark.parametrize("data", ["d" * 65, "é" * 33, ""])
def test_callback_data_outside_1_to_64_bytes_is_refused(
    standin: StandIn, user: User, data: str
) -> None:
    markup = keyboard_of([{"text": "a", "callback_data": data}])
    assert "BUTTON_DATA_INVALID" in refusal(send(standin, user, "x", reply_markup=markup))


async def test_callback_data_over_64_bytes_is_refused_for_ptb(bot: Bot, user: User) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(user.id, "x", reply_markup=markup)


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        (keyboard_of([{"text": "a"}]), "Text buttons are unallowed in the inline keyboard"),
        (keyboard_of([{"text": "a", "callback_data": "x", "url": "https://a.org"}]),
         "more than one action"),
        (keyboard_of([{"text": "", "callback_data": "x"}]), "text must be non-empty"),
        (keyboard_of([{"text": "a", "url": "example.org"}]), "Wrong HTTP URL"),
        (keyboard_of(*[[{"text": "a", "callback_data": "x"}] * 10] * 11),
         "reply markup is too long"),
        (keyboard_of([{"text": "a", "callback_data": "x"}] * 9), "too many buttons"),
    ],
)
def test_bad_inline_keyboards_are_refused(
    standin: StandIn, user: User, markup: JsonDict, expected: str
) -> None:
    assert expected in refusal(send(standin, user, "x", reply_markup=markup))


def test_100_buttons_are_accepted(standin: StandIn, user: User) -> None:
    markup = keyboard_of(*[[{"text": "a", "callback_data": "x"}] * 8] * 12,
                         [{"text": "a", "callback_data": "x"}] * 4)
    result(send(standin, user, "x", reply_markup=markup))


# -- edits ---------------------------------------------------------------------------------------


async def test_edit_missing_message_is_refused(bot: Bot, user: User) -> None:
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("new", chat_id=user.id, message_id=99)


def test_identical_edit_is_refused(standin: StandIn, user: User) -> None:
    sent = result(send(standin, user, "<b>same</b>", parse_mode="HTML", reply_markup=KEYBOARD))
    ids = {"chat_id": user.id, "message_id": sent["message_id"]}
    same = api(standin, "editMessageText", text="<b>same</b>", parse_mode="HTML",
               reply_markup=KEYBOARD, **ids)
    assert refusal(same).startswith("Bad Request: message is not modified")
    same_markup = api(standin, "editMessageReplyMarkup", reply_markup=KEYBOARD, **ids)
    assert refusal(same_markup).startswith("Bad Request: message is not modified")
    unformatted = api(standin, "editMessageText", text="same", reply_markup=KEYBOARD, **ids)
    assert result(unformatted)["text"] == "same"


async def test_edits_update_the_stored_message(standin: StandIn, bot: Bot, user: User) -> None:
    sent = result(send(standin, user, "Question?", reply_markup=KEYBOARD))
    edited = await bot.edit_message_text("Answered", chat_id=user.id,
                                         message_id=sent["message_id"])
    assert not isinstance(edited, bool)
    assert edited.edit_date is not None
    (stored,) = standin.messages(user)
    assert stored.text == "Answered"
    assert stored.reply_markup is None, "Telegram drops the keyboard when an edit omits it"
    await bot.edit_message_reply_markup(user.id, sent["message_id"],
                                        reply_markup=InlineKeyboardMarkup.from_button(
                                            InlineKeyboardButton("Again", callback_data="again")))
    assert standin.messages(user)[0].callback_data() == ["again"]


def test_bot_cannot_edit_user_messages(standin: StandIn, user: User) -> None:
    message_id = standin.send_text(user, "mine")
    response = api(standin, "editMessageText", chat_id=user.id, message_id=message_id, text="x")
    assert refusal(response) == "Bad Request: message can't be edited"


# -- callback queries ----------------------------------------------------------------------------


async def test_callback_query_is_answered_once(standin: StandIn, bot: Bot, user: User) -> None:
    sent = await bot.send_message(user.id, "Pain today?",
                                  reply_markup=InlineKeyboardMarkup.from_button(
                                      InlineKeyboardButton("Yes", callback_data="pain:yes")))
    query_id = standin.press(user, sent.message_id, "pain:yes")
    (update,) = await bot.get_updates()
    assert update.callback_query is not None
    assert update.callback_query.id == query_id
    assert update.callback_query.data == "pain:yes"
    assert [q.id for q in standin.unanswered_callback_queries()] == [query_id]
    assert await update.callback_query.answer("Noted")
    assert standin.unanswered_callback_queries() == []
    assert standin.callback_query(query_id).answer == {"callback_query_id": query_id,
                                                       "text": "Noted"}
    with pytest.raises(BadRequest, match="Query is too old"):
        await update.callback_query.answer()
    unknown = api(standin, "answerCallbackQuery", callback_query_id="nope")
    assert refusal(unknown).endswith("query ID is invalid")


def test_expired_callback_query_is_refused() -> None:
    with StandIn(callback_timeout=0.0) as strict:
        member = strict.new_user()
        sent = result(send(strict, member, "q", reply_markup=KEYBOARD))
        query_id = strict.press(member, sent["message_id"], "yes")
        time.sleep(0.01)
        response = api(strict, "answerCallbackQuery", callback_query_id=query_id)
        assert "query is too old" in refusal(response)


def test_pressing_a_button_that_is_not_there_is_a_test_error(
    standin: StandIn, user: User
) -> None:
    sent = result(send(standin, user, "q", reply_markup=KEYBOARD))
    with pytest.raises(ValueError, match="never showed a button 'maybe'"):
        standin.press(user, sent["message_id"], "maybe")
    with pytest.raises(ValueError, match="never showed"):
        standin.press(user, 999, "yes")


# -- commands ------------------------------------------------------------------------------------


async def test_commands_round_trip(standin: StandIn, bot: Bot, user: User) -> None:
    await bot.set_my_commands([("start", "Begin"), ("pain_score", "Rate your pain")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "pain_score"]
    scope = {"type": "chat", "chat_id": user.id}
    result(api(standin, "setMyCommands", commands=[{"command": "stop", "description": "Stop"}],
               scope=scope, language_code="ru"))
    assert standin.commands(scope=scope, language_code="ru") == [
        {"command": "stop", "description": "Stop"}
    ]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


@pytest.mark.parametrize(
    "command",
    [{"command": "Start", "description": "d"}, {"command": "pain-score", "description": "d"},
     {"command": "a" * 33, "description": "d"}, {"command": "", "description": "d"},
     {"command": "ok", "description": ""}, {"command": "ok", "description": "d" * 257}],
)
def test_invalid_commands_are_refused(standin: StandIn, command: JsonDict) -> None:
    assert "command" in refusal(api(standin, "setMyCommands", commands=[command]))


# -- updates -------------------------------------------------------------------------------------


def get_updates(standin: StandIn, **params: object) -> list[JsonDict]:
    updates: list[JsonDict] = result(api(standin, "getUpdates", **params))
    return updates


def test_get_updates_offset_semantics(standin: StandIn, user: User) -> None:
    for text in ("one", "two", "three"):
        standin.send_text(user, text)
    first = get_updates(standin)
    ids = [u["update_id"] for u in first]
    assert ids == sorted(ids)
    assert [u["message"]["text"] for u in first] == ["one", "two", "three"]
    assert get_updates(standin) == first, "without an offset nothing is confirmed"
    assert [u["update_id"] for u in get_updates(standin, offset=ids[1])] == ids[1:]
    assert [u["update_id"] for u in get_updates(standin)] == ids[1:], "ids[0] was forgotten"
    assert [u["update_id"] for u in get_updates(standin, limit=1)] == ids[1:2]
    assert [u["update_id"] for u in get_updates(standin, offset=-1)] == ids[2:]
    assert get_updates(standin, offset=ids[2] + 1) == []
    assert standin.pending_updates == 0


def test_update_ids_increase_across_kinds_and_chats(standin: StandIn, user: User) -> None:
    group = standin.new_group()
    sent = result(send(standin, user, "q", reply_markup=KEYBOARD))
    standin.send_text(user, "hi")
    standin.send_in_group(group, user, "/help@standin_bot")
    standin.press(user, sent["message_id"], "no")
    standin.send_sticker(user)
    update_ids = [u["update_id"] for u in get_updates(standin)]
    assert update_ids == list(range(update_ids[0], update_ids[0] + 4))


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    standin: StandIn, bot: Bot, user: User
) -> None:
    threading.Timer(0.3, standin.send_text, args=(user, "wake up")).start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=10)
    assert 0.2 < time.monotonic() - started < 3
    assert updates[0].message is not None
    assert updates[0].message.text == "wake up"


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 3


async def test_second_poller_terminates_the_first(standin: StandIn) -> None:
    first = asyncio.create_task(asyncio.to_thread(api, standin, "getUpdates", timeout=5))
    await standin.wait_for_async(lambda: standin.waiting_polls == 1)
    second = await asyncio.to_thread(api, standin, "getUpdates", timeout=0)
    assert result(second) == []
    assert "terminated by other getUpdates request" in refusal(await first, 409)


def test_orphaned_long_poll_of_a_killed_client_is_not_a_rejection(standin: StandIn) -> None:
    body = b'{"timeout": 5}'
    request = (
        f"POST /bot{standin.token}/getUpdates HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", standin.port)) as killed:
        killed.sendall(request)
        standin.wait_for(lambda: standin.waiting_polls == 1)
    assert get_updates(standin) == []
    orphan = standin.wait_for(lambda: [c for c in standin.calls if c.client_gone])
    assert orphan[0].status == 409
    assert standin.rejected == []


def test_stale_button_can_still_be_pressed(standin: StandIn, user: User) -> None:
    sent = result(send(standin, user, "Pain?", reply_markup=KEYBOARD))
    result(api(standin, "editMessageText", chat_id=user.id, message_id=sent["message_id"],
               text="Pain? (answered)"))
    query_id = standin.press(user, sent["message_id"], "yes")
    (update,) = get_updates(standin)
    assert update["callback_query"]["id"] == query_id
    assert "reply_markup" not in update["callback_query"]["message"]
    with pytest.raises(ValueError, match="never showed a button 'maybe'"):
        standin.press(user, sent["message_id"], "maybe")


def test_allowed_updates_filters_new_updates(standin: StandIn, user: User) -> None:
    sent = result(send(standin, user, "q", reply_markup=KEYBOARD))
    get_updates(standin, allowed_updates=["message"])
    standin.press(user, sent["message_id"], "yes")
    standin.send_text(user, "kept")
    assert [u["message"]["text"] for u in get_updates(standin)] == ["kept"]
    assert "callback_query" in standin.filtered_updates[0]


async def test_webhook_blocks_get_updates(standin: StandIn, bot: Bot) -> None:
    assert await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    assert "webhook is active" in refusal(api(standin, "getUpdates"), 409)
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_generated_updates_conform_to_the_spec(standin: StandIn, bot: Bot,
                                                     user: User) -> None:
    group = standin.new_group("Clinic", supergroup=True)
    sent = await bot.send_message(user.id, "<b>Hi</b>", parse_mode="HTML",
                                  reply_markup=InlineKeyboardMarkup.from_button(
                                      InlineKeyboardButton("Ok", callback_data="ok")))
    text_id = standin.send_text(user, "/start deep-link")
    standin.edit_text(user, text_id, "/start again")
    standin.send_sticker(user)
    standin.send_photo(user, caption="scan")
    standin.send_voice(user)
    standin.send_document(user)
    standin.send_in_group(group, user, "hello all")
    standin.press(user, sent.message_id, "ok")
    updates = get_updates(standin)
    kinds = [next(k for k in u if k != "update_id") for u in updates]
    assert kinds == ["message", "edited_message", "message", "message", "message", "message",
                     "message", "callback_query"]
    for update in updates:
        check_object(standin.spec, update, "Update")
    for call in standin.calls_to("sendMessage"):
        check_object(standin.spec, call.result, "Message")
    assert updates[0]["message"]["entities"] == [{"type": "bot_command", "offset": 0,
                                                   "length": 6}]
    check_object(standin.spec, result(api(standin, "getMe")), "User")


# -- rate limits and blocked users ---------------------------------------------------------------


def test_rate_limits_are_off_by_default(standin: StandIn, user: User) -> None:
    for number in range(20):
        result(send(standin, user, f"message {number}"))
    assert standin.too_many_requests == 0


@pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
async def test_per_chat_rate_limit_answers_429_with_retry_after(
    standin: StandIn, bot: Bot, user: User
) -> None:
    standin.enable_rate_limits()
    for number in range(3):
        await bot.send_message(user.id, f"burst {number}")
    with pytest.raises(RetryAfter):
        await bot.send_message(user.id, "one too many")
    response = send(standin, user, "and another")
    assert refusal(response, 429) == "Too Many Requests: retry after 1"
    assert response.json()["parameters"] == {"retry_after": 1}
    assert standin.too_many_requests == 2
    assert standin.delivered(user) == 3
    await asyncio.sleep(1.05)
    result(send(standin, user, "after waiting"))


def test_overall_rate_limit(standin: StandIn) -> None:
    standin.enable_rate_limits(RateLimits(overall_per_second=3))
    users = [standin.new_user() for _ in range(4)]
    responses = [send(standin, member, "broadcast") for member in users]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[-1].json()["parameters"]["retry_after"] == 1
    standin.disable_rate_limits()
    result(send(standin, users[-1], "no limits now"))


async def test_default_overall_limit_is_30_per_second(standin: StandIn) -> None:
    standin.enable_rate_limits()
    users = [standin.new_user() for _ in range(60)]
    url = f"{standin.base_url}{standin.token}/sendMessage"
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as client:
        responses = await asyncio.gather(*(
            client.post(url, json={"chat_id": member.id, "text": "broadcast"})
            for member in users
        ))
    statuses = [response.status_code for response in responses]
    allowed = 30 + 30 * (time.monotonic() - started) + 1
    assert 30 <= statuses.count(200) <= allowed
    assert statuses.count(429) == standin.too_many_requests > 0


async def test_blocked_chat_is_forbidden(standin: StandIn, bot: Bot, user: User) -> None:
    standin.block_bot(user)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(user.id, "hello?")
    assert refusal(send(standin, user, "x"), 403) == "Forbidden: bot was blocked by the user"
    standin.unblock_bot(user)
    result(send(standin, user, "welcome back"))


def test_user_who_never_started_the_bot_is_forbidden(standin: StandIn) -> None:
    stranger = standin.new_user(started=False)
    assert "can't initiate conversation" in refusal(send(standin, stranger, "hi"), 403)


# -- test helpers --------------------------------------------------------------------------------


def test_calls_and_rejections_are_recorded(standin: StandIn, user: User) -> None:
    result(send(standin, user, "fine"))
    refusal(send(standin, user, ""))
    assert [c.method for c in standin.calls] == ["sendMessage", "sendMessage"]
    (rejected,) = standin.rejected
    assert rejected.error_code == 400
    assert rejected.params["text"] == ""
    with pytest.raises(AssertionError, match="message text is empty"):
        standin.assert_no_rejections()


async def test_wait_helpers(standin: StandIn, user: User) -> None:
    threading.Timer(0.1, send, args=(standin, user, "later")).start()
    assert standin.wait_for_bot_message(user, timeout=3).text == "later"
    assert await standin.wait_for_async(lambda: standin.delivered(user), timeout=1) == 1
    with pytest.raises(TimeoutError, match="condition not met"):
        standin.wait_for(lambda: standin.delivered(user) > 1, timeout=0.1)


def test_user_edit_produces_edited_message(standin: StandIn, user: User) -> None:
    message_id = standin.send_text(user, "pian 5")
    standin.edit_text(user, message_id, "pain 5")
    edited = get_updates(standin)[-1]["edited_message"]
    assert (edited["message_id"], edited["text"]) == (message_id, "pain 5")
    with pytest.raises(ValueError, match="no text message"):
        standin.edit_text(user, 99, "x")
