"""The dashboard's settings: off unless LDH_DASHBOARD_LISTEN is set; every fault named."""

from __future__ import annotations

import pytest

from bot.channels.web.settings import WebSettingsError, web_settings


def test_off_by_default_in_english() -> None:
    settings = web_settings({})
    assert not settings.enabled
    assert settings.language == "en"


def test_listen_url_and_language_are_read() -> None:
    settings = web_settings({"LDH_DASHBOARD_LISTEN": "10.0.0.5:8090",
                             "LDH_DASHBOARD_URL": "https://clinic.example.org/",
                             "LDH_CLINIC_LANGUAGE": "zh"})
    assert (settings.host, settings.port, settings.url, settings.language) == (
        "10.0.0.5", 8090, "https://clinic.example.org", "zh")


def test_without_a_url_the_listen_address_is_the_link() -> None:
    assert web_settings({"LDH_DASHBOARD_LISTEN": "127.0.0.1:8090"}).url == (
        "http://127.0.0.1:8090")


@pytest.mark.parametrize(("env", "named"), [
    ({"LDH_DASHBOARD_LISTEN": "8090"}, "LDH_DASHBOARD_LISTEN"),
    ({"LDH_DASHBOARD_LISTEN": "host:99999"}, "LDH_DASHBOARD_LISTEN"),
    ({"LDH_DASHBOARD_URL": "clinic.example.org"}, "LDH_DASHBOARD_URL"),
    ({"LDH_CLINIC_LANGUAGE": "fr"}, "LDH_CLINIC_LANGUAGE"),
])
def test_a_bad_setting_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(WebSettingsError, match=named):
        web_settings(env)


def test_off_is_off() -> None:
    assert not web_settings({"LDH_DASHBOARD_LISTEN": "off"}).enabled
