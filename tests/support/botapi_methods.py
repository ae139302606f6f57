"""Bot API method handlers over the stand-in's World, and the execution of one request."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from support.botapi_rules import NOT_MODIFIED, caption, check_stateless, message_text
from support.botapi_spec import ApiError, UploadedFile, bad_request, decode_params
from support.botapi_state import QUERY_TOO_OLD, Call, ChatMessage, StoredFile, inline_markup

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from support.botapi_state import Chat, World

JsonDict = dict[str, Any]
_URL_PREFIXES = ("http://", "https://")
_PHOTO_SIDE = 90


def get_me(world: World, _params: JsonDict) -> object:
    """getMe: the bot user with the capability flags Telegram adds."""
    return {
        **world.bot.to_dict(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def get_updates(world: World, params: JsonDict) -> object:
    """getUpdates with Telegram's offset, limit and long-poll semantics."""
    return world.get_updates(params)


def set_webhook(world: World, params: JsonDict) -> object:
    """setWebhook: record only; getUpdates then answers 409 as Telegram does."""
    if params.get("drop_pending_updates"):
        world.updates.clear()
    world.webhook = {k: v for k, v in params.items() if not isinstance(v, UploadedFile)}
    return True


def delete_webhook(world: World, params: JsonDict) -> object:
    """deleteWebhook, optionally dropping pending updates."""
    if params.get("drop_pending_updates"):
        world.updates.clear()
    world.webhook = {"url": ""}
    return True


def get_webhook_info(world: World, _params: JsonDict) -> object:
    """getWebhookInfo from the recorded webhook."""
    info: JsonDict = {
        "url": world.webhook["url"],
        "has_custom_certificate": False,
        "pending_update_count": len(world.updates),
    }
    for key in ("max_connections", "allowed_updates", "ip_address"):
        if key in world.webhook:
            info[key] = world.webhook[key]
    return info


def _scope_key(params: JsonDict) -> tuple[str, str]:
    """Commands are stored per (scope, language_code)."""
    scope = params.get("scope", {"type": "default"})
    return json.dumps(scope, sort_keys=True), params.get("language_code", "")


def set_my_commands(world: World, params: JsonDict) -> object:
    """setMyCommands for a scope and language."""
    world.commands[_scope_key(params)] = list(params["commands"])
    return True


def get_my_commands(world: World, params: JsonDict) -> object:
    """getMyCommands for a scope and language (an empty list when none are set)."""
    return world.commands.get(_scope_key(params), [])


def delete_my_commands(world: World, params: JsonDict) -> object:
    """deleteMyCommands for a scope and language."""
    world.commands.pop(_scope_key(params), None)
    return True


def _deliverable_chat(world: World, params: JsonDict) -> Chat:
    """The target chat of a new message: known, reachable, within rate limits."""
    chat = world.chat_for(params["chat_id"])
    world.check_reachable(chat)
    world.check_rate(chat)
    return chat


def _reply_target(world: World, chat: Chat, params: JsonDict) -> int | None:
    """The message replied to, which must exist unless allow_sending_without_reply."""
    reply = params.get("reply_parameters")
    if reply is None:
        return None
    if world.find(chat.id, reply["message_id"]) is not None:
        return int(reply["message_id"])
    if reply.get("allow_sending_without_reply"):
        return None
    msg = "message to be replied not found"
    raise bad_request(msg)


def _new_bot_message(world: World, chat: Chat, params: JsonDict, **fields: Any) -> JsonDict:
    """Store a message the bot sends and return its Message object."""
    markup = params.get("reply_markup")
    message = ChatMessage(
        chat_id=chat.id,
        message_id=world.next_message_id(chat.id),
        sender_id=world.bot.id,
        from_bot=True,
        date=int(time.time()),
        reply_markup=markup,
        parse_mode=params.get("parse_mode"),
        reply_to=_reply_target(world, chat, params),
        **fields,
    )
    if markup and ("keyboard" in markup or "remove_keyboard" in markup):
        world.reply_keyboards[chat.id] = markup if "keyboard" in markup else None
    world.delivered[chat.id] += 1
    return world.message_dict(world.store(message))


def send_message(world: World, params: JsonDict) -> object:
    """sendMessage."""
    chat = _deliverable_chat(world, params)
    parsed = message_text(params, strict_ampersand=world.strict_ampersand)
    return _new_bot_message(
        world, chat, params, text=parsed.text, entities=parsed.entities, source_text=params["text"]
    )


def _input_file(world: World, value: object, *, file_name: str | None = None) -> StoredFile:
    """An uploaded file, a known file_id, or an HTTP URL, as Telegram accepts them."""
    if isinstance(value, UploadedFile):
        if not value.data:
            msg = "file must be non-empty"
            raise bad_request(msg)
        return world.store_file(value.data, file_name=file_name or value.filename,
                                mime_type=value.content_type)
    text = str(value)
    if text in world.files:
        return world.files[text]
    if text.startswith(_URL_PREFIXES):
        return world.store_file(b"", file_name=text.rsplit("/", 1)[-1] or None)
    msg = "wrong file identifier/HTTP URL specified"
    raise bad_request(msg)


def _media_message(world: World, params: JsonDict, kind: str, content: JsonDict) -> JsonDict:
    """Store a media message with its caption."""
    chat = _deliverable_chat(world, params)
    parsed = caption(params, strict_ampersand=world.strict_ampersand)
    text_fields: JsonDict = {}
    if parsed is not None:
        text_fields = {"caption": parsed.text, "caption_entities": parsed.entities,
                       "source_text": params["caption"]}
    return _new_bot_message(world, chat, params, kind=kind, content=content, **text_fields)


def photo_sizes(stored: StoredFile) -> list[JsonDict]:
    """The PhotoSize list Telegram returns for a photo."""
    return [{"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
             "width": _PHOTO_SIDE, "height": _PHOTO_SIDE, "file_size": len(stored.data)}]


def send_photo(world: World, params: JsonDict) -> object:
    """sendPhoto (upload, file_id or URL)."""
    stored = _input_file(world, params["photo"])
    return _media_message(world, params, "photo", {"photo": photo_sizes(stored)})


def send_document(world: World, params: JsonDict) -> object:
    """sendDocument (upload, file_id or URL)."""
    stored = _input_file(world, params["document"])
    return _media_message(world, params, "document", {"document": stored.to_dict()})


def _editable(world: World, params: JsonDict) -> ChatMessage:
    """The bot message an edit targets, or Telegram's refusal."""
    if "inline_message_id" in params:
        msg = "MESSAGE_ID_INVALID: the stand-in has no inline messages"
        raise bad_request(msg)
    if "chat_id" not in params or "message_id" not in params:
        msg = "message identifier is not specified"
        raise bad_request(msg)
    chat = world.chat_for(params["chat_id"])
    world.check_reachable(chat)
    message = world.find(chat.id, params["message_id"])
    if message is None:
        msg = "message to edit not found"
        raise bad_request(msg)
    if not message.from_bot:
        msg = "message can't be edited"
        raise bad_request(msg)
    return message


def _save_edit(world: World, edited: ChatMessage) -> JsonDict:
    """Store an edited message and return its Message object."""
    return world.message_dict(world.store(replace(edited, edit_date=int(time.time()))))


def edit_message_text(world: World, params: JsonDict) -> object:
    """editMessageText; leaving out reply_markup removes the inline keyboard, as in Telegram."""
    if "rich_message" in params:
        msg = "the stand-in does not support rich_message"
        raise bad_request(msg)
    message = _editable(world, params)
    if message.text is None:
        msg = "there is no text in the message to edit"
        raise bad_request(msg)
    parsed = message_text(params, strict_ampersand=world.strict_ampersand)
    markup = params.get("reply_markup")
    if (parsed.text, parsed.entities, markup) == (
        message.text, message.entities, inline_markup(message.reply_markup)
    ):
        raise bad_request(NOT_MODIFIED)
    return _save_edit(world, replace(
        message, text=parsed.text, entities=parsed.entities, reply_markup=markup,
        source_text=params["text"], parse_mode=params.get("parse_mode"),
    ))


def edit_message_reply_markup(world: World, params: JsonDict) -> object:
    """editMessageReplyMarkup; leaving out reply_markup removes the inline keyboard."""
    message = _editable(world, params)
    markup = params.get("reply_markup")
    if markup == inline_markup(message.reply_markup):
        raise bad_request(NOT_MODIFIED)
    return _save_edit(world, replace(message, reply_markup=markup))


def delete_message(world: World, params: JsonDict) -> object:
    """deleteMessage: any existing message of the chat."""
    chat = world.chat_for(params["chat_id"])
    message = world.find(chat.id, params["message_id"])
    if message is None:
        msg = "message to delete not found"
        raise bad_request(msg)
    world.delete(message)
    return True


def answer_callback_query(world: World, params: JsonDict) -> object:
    """answerCallbackQuery: once per query, within the optional timeout."""
    query = world.queries.get(params["callback_query_id"])
    expired = (
        query is not None
        and world.callback_timeout is not None
        and time.monotonic() - query.created > world.callback_timeout
    )
    if query is None or query.answered or expired:
        raise bad_request(QUERY_TOO_OLD)
    world.queries[query.id] = replace(query, answered=True, answer=dict(params))
    return True


def send_chat_action(world: World, params: JsonDict) -> object:
    """sendChatAction: recorded per chat."""
    chat = world.chat_for(params["chat_id"])
    world.check_reachable(chat)
    world.chat_actions.setdefault(chat.id, []).append(params["action"])
    return True


def get_file(world: World, params: JsonDict) -> object:
    """getFile for files the stand-in holds; download them from base_file_url + file_path."""
    stored = world.files.get(params["file_id"])
    if stored is None:
        msg = "invalid file_id"
        raise bad_request(msg)
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data), "file_path": f"documents/{stored.file_id}"}


def answer_true(_world: World, _params: JsonDict) -> object:
    """close/logOut and friends."""
    return True


HANDLERS: dict[str, Callable[[World, JsonDict], object]] = {
    "getMe": get_me,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "sendMessage": send_message,
    "sendPhoto": send_photo,
    "sendDocument": send_document,
    "editMessageText": edit_message_text,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
    "getFile": get_file,
    "close": answer_true,
    "logOut": answer_true,
}


def generic(world: World, method: str, params: JsonDict) -> object:
    """Any other spec method: the chat must exist; Message-returning sends create a message."""
    if "chat_id" not in params:
        return True
    if world.spec.returns(method) != ("Message",):
        world.chat_for(params["chat_id"])
        return True
    chat = _deliverable_chat(world, params)
    parsed = caption(params, strict_ampersand=world.strict_ampersand)
    text_fields: JsonDict = {}
    if parsed is not None:
        text_fields = {"caption": parsed.text, "caption_entities": parsed.entities}
    return _new_bot_message(world, chat, params, kind=method, **text_fields)


def dispatch(world: World, method: str, params: JsonDict) -> object:
    """Run a validated call against the world (lock held)."""
    handler = HANDLERS.get(method)
    if handler is None:
        return generic(world, method, params)
    return handler(world, params)


def error_body(error: ApiError) -> JsonDict:
    """Telegram's error reply."""
    body: JsonDict = {"ok": False, "error_code": error.code, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return body


def execute(  # noqa: PLR0913 - one request's parts, passed through from the HTTP handler
    world: World, token: str, requested: str, raw: Mapping[str, str],
    files: Mapping[str, UploadedFile], *, client_alive: Callable[[], bool] | None = None,
) -> tuple[int, JsonDict]:
    """Authorize, validate, run and record one request; return HTTP status and JSON body.

    client_alive tells whether the client still waits for the reply (a killed bot does not).
    """
    method = world.spec.method_name(requested) or requested
    params: JsonDict = dict(raw)
    body: JsonDict
    try:
        if token != world.token:
            raise ApiError(401, "Unauthorized")  # noqa: TRY301 - one place turns errors into replies
        if world.spec.method_name(requested) is None:
            raise ApiError(404, "Not Found: method not found")  # noqa: TRY301
        params = decode_params(world.spec, method, raw, files)
        check_stateless(method, params, strict_ampersand=world.strict_ampersand)
        with world.lock:
            result = dispatch(world, method, params)
        status, body = 200, {"ok": True, "result": result}
    except ApiError as error:
        status, body = error.code, error_body(error)
    gone = client_alive is not None and not client_alive()
    call = Call(method, params, status, body.get("description"), body.get("result"),
                time.time(), tuple(sorted(files)), client_gone=gone)
    with world.lock:
        world.calls.append(call)
        world.lock.notify_all()
    return status, body
