"""Repeated events become one log line a minute at most, with counts by reason."""

from __future__ import annotations

import logging

import pytest

from bot.ops.summary import Summary


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_first_event_logs_at_once_and_the_rest_come_a_minute_later_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    summary = Summary(logging.getLogger("test.summary"), "refused", clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.summary"):
        summary.add("secret")
        for second in range(1, 60):
            clock.now = float(second)
            summary.add("not_an_update")
            summary.add("secret")
        clock.now = 60.0
        summary.add("too_large")
    assert [r.getMessage() for r in caplog.records] == [
        "refused: 1 (secret: 1) in the last 0 s",
        "refused: 119 (not_an_update: 59, secret: 59, too_large: 1) in the last 60 s",
    ]
