"""Repeated events as one log line a minute at most: counts by reason, never a line each."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

INTERVAL = 60.0  # seconds between two summary lines


class Summary:
    """Counts events by reason and logs them together, at most once per ``interval``.

    The first event logs at once (an operator sees that it started); the rest are counted and
    told with the first event after the interval. Metrics count every event as it happens.
    """

    def __init__(self, logger: logging.Logger, what: str, *, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Log to ``logger`` as "``what``: N (reason: n, ...) in the last S s"."""
        self._log = logger
        self._what = what
        self._interval = interval
        self._clock = clock
        self._counts: Counter[str] = Counter()
        self._since: float | None = None

    def add(self, reason: str) -> None:
        """Count one event; log the summary if the last line is an interval old."""
        self._counts[reason] += 1
        now = self._clock()
        if self._since is not None and now - self._since < self._interval:
            return
        seconds = 0.0 if self._since is None else now - self._since
        reasons = ", ".join(f"{name}: {count}" for name, count in sorted(self._counts.items()))
        total = sum(self._counts.values())
        self._log.warning("%s: %d (%s) in the last %.0f s", self._what, total, reasons, seconds)
        self._counts.clear()
        self._since = now
