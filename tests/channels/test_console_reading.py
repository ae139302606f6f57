"""Typed answers in the terminal chat (spec §2a): a hedge confirmed once, by number or words."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.console import chat
from bot.content import Content
from bot.conversation import Conversations
from bot.dialogue.turn import Text
from bot.storage import open_store

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


async def converse(content: Content, database: str, lines: list[str], language: str) -> str:
    """Run the terminal chat over ``database`` and return what it printed."""
    store = open_store(database)
    await store.open()
    script = iter(lines)
    output = io.StringIO()
    try:
        conversations = Conversations(content, store, clock=lambda: NOW)
        await chat(content, conversations=conversations, patient=1, language=language,
                   read_line=lambda: next(script, None), output=output)
    finally:
        await store.close()
    return output.getvalue()


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'console.db'}"


async def test_s2a_chat_a_hedge_is_confirmed_then_a_numbered_no_is_taken(
    content: Content, database: str
) -> None:
    out = await converse(content, database, ["not really", "2"], "en")

    before, _, after = out.partition("You wrote “not really”.")
    assert after, out
    assert after.startswith(" Because this can be a sign of an emergency, please choose the "
                            "answer that fits: Yes / Not sure / No.")
    assert "choose Yes, and go to an emergency department now." in after
    assert "1) Yes   2) No   3) Not sure" in after
    bladder = content.catalog.plain(Text("q.bladder_bowel"), "en").splitlines()[0]
    assert bladder not in before
    assert bladder in after  # the No by its number was taken: on to the next question
    assert "tap" not in out.lower()


async def test_s2a_chat_the_confirmation_is_kept_when_the_chat_is_left_and_resumed(
    content: Content, database: str
) -> None:
    await converse(content, database, ["没有。。。"], "zh")

    out = await converse(content, database, ["说不准吧"], "zh")  # unread: asked again
    out += await converse(content, database, ["可能"], "zh")  # the second hedge

    assert out.count("您输入的是") == 0  # the hedge was confirmed before the chat was left
    assert "马尾综合征" in out  # not sure counts as yes: the emergency advice
