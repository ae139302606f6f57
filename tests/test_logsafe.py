"""Chat ids reach the logs only as salted hashes."""

from __future__ import annotations

from bot.logsafe import chat_ref


def test_a_chat_reference_is_stable_and_does_not_show_the_id() -> None:
    assert chat_ref(123456789) == chat_ref(123456789)
    assert chat_ref(123456789) != chat_ref(123456788)
    assert "123456789" not in chat_ref(123456789)
    assert len(chat_ref(123456789)) == 12
