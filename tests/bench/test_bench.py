"""``ldh-bot bench`` reports every key of the speed issue, with numbers where it measures them."""

from __future__ import annotations

import json

import pytest

from bot.bench import run
from bot.bench.report import TARGETS, table, verdicts
from bot.cli import main

NUMBERS = (
    "updates_per_s", "p50_ms", "p99_ms", "baseline_updates_per_s", "throughput_ratio",
    "store_trips_per_update", "update_trips_per_update", "messages_per_update",
    "bot_api_calls_per_update", "cost_ratio_100k_vs_1k",
    "rss_growth_mb_100k_vs_1k", "startup_s_100k", "kb_per_active_conversation",
    "reminders_per_s", "reminders_429", "export_s_100k", "export_peak_mb_100k",
    "dashboard_queue_ms_100k", "dashboard_patient_ms_100k",
)


def test_bench_json_has_every_key_of_the_issue_with_measured_numbers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run(200, 6, 1, as_json=True)

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in NUMBERS:
        assert isinstance(report[key], float | int), key
        assert not isinstance(report[key], bool), key
    for key in ("updates_per_s", "baseline_updates_per_s", "throughput_ratio", "p50_ms",
                "store_trips_per_update", "bot_api_calls_per_update", "startup_s_100k",
                "kb_per_active_conversation", "reminders_per_s", "export_s_100k",
                "export_peak_mb_100k", "dashboard_queue_ms_100k", "dashboard_patient_ms_100k"):
        assert report[key] > 0, key
    assert report["p50_ms"] <= report["p99_ms"]
    # Per message the dispatcher sent: a number when updates queued any, else not measured.
    per_message = report["dispatcher_trips_per_message"]
    assert (per_message is None) == (report["messages_per_update"] == 0)
    assert report["update_trips_per_update"] <= report["store_trips_per_update"]
    assert not any(key.startswith("pg_") for key in report)  # no --database, no PostgreSQL
    assert report["reminders_429"] >= 0
    assert report["machine"]["cores"] >= 1
    assert report["machine"]["python"].count(".") == 2
    assert report["patients"] == 200
    traffic = report["traffic"]
    assert traffic["press"] > 0
    assert traffic["typed"] > 0


def test_a_target_is_met_missed_or_not_measured() -> None:
    figures: dict[str, object] = {t.key: None for t in TARGETS}
    figures |= {"throughput_ratio": 0.3, "update_trips_per_update": 2.5,
                "dispatcher_trips_per_message": 1.0, "kb_per_active_conversation": 4.0}

    outcome = verdicts(figures)

    assert outcome["throughput_ratio"] is True  # at least 0.3
    assert outcome["update_trips_per_update"] is False  # at most 2
    assert outcome["dispatcher_trips_per_message"] is True  # at most 1
    assert outcome["kb_per_active_conversation"] is False  # below 4
    assert outcome["export_s_100k"] is None


def test_the_table_says_not_measured_and_marks_a_miss() -> None:
    shown = table({"update_trips_per_update": 3.7, "export_s_100k": None})

    assert "MISSED" in shown.splitlines()[1]
    assert "not measured" in shown.splitlines()[2]


def test_a_size_below_one_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--patients", "0"]) == 2

    error = capsys.readouterr().err
    assert error.startswith("ldh-bot bench: --patients")
    assert len(error.strip().splitlines()) == 1


def test_descriptions_are_listed_under_the_table() -> None:
    shown = table({"p50_ms": 1.0, "machine": {"cores": 2}})

    assert shown.splitlines()[-1] == "machine: cores 2"
