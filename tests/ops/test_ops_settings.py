"""``ldh-bot run`` reads every setting at once: each fault named on its own line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.botapi_standin import StandIn

from bot.config import SettingsError, settings_help
from bot.ops.settings import RunSettings, database_passwords, ops_settings, read_settings

TOKEN = "123456:ABCdef"  # noqa: S105  # the shape of a token, not a credential
RUN = {"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_EMERGENCY_NUMBER": "999"}


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
            **RUN,
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
        read_settings({**RUN, "LDH_DATABASE_URL": url})
    assert "pw" not in str(raised.value)


def test_good_settings_are_read_together() -> None:
    run = read_settings({
        **RUN,
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


def test_run_refuses_to_start_without_the_emergency_number_in_one_line() -> None:
    with pytest.raises(SettingsError) as raised:
        read_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "LDH_EMERGENCY_NUMBER": "  "})
    assert str(raised.value).splitlines() == [
        ("LDH_EMERGENCY_NUMBER is required by ldh-bot run: the number every emergency message "
        "names (e.g. 999, 112 or 120)")]


def test_the_start_up_line_names_mode_bot_database_dashboard_and_ops_without_a_password() -> None:
    run = read_settings({
        **RUN,
        "LDH_DATABASE_URL": "postgresql://ldh:s3cret-pw@db:5432/ldh?password=other-pw&sslmode=off",
        "LDH_WEBHOOK_URL": "https://bot.example.org/hook",
        "LDH_WEBHOOK_SECRET": "hook-secret",
        "LDH_DASHBOARD_LISTEN": "0.0.0.0:8090",
        "LDH_DASHBOARD_URL": "https://bot.example.org/",
        "LDH_OPS_LISTEN": "127.0.0.1:9090",
    })
    line = run.describe("ldh_clinic_bot")
    assert line == (
        "serving @ldh_clinic_bot by webhook at https://bot.example.org/hook on 0.0.0.0:8443; "
        "database postgresql://ldh@db:5432/ldh?sslmode=off; "
        "dashboard 0.0.0.0:8090 (https://bot.example.org/); ops 127.0.0.1:9090")
    assert "pw" not in line


def test_the_start_up_line_of_a_plain_polling_bot() -> None:
    line = read_settings(RUN).describe("ldh_bot")
    assert line == ("serving @ldh_bot by long polling; database sqlite:///data/ldh-bot.db; "
                    "dashboard off; ops off")


def test_every_setting_of_run_has_one_line_of_help_with_its_default() -> None:
    lines = settings_help(RunSettings).splitlines()
    names = [line.split()[0] for line in lines]
    assert names == [str(f.validation_alias) for f in RunSettings.model_fields.values()]
    by_name = dict(zip(names, lines, strict=True))
    assert by_name["LDH_SEND_RATE"].endswith("(default: 30)")
    assert by_name["LDH_OPS_LISTEN"].endswith("(default: off)")
    assert by_name["LDH_CLINIC_LANGUAGE"].endswith("(default: en)")
    assert by_name["LDH_TIMEZONE"].endswith("(default: UTC)")
    assert "(default:" not in by_name["TELEGRAM_BOT_TOKEN"]
    assert "(default:" not in by_name["LDH_EMERGENCY_NUMBER"]


# --- in a real process ------------------------------------------------------------------------


def _start(standin: StandIn, folder: Path, **settings: str) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LDH_") and k != "TELEGRAM_BOT_TOKEN"}
    env.update({"LDH_TELEGRAM_API_URL": standin.base_url, **settings})
    # The token and the emergency number come from .env in the working folder.
    (folder / ".env").write_text(f"TELEGRAM_BOT_TOKEN={standin.token}\n"
                                 "LDH_EMERGENCY_NUMBER=999\n", encoding="utf-8")
    log = folder / "bot.log"
    with log.open("wb") as out:
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=folder, env=env,
                               stdout=out, stderr=out)
    return bot, log


def _stop(bot: subprocess.Popen[bytes]) -> None:
    bot.send_signal(signal.SIGTERM)
    bot.wait(timeout=30)


@pytest.mark.slow
def test_run_says_what_it_serves_what_it_created_and_warns_of_a_fast_rate(
    tmp_path: Path,
) -> None:
    with StandIn() as standin:
        bot, log = _start(standin, tmp_path, LDH_SEND_RATE="100")
        try:
            standin.wait_for(lambda: standin.calls_to("deleteWebhook"), timeout=30)
        finally:
            _stop(bot)
    text = log.read_text(encoding="utf-8")
    assert ("serving @standin_bot by long polling; database sqlite:///data/ldh-bot.db; "
            "dashboard off; ops off") in text
    assert "created the database data/ldh-bot.db" in text
    assert "migrated the database to schema version" in text
    assert "LDH_SEND_RATE 100 is above Telegram's 30 messages a second" in text
    assert standin.token.partition(":")[2] not in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_run_at_log_level_warning_says_only_warnings(tmp_path: Path) -> None:
    with StandIn() as standin:
        bot, log = _start(standin, tmp_path, LDH_LOG_LEVEL="warning", LDH_SEND_RATE="100")
        try:
            standin.wait_for(lambda: standin.calls_to("deleteWebhook"), timeout=30)
        finally:
            _stop(bot)
    text = log.read_text(encoding="utf-8")
    assert "LDH_SEND_RATE 100 is above" in text
    assert " INFO " not in text
    assert "serving @standin_bot" not in text
