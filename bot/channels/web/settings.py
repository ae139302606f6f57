"""Where the dashboard listens, the address staff open, and its default language."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.dialogue.texts import DEFAULT_LANGUAGE, LANGUAGES


class WebSettingsError(ValueError):
    """A dashboard setting that cannot be used."""


@dataclass(frozen=True)
class WebSettings:
    """``LDH_DASHBOARD_LISTEN`` (off when unset), ``LDH_DASHBOARD_URL``, ``LDH_CLINIC_LANGUAGE``."""

    host: str | None = None
    port: int | None = None
    url: str | None = None
    language: str = DEFAULT_LANGUAGE

    @property
    def enabled(self) -> bool:
        """Whether the dashboard is served at all."""
        return self.port is not None


def web_settings(environ: Mapping[str, str] = os.environ) -> WebSettings:
    """Read the dashboard's settings; every fault is named."""
    listen = environ.get("LDH_DASHBOARD_LISTEN", "").strip()
    language = environ.get("LDH_CLINIC_LANGUAGE", "").strip() or DEFAULT_LANGUAGE
    if language not in LANGUAGES:
        msg = f"LDH_CLINIC_LANGUAGE must be one of {', '.join(LANGUAGES)}, not {language!r}"
        raise WebSettingsError(msg)
    url = environ.get("LDH_DASHBOARD_URL", "").strip().rstrip("/") or None
    if url is not None and not url.startswith(("http://", "https://")):
        msg = "LDH_DASHBOARD_URL must start with https:// (or http:// on one machine)"
        raise WebSettingsError(msg)
    if not listen or listen.lower() == "off":
        return WebSettings(url=url, language=language)
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:  # noqa: PLR2004  # TCP ports
        msg = f"LDH_DASHBOARD_LISTEN must be HOST:PORT (e.g. 127.0.0.1:8090), not {listen!r}"
        raise WebSettingsError(msg)
    if url is None:
        url = f"http://{host}:{port}"
    return WebSettings(host.strip("[]"), int(port), url, language)
