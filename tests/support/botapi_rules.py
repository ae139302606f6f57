"""Telegram's limits beyond parameter types: text, captions, keyboards, commands, actions."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from support.botapi_spec import bad_request
from support.botapi_text import PARSE_MODES, Parsed, parse_formatted, utf16_len

JsonDict = dict[str, Any]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
CALLBACK_DATA_BYTES = 64
BUTTONS_TOTAL = 100
BUTTONS_PER_ROW = 8
COMMANDS_LIMIT = 100
COMMAND_DESCRIPTION_LIMIT = 256
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE_RE = re.compile(r"([a-z]{2})?")
_BUTTON_DECORATION = frozenset({"text", "icon_custom_emoji_id", "style"})
_BUTTON_STYLES = frozenset({"danger", "success", "primary"})
_URL_SCHEMES = frozenset({"http", "https", "tg"})
_PARSE_MODE_KEYS = frozenset({"parse_mode", "quote_parse_mode"})
CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
})
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def check_parse_modes(value: object) -> None:
    """Every parse_mode anywhere in the parameters must be HTML, MarkdownV2 or Markdown."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _PARSE_MODE_KEYS and item not in PARSE_MODES:
                msg = "unsupported parse_mode"
                raise bad_request(msg)
            check_parse_modes(item)
    elif isinstance(value, list):
        for item in value:
            check_parse_modes(item)


def _with_entities(text: str, entities: list[JsonDict]) -> Parsed:
    """Plain text with explicit entities, which must lie inside the text."""
    size = utf16_len(text)
    for entity in entities:
        start, length = entity["offset"], entity["length"]
        if start < 0 or length <= 0 or start + length > size:
            msg = f"can't parse entities: entity {entity!r} lies outside the text"
            raise bad_request(msg)
    return Parsed(text, tuple(entities))


def formatted(
    params: JsonDict, key: str, entities_key: str, *, strict_ampersand: bool
) -> Parsed | None:
    """Parse params[key] with its parse_mode or explicit entities, trimmed; None if absent."""
    text = params.get(key)
    if text is None:
        return None
    if entities_key in params:
        return _with_entities(text, params[entities_key]).trimmed()
    parsed = parse_formatted(text, params.get("parse_mode"), strict_ampersand=strict_ampersand)
    return parsed.trimmed()


def message_text(params: JsonDict, *, strict_ampersand: bool) -> Parsed:
    """The text of sendMessage/editMessageText: 1-4096 UTF-16 units after entity parsing."""
    parsed = formatted(params, "text", "entities", strict_ampersand=strict_ampersand)
    if parsed is None or not parsed.text:
        msg = "message text is empty"
        raise bad_request(msg)
    if utf16_len(parsed.text) > TEXT_LIMIT:
        msg = "message is too long"
        raise bad_request(msg)
    return parsed


def caption(params: JsonDict, *, strict_ampersand: bool) -> Parsed | None:
    """A media caption: 0-1024 UTF-16 units after entity parsing."""
    parsed = formatted(params, "caption", "caption_entities", strict_ampersand=strict_ampersand)
    if parsed is not None and utf16_len(parsed.text) > CAPTION_LIMIT:
        msg = "message caption is too long"
        raise bad_request(msg)
    return parsed


def check_reply_markup(markup: object) -> None:
    """Inline keyboards: shape, button count and each button; reply keyboards: button text."""
    if not isinstance(markup, dict):
        return
    if "inline_keyboard" in markup:
        check_inline_keyboard(markup["inline_keyboard"])
    elif "keyboard" in markup:
        _check_reply_keyboard(markup["keyboard"])


def check_inline_keyboard(rows: list[list[JsonDict]]) -> None:
    """At most 100 buttons, at most 8 per row, each button valid."""
    total = sum(len(row) for row in rows)
    if total > BUTTONS_TOTAL:
        msg = f"reply markup is too long: {total} inline keyboard buttons, at most {BUTTONS_TOTAL}"
        raise bad_request(msg)
    for row_index, row in enumerate(rows):
        if len(row) > BUTTONS_PER_ROW:
            msg = f"too many buttons in inline keyboard row {row_index}: {len(row)} > 8"
            raise bad_request(msg)
        for column, button in enumerate(row):
            check_inline_button(button, f"[{row_index}][{column}]")


def check_inline_button(button: JsonDict, where: str) -> None:
    """Exactly one action, non-empty text, callback_data of 1-64 bytes, a valid URL and style."""
    actions = sorted(set(button) - _BUTTON_DECORATION)
    if not actions:
        msg = "can't parse inline keyboard button: "
        msg += "Text buttons are unallowed in the inline keyboard"
        raise bad_request(msg)
    if len(actions) > 1:
        msg = f"can't parse inline keyboard button {where}: more than one action: {actions}"
        raise bad_request(msg)
    if not button["text"]:
        msg = f"can't parse inline keyboard button {where}: text must be non-empty"
        raise bad_request(msg)
    if "style" in button and button["style"] not in _BUTTON_STYLES:
        msg = f"can't parse inline keyboard button {where}: unknown style {button['style']!r}"
        raise bad_request(msg)
    if "callback_data" in button:
        _check_callback_data(button["callback_data"], where)
    if "url" in button:
        _check_button_url(button["url"])


def _check_callback_data(data: str, where: str) -> None:
    """callback_data must be 1-64 bytes in UTF-8."""
    size = len(data.encode("utf-8"))
    if not 1 <= size <= CALLBACK_DATA_BYTES:
        msg = f"BUTTON_DATA_INVALID: callback_data of button {where} is {size} bytes, must be 1-64"
        raise bad_request(msg)


def _check_button_url(url: str) -> None:
    """A URL button needs an http(s) URL with a host, or a tg:// link."""
    parts = urlsplit(url)
    if parts.scheme not in _URL_SCHEMES or (parts.scheme != "tg" and not parts.netloc):
        msg = f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
        raise bad_request(msg)


def _check_reply_keyboard(rows: list[list[object]]) -> None:
    """Every reply keyboard button needs text."""
    for row in rows:
        for button in row:
            text = button if isinstance(button, str) else button.get("text")  # type: ignore[attr-defined]
            if not text:
                msg = "keyboard button text must be non-empty"
                raise bad_request(msg)


def check_commands(commands: list[JsonDict], language_code: str | None) -> None:
    """setMyCommands: at most 100 commands; names 1-32 of [a-z0-9_]; descriptions 1-256."""
    if len(commands) > COMMANDS_LIMIT:
        msg = f"too many commands: {len(commands)}, at most {COMMANDS_LIMIT}"
        raise bad_request(msg)
    for command in commands:
        if not _COMMAND_RE.fullmatch(command["command"]):
            msg = (
                f"BOT_COMMAND_INVALID: command {command['command']!r} must be 1-32 lowercase "
                "English letters, digits and underscores"
            )
            raise bad_request(msg)
        if not 1 <= len(command["description"].strip()) <= COMMAND_DESCRIPTION_LIMIT:
            msg = f"command description of /{command['command']} must be 1-256 characters"
            raise bad_request(msg)
    check_language_code(language_code)


def check_language_code(language_code: str | None) -> None:
    """A language code is empty or two lowercase letters (ISO 639-1)."""
    if language_code is not None and not _LANGUAGE_RE.fullmatch(language_code):
        msg = f"invalid language_code {language_code!r}"
        raise bad_request(msg)


def check_chat_action(action: str) -> None:
    """sendChatAction accepts a fixed set of actions."""
    if action not in CHAT_ACTIONS:
        msg = "wrong parameter action in request"
        raise bad_request(msg)


def check_callback_answer(params: JsonDict) -> None:
    """answerCallbackQuery text is at most 200 characters."""
    if utf16_len(params.get("text", "")) > CALLBACK_ANSWER_LIMIT:
        msg = "MESSAGE_TOO_LONG: callback query answer text is over 200 characters"
        raise bad_request(msg)


def check_stateless(method: str, params: JsonDict, *, strict_ampersand: bool) -> None:
    """All checks that need no state; stateful ones live with the method handlers."""
    check_parse_modes(params)
    check_reply_markup(params.get("reply_markup"))
    if method in {"sendMessage", "editMessageText"} and "text" in params:
        message_text(params, strict_ampersand=strict_ampersand)
    caption(params, strict_ampersand=strict_ampersand)
    if method == "setMyCommands":
        check_commands(params["commands"], params.get("language_code"))
    elif method in {"getMyCommands", "deleteMyCommands"}:
        check_language_code(params.get("language_code"))
    elif method == "sendChatAction":
        check_chat_action(params["action"])
    elif method == "answerCallbackQuery":
        check_callback_answer(params)
