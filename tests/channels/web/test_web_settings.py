"""The dashboard's settings: off unless LDH_DASHBOARD_LISTEN is set; read with every other one."""

from __future__ import annotations

from bot.channels.web.settings import web_settings
from bot.config import load_settings

TOKEN = "123456:test-token"  # noqa: S105  # a test value


def test_off_by_default_in_english() -> None:
    settings = web_settings(load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}))
    assert not settings.enabled
    assert settings.language == "en"


def test_listen_url_and_language_are_read() -> None:
    settings = web_settings(load_settings({
        "TELEGRAM_BOT_TOKEN": TOKEN, "LDH_DASHBOARD_LISTEN": "10.0.0.5:8090",
        "LDH_DASHBOARD_URL": "https://clinic.example.org/", "LDH_CLINIC_LANGUAGE": "zh"}))
    assert (settings.host, settings.port, settings.url, settings.language) == (
        "10.0.0.5", 8090, "https://clinic.example.org", "zh")


def test_off_is_off() -> None:
    assert not web_settings(load_settings({"TELEGRAM_BOT_TOKEN": TOKEN,
                                           "LDH_DASHBOARD_LISTEN": "off"})).enabled
