"""``ldh-bot run`` reads every setting at once: each fault named on its own line."""

from __future__ import annotations

import pytest

from bot.config import SettingsError
from bot.ops.settings import database_passwords, ops_settings, read_settings

TOKEN = "123456:ABCdef"  # noqa: S105  # the shape of a token, not a credential


def test_operations_are_off_and_logs_plain_by_default() -> None:
    ops = ops_settings({})
    assert ops.listen is None
    assert ops.log_format == "text"


def test_the_ops_listener_and_json_logs_are_read() -> None:
    ops = ops_settings({"LDH_OPS_LISTEN": "0.0.0.0:9090", "LDH_LOG_FORMAT": "JSON"})
    assert ops.listen == ("0.0.0.0", 9090)  # noqa: S104  # a test value
    assert ops.log_format == "json"
    assert ops_settings({"LDH_OPS_LISTEN": "off"}).listen is None


def test_every_bad_setting_is_reported_at_once_one_line_each() -> None:
    with pytest.raises(SettingsError) as raised:
        read_settings({
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "LDH_DATABASE_URL": "foo://",
            "LDH_SEND_RATE": "fast",
            "LDH_OPS_LISTEN": "everywhere",
            "LDH_LOG_FORMAT": "xml",
        })
    lines = str(raised.value).splitlines()
    assert [line.split()[0] for line in lines] == [
        "LDH_DATABASE_URL", "LDH_SEND_RATE", "LDH_OPS_LISTEN", "LDH_LOG_FORMAT",
    ]
    assert "'foo' URL" in lines[0]


@pytest.mark.parametrize("url", ["sqlite:///", "mysql://ldh:pw@db/ldh", "ldh.db"])
def test_a_database_url_the_bot_cannot_open_is_named_without_its_password(url: str) -> None:
    with pytest.raises(SettingsError, match="LDH_DATABASE_URL must be") as raised:
        read_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_DATABASE_URL": url})
    assert "pw" not in str(raised.value)


def test_good_settings_are_read_together() -> None:
    run = read_settings({
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "LDH_DATABASE_URL": "postgresql://ldh:s3cret-pw@db:5432/ldh",
        "LDH_SEND_RATE": "12",
        "LDH_WEBHOOK_URL": "https://bot.example.org/hook",
        "LDH_WEBHOOK_SECRET": "hook-secret",
    })
    assert run.send_rate == 12.0
    assert run.bot.database_url.startswith("postgresql://")
    assert set(run.secrets) == {TOKEN, "hook-secret", "s3cret-pw"}


def test_passwords_are_found_in_either_place_a_url_can_hold_them() -> None:
    assert database_passwords("postgresql://ldh:pw1@db/ldh") == ["pw1"]
    assert database_passwords("postgresql://ldh@db/ldh?password=pw2&sslmode=off") == ["pw2"]
    assert database_passwords("sqlite:///data/ldh-bot.db") == []
