"""LDH_SEND_RATE: Telegram's 30 messages per second unless set, and refused when nonsense."""

from __future__ import annotations

import pytest

from bot.channels.telegram import app
from bot.config import SettingsError
from bot.reminders.settings import send_rate


def test_the_default_is_telegrams_broadcast_limit() -> None:
    assert send_rate({}) == 30.0
    assert send_rate({"LDH_SEND_RATE": "  "}) == 30.0


def test_a_rate_may_be_lowered_or_raised() -> None:
    assert send_rate({"LDH_SEND_RATE": "12.5"}) == 12.5
    assert send_rate({"LDH_SEND_RATE": "250"}) == 250.0


@pytest.mark.parametrize("raw", ["0", "-3", "fast", "nan", "inf", "5000"])
def test_nonsense_is_refused_with_the_setting_named(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"LDH_SEND_RATE must be .*not '"):
        send_rate({"LDH_SEND_RATE": raw})


def test_the_bot_does_not_start_with_a_bad_rate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("LDH_SEND_RATE", "fast")
    monkeypatch.delenv("LDH_WEBHOOK_URL", raising=False)
    assert app.main() == 2
    assert "LDH_SEND_RATE" in capsys.readouterr().err
