"""Settings from the environment: every fault named at start, sensible defaults otherwise."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import (
    OFFICIAL_API_URL,
    Settings,
    SettingsError,
    default_database_url,
    emergency_number,
    load_settings,
    urgent_contact,
)

TOKEN = "123456:ABCdef"  # noqa: S105  # the shape of a token, not a credential


def test_only_the_token_is_required_and_the_rest_has_defaults() -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN})

    assert settings.api_url == OFFICIAL_API_URL
    assert settings.database_url == "sqlite:///data/ldh-bot.db"
    assert settings.clinic_chat_id is None
    assert settings.staff_ids == frozenset()
    assert settings.timezone == "UTC"
    assert settings.clinic_language == "en"
    assert settings.webhook_url is None
    assert settings.webhook_listen == ("0.0.0.0", 8443)  # noqa: S104  # the documented default


def test_every_setting_is_read_and_typed() -> None:
    settings = load_settings({
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "LDH_TELEGRAM_API_URL": "http://127.0.0.1:8081/bot",
        "LDH_DATA_DIR": "/srv/ldh",
        "LDH_CLINIC_CHAT_ID": "-1001234",
        "LDH_STAFF_IDS": "11, 22,33",
        "LDH_CLINIC_LANGUAGE": "zh",
        "LDH_TIMEZONE": "Asia/Shanghai",
        "LDH_WEBHOOK_URL": "https://bot.example.org/hook",
        "LDH_WEBHOOK_LISTEN": "127.0.0.1:9000",
        "LDH_WEBHOOK_SECRET": "a-secret_1",
    })

    assert settings.api_url == "http://127.0.0.1:8081/bot"
    assert settings.database_url == "sqlite:////srv/ldh/ldh-bot.db"
    assert settings.clinic_chat_id == -1001234
    assert settings.staff_ids == frozenset({11, 22, 33})
    assert settings.clinic_language == "zh"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.webhook_listen == ("127.0.0.1", 9000)
    assert settings.webhook_secret == "a-secret_1"  # noqa: S105  # a test value


def test_a_database_url_wins_over_the_data_dir() -> None:
    env = {"LDH_DATABASE_URL": "postgresql://ldh@db/ldh", "LDH_DATA_DIR": "/srv/ldh"}
    assert default_database_url(env) == "postgresql://ldh@db/ldh"


def test_every_fault_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({
            "LDH_TELEGRAM_API_URL": "ftp://nowhere",
            "LDH_CLINIC_CHAT_ID": "clinic",
            "LDH_STAFF_IDS": "11,bob",
            "LDH_CLINIC_LANGUAGE": "fr",
            "LDH_TIMEZONE": "Mars/Base",
            "LDH_WEBHOOK_URL": "http://bot.example.org/hook",
            "LDH_WEBHOOK_LISTEN": "everywhere",
        })
    lines = str(raised.value).splitlines()
    assert [line.split()[0] for line in lines] == [
        "TELEGRAM_BOT_TOKEN", "LDH_TELEGRAM_API_URL", "LDH_CLINIC_CHAT_ID", "LDH_STAFF_IDS",
        "LDH_CLINIC_LANGUAGE", "LDH_TIMEZONE", "LDH_WEBHOOK_LISTEN", "LDH_WEBHOOK_URL",
        "LDH_WEBHOOK_SECRET",
    ]


@pytest.mark.parametrize("secret", ["has space", "x" * 257, "semi;colon"])
def test_a_webhook_secret_must_be_one_telegram_accepts(secret: str) -> None:
    with pytest.raises(SettingsError, match="LDH_WEBHOOK_SECRET must be 1-256 characters"):
        load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_WEBHOOK_URL": "https://x.org/h",
                       "LDH_WEBHOOK_SECRET": secret})


def test_a_token_that_is_not_one_is_refused() -> None:
    with pytest.raises(SettingsError, match="does not look like a bot token"):
        load_settings({"TELEGRAM_BOT_TOKEN": "not-a-token"})


def test_retention_is_a_year_unless_set_in_whole_days() -> None:
    assert load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}).retention == timedelta(days=365)
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_RETENTION_DAYS": " 90 "})
    assert settings.retention == timedelta(days=90)


@pytest.mark.parametrize("days", ["0", "-3", "1.5", "a year", "36501"])
def test_a_retention_that_is_not_whole_days_is_refused(days: str) -> None:
    with pytest.raises(SettingsError, match=f"LDH_RETENTION_DAYS must be a whole number of days "
                                            f"from 1, not '{days}'"):
        load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_RETENTION_DAYS": days})


def test_the_emergency_number_is_optional_and_kept_as_written() -> None:
    base = {"TELEGRAM_BOT_TOKEN": "123:abc"}
    assert load_settings(base).emergency_number is None
    settings = load_settings({**base, "LDH_EMERGENCY_NUMBER": "  999 "})
    assert settings.emergency_number == "999"
    assert emergency_number({"LDH_EMERGENCY_NUMBER": "+86 120"}) == "+86 120"
    assert emergency_number({}) is None


@pytest.mark.parametrize("number", ["call 999", "<b>120</b>", "()", "1" * 21])
def test_an_emergency_number_that_is_not_one_is_named(number: str) -> None:
    with pytest.raises(SettingsError, match="LDH_EMERGENCY_NUMBER"):
        load_settings({"TELEGRAM_BOT_TOKEN": "123:abc", "LDH_EMERGENCY_NUMBER": number})
    with pytest.raises(SettingsError, match="LDH_EMERGENCY_NUMBER"):
        emergency_number({"LDH_EMERGENCY_NUMBER": number})


def test_the_dashboard_is_off_unless_it_listens_and_then_needs_its_address() -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert settings.dashboard_listen is None
    assert settings.dashboard_url is None
    on = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_DASHBOARD_LISTEN": "0.0.0.0:8090",
                        "LDH_DASHBOARD_URL": "https://bot.example.org/"})
    assert on.dashboard_listen == ("0.0.0.0", 8090)  # noqa: S104  # a test value
    assert on.dashboard_url == "https://bot.example.org/"
    with pytest.raises(SettingsError) as raised:
        load_settings({"LDH_DASHBOARD_LISTEN": "0.0.0.0:8090", "LDH_CLINIC_LANGUAGE": "fr"})
    assert [line.split()[0] for line in str(raised.value).splitlines()] == [
        "TELEGRAM_BOT_TOKEN", "LDH_CLINIC_LANGUAGE", "LDH_DASHBOARD_URL"]


@pytest.mark.parametrize(("name", "value"), [
    ("LDH_DASHBOARD_LISTEN", "8090"), ("LDH_DASHBOARD_URL", "ftp://x.org/"),
    ("LDH_LOG_LEVEL", "loud"), ("LDH_URGENT_CONTACT", "<b>A&E</b>"),
    ("LDH_URGENT_CONTACT", "x" * 201),
])
def test_a_wrong_value_of_a_newer_setting_is_one_line_naming_it(name: str, value: str) -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_DASHBOARD_URL": "https://bot.example.org/",
           name: value}
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert [line.split()[0] for line in str(raised.value).splitlines()] == [name]


def test_the_urgent_contact_is_optional_and_kept_on_one_line() -> None:
    assert load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}).urgent_contact is None
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN,
                              "LDH_URGENT_CONTACT": " City Hospital spine desk,\n 020 7946 0000 "})
    assert settings.urgent_contact == "City Hospital spine desk, 020 7946 0000"
    assert urgent_contact({"LDH_URGENT_CONTACT": "GP out of hours: 111"}) == "GP out of hours: 111"
    assert urgent_contact({}) is None


def test_the_log_level_is_info_unless_set_in_any_case() -> None:
    assert load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}).log_level == "INFO"
    assert load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_LOG_LEVEL": "debug"}).log_level == (
        "DEBUG")


def test_a_send_rate_above_telegrams_limit_is_taken_with_a_warning() -> None:
    assert load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}).warnings() == []
    fast = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_SEND_RATE": "1000"})
    assert fast.send_rate == 1000.0
    assert fast.warnings() == [
        ("LDH_SEND_RATE 1000 is above Telegram's 30 messages a second: expect 429 refusals and "
        "delays")]


def test_the_environment_is_read_and_then_a_dot_env_file_which_it_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [*os.environ]:
        if name.startswith("LDH_") or name == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(name)
    env_file = tmp_path / ".env"
    env_file.write_text("TELEGRAM_BOT_TOKEN=123:fromfile\nLDH_TIMEZONE=Asia/Shanghai\n"
                        "LDH_STAFF_IDS=11,22\nUNRELATED=1\n", encoding="utf-8")
    monkeypatch.setenv("LDH_TIMEZONE", "Europe/London")

    settings = load_settings(env_file=env_file)

    assert settings.token == "123:fromfile"  # noqa: S105  # a test value
    assert settings.timezone == "Europe/London"
    assert settings.staff_ids == frozenset({11, 22})


def test_a_variable_named_like_a_field_is_not_read_as_that_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("timezone", "Mars/Base")
    monkeypatch.setenv("token", "not-a-token")
    monkeypatch.delenv("LDH_TIMEZONE", raising=False)
    settings = load_settings()
    assert settings.timezone == "UTC"
    assert settings.token == TOKEN


def test_settings_given_in_code_by_name_are_typed_as_read() -> None:
    settings = Settings(token=TOKEN, database_url="sqlite:///x.db", staff_ids=frozenset({5}),
                        webhook_listen=("127.0.0.1", 8443), timezone="UTC")
    assert settings.staff_ids == frozenset({5})
    assert settings.webhook_listen == ("127.0.0.1", 8443)
    assert settings.retention == timedelta(days=365)


def test_s2_the_urgent_contact_is_optional_and_kept_as_written() -> None:
    assert urgent_contact({}) is None
    assert urgent_contact({"LDH_URGENT_CONTACT": "   "}) is None
    assert urgent_contact({"LDH_URGENT_CONTACT": " your GP practice  or NHS 111 "}) == (
        "your GP practice or NHS 111")
    assert urgent_contact({"LDH_URGENT_CONTACT": "脊柱外科门诊 010-5555 1234"}) == (
        "脊柱外科门诊 010-5555 1234")


def test_s2_an_urgent_contact_too_long_to_be_one_is_refused_not_cut() -> None:
    with pytest.raises(SettingsError, match="LDH_URGENT_CONTACT"):
        urgent_contact({"LDH_URGENT_CONTACT": "x" * 201})
