"""The dashboard's bench: server time of the queue and of patient pages on a filled store."""

from __future__ import annotations

from bot.bench.dashboard import measure_dashboard
from bot.content import Content


def test_dashboard_pages_are_timed_on_a_filled_store(content: Content) -> None:
    figures = measure_dashboard(300, content)
    assert 0 < figures.queue_ms < 5000
    assert 0 < figures.patient_ms < 5000
