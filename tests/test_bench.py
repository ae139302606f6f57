"""``ldh-bot bench`` measures every target it names (the figures themselves are not tested)."""

from __future__ import annotations

import json

import pytest

from bot.bench import Target, run


def test_bench_reports_every_target_with_a_measured_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(patients=2, screenings=3)

    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report) == {
        "load and check dialogues", "engine step (median)", "memory per new session",
        "update on SQLite (p95)", "update on SQLite (median)",
    }
    assert all(entry["value"] > 0 and entry["limit"] > 0 for entry in report.values())


def test_a_target_is_met_only_within_its_limit() -> None:
    assert Target("x", 1.0, 1.0, "ms").met
    assert not Target("x", 1.1, 1.0, "ms").met
