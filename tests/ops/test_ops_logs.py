"""Log lines never carry a secret, and JSON lines carry no exception text (it may quote data)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.ops.logs import Redactor, configure_logging, mask

TOKEN = "123456:AAHsecretPartOfTheToken"  # noqa: S105  # the shape of a token, not a credential


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(capture=False)


def _fail(error: Exception) -> None:
    raise error


def test_a_token_keeps_its_bot_id_and_loses_its_secret_half() -> None:
    assert mask(TOKEN) == "123456:[redacted]"
    assert mask("webhook-secret") == "[redacted]"
    redact = Redactor([TOKEN, "pw", ""])
    assert redact(f"GET /bot{TOKEN}/getMe") == "GET /bot123456:[redacted]/getMe"
    assert redact("pw is too short to mask") == "pw is too short to mask"


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_mask_the_token_in_message_arguments_and_traceback() -> None:
    stream = io.StringIO()
    configure_logging("text", [TOKEN], stream)
    log = logging.getLogger("test.ops")
    log.warning("calling https://api.telegram.org/bot%s/getMe", TOKEN)
    try:
        _fail(RuntimeError(f"The token `{TOKEN}` was rejected by the server."))
    except RuntimeError:
        log.exception("start failed")
    written = stream.getvalue()
    assert "secretPartOfTheToken" not in written
    assert written.count("123456:[redacted]") == 2  # the message, and the traceback's last line
    assert "Traceback" in written


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_are_one_object_each_with_the_error_type_but_not_its_text() -> None:
    stream = io.StringIO()
    configure_logging("json", [TOKEN], stream)
    log = logging.getLogger("test.ops")
    log.info("ready: %d dialogue(s) loaded", 2)
    try:
        _fail(ValueError("Key (chat_id)=(987654321) already exists"))
    except ValueError:
        log.exception("update for chat %s failed", "a1b2c3d4e5f6")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [entry["message"] for entry in lines] == [
        "ready: 2 dialogue(s) loaded", "update for chat a1b2c3d4e5f6 failed",
    ]
    assert lines[0]["level"] == "INFO"
    assert lines[0]["logger"] == "test.ops"
    assert lines[1]["error"] == "ValueError"
    assert lines[1]["where"][-1].startswith("ops/test_ops_logs.py:")
    assert "987654321" not in stream.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_noisy_libraries_are_quieted() -> None:
    configure_logging("text", [], io.StringIO())
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("transitions").getEffectiveLevel() == logging.WARNING
