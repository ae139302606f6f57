"""A clock tests move by hand instead of sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta


class ManualClock:
    """Reads ``now``; tests set or advance it."""

    def __init__(self, now: datetime) -> None:
        """Start at ``now``."""
        self.now = now

    def __call__(self) -> datetime:
        """The current test time."""
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``."""
        self.now += delta
