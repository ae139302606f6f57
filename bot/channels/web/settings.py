"""Where the dashboard listens, the address staff open, and its default language."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.dialogue.texts import DEFAULT_LANGUAGE


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


def web_settings(settings: Settings) -> WebSettings:
    """The dashboard's part of the one settings object (checked when it was read)."""
    url = settings.dashboard_url.rstrip("/") if settings.dashboard_url else None
    if settings.dashboard_listen is None:
        return WebSettings(url=url, language=settings.clinic_language)
    host, port = settings.dashboard_listen
    return WebSettings(host.strip("[]"), port, url or f"http://{host}:{port}",
                       settings.clinic_language)
