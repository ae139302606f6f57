"""``ldh-bot bench``: the speed and memory targets, measured on this machine.

Each serving session runs in a fresh process (``bot.bench.serve``) against an in-process Bot
API: our bot on a store of ``patients`` patients and on one a hundredth the size, and the
plain python-telegram-bot baseline, all under the same mixed traffic.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.bench.dashboard import measure_dashboard
from bot.bench.export_cost import ExportFigures, measure_export
from bot.bench.reminder_rate import measure_dispatch
from bot.bench.report import TARGETS, Target, table, verdicts
from bot.bench.store_fill import fill
from bot.content import Content, load_content

__all__ = ["TARGETS", "BenchError", "Target", "measure", "run"]

DEFAULT_PATIENTS = 100_000
DEFAULT_CONVERSATIONS = 300
DEFAULT_ROUNDS = 3
SMALL_SHARE = 100  # the small store holds a hundredth of the patients (1,000 of 100,000)
MIN_SMALL = 10
CHATTING_PATIENTS = 40  # while reminders drain, these chat; their replies go first


class BenchError(RuntimeError):
    """A serving session that could not be measured."""


def _session(kind: str, patients: int, conversations: int, db: Path | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bot.bench.serve", "--kind", kind,
               "--patients", str(patients), "--conversations", str(conversations),
               "--spawned", repr(time.time())]
    if db is not None:
        command += ["--db", str(db)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  # our own module
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        msg = f"the {kind} session on {patients} patients failed: {tail[0]}"
        raise BenchError(msg)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _percentile(sorted_ms: list[float], share: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * share))]


def _per_update(session: dict[str, Any], key: str) -> float | None:
    value = session.get(key)
    return None if value is None else float(value) / session["updates"]


def _machine() -> dict[str, object]:
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.machine()}"}


def _fresh_copy(filled: Path, directory: Path, name: str) -> Path:
    """A session changes its store, so each one starts from a copy of the filled file."""
    copy = directory / name
    shutil.copyfile(filled, copy)
    # Written to disk before the session starts, as a store that has been there a while is:
    # otherwise flushing the copy slows the session's start-up.
    with copy.open("rb+") as written:
        os.fsync(written.fileno())
    return copy


def _best(sessions: list[dict[str, Any]], key: str) -> float:
    return min(float(s[key]) / (s["updates"] if key == "cpu_s" else 1) for s in sessions)


def _fastest(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    return max(sessions, key=lambda s: s["updates"] / s["seconds"])


Sessions = list[dict[str, Any]]


def _sessions(patients: int, conversations: int, rounds: int,
              content: Content) -> tuple[Sessions, Sessions, Sessions, ExportFigures]:
    """Our bot on the small and the large store and the baseline, round after round.

    The export is measured at the large size too, on a store of its own.
    """
    small_patients = max(patients // SMALL_SHARE, MIN_SMALL)
    small: Sessions = []
    big: Sessions = []
    baseline: Sessions = []
    with tempfile.TemporaryDirectory(prefix="ldh-bench-") as name:
        directory = Path(name)
        small_db, big_db = directory / "small.db", directory / "big.db"
        fill(small_db, small_patients, content)
        fill(big_db, patients, content)
        for round_ in range(rounds):
            copy = _fresh_copy(small_db, directory, f"small-{round_}.db")
            small.append(_session("ours", small_patients, conversations, copy))
            copy.unlink()
            baseline.append(_session("baseline", small_patients, conversations, None))
            copy = _fresh_copy(big_db, directory, f"big-{round_}.db")
            big.append(_session("ours", patients, conversations, copy))
            copy.unlink()
        # The export fills a store of its own with fully screened patients, the worst case.
        export = measure_export(f"sqlite:///{directory / 'export.db'}", patients)
    return small, big, baseline, export


def measure(patients: int = DEFAULT_PATIENTS, conversations: int = DEFAULT_CONVERSATIONS,
            rounds: int = DEFAULT_ROUNDS) -> dict[str, object]:
    """Every figure of the bench, keyed as the speed issue names them.

    Each session runs ``rounds`` times, interleaved, and the best run of each counts: on a
    machine shared with other work the best run is the one least disturbed by it.
    """
    content = load_content()
    small_runs, big_runs, baseline_runs, export = _sessions(patients, conversations, rounds,
                                                           content)
    # A backlog of reminders drained while patients chat: as many as patients, 60 to 600.
    reminders = asyncio.run(measure_dispatch(min(600, max(60, patients)), CHATTING_PATIENTS))
    dashboard = measure_dashboard(patients, content)
    big, baseline = _fastest(big_runs), _fastest(baseline_runs)
    ours_rate = big["updates"] / big["seconds"]
    baseline_rate = baseline["updates"] / baseline["seconds"]
    small_cost, big_cost = _best(small_runs, "cpu_s"), _best(big_runs, "cpu_s")
    baseline_cost = _best(baseline_runs, "cpu_s")
    return {
        "updates_per_s": ours_rate,
        "p50_ms": _percentile(big["latencies_ms"], 0.50),
        "p99_ms": _percentile(big["latencies_ms"], 0.99),
        "baseline_updates_per_s": baseline_rate,
        "throughput_ratio": ours_rate / baseline_rate,
        # The same ratio per CPU second: steadier than wall time on a machine others share.
        "throughput_ratio_cpu": baseline_cost / big_cost,
        "store_trips_per_update": _per_update(big, "store_trips"),
        # Of those, the outbox dispatcher's (claims after each update, sends).
        "dispatcher_trips_per_update": _per_update(big, "dispatcher_trips"),
        "bot_api_calls_per_update": _per_update(big, "api_calls"),
        "baseline_bot_api_calls_per_update": _per_update(baseline, "api_calls"),
        "cost_ratio_100k_vs_1k": big_cost / small_cost,
        "cpu_ms_per_update_100k": big_cost * 1000,
        "cpu_ms_per_update_1k": small_cost * 1000,
        "baseline_cpu_ms_per_update": baseline_cost * 1000,
        "rss_growth_mb_100k_vs_1k": _best(big_runs, "rss_mb") - _best(small_runs, "rss_mb"),
        "rss_mb_100k": _best(big_runs, "rss_mb"),
        "startup_s_100k": _best(big_runs, "startup_s"),
        "startup_s_1k": _best(small_runs, "startup_s"),
        "reminders_per_s": reminders.reminders_per_s,
        "reminders_429": reminders.reminders_429,
        "reminders_only_per_s": reminders.reminders_only_per_s,
        "reply_wait_p99_ms": reminders.reply_wait_p99_ms,
        "export_s_100k": export.seconds,
        "export_peak_mb_100k": export.peak_mb,
        "dashboard_queue_ms_100k": dashboard.queue_ms,
        "dashboard_patient_ms_100k": dashboard.patient_ms,
        "kb_per_active_conversation": (big["heap_bytes_per_conversation"]
                                       + big["stored_bytes_per_conversation"]) / 1024,
        "baseline_kb_per_active_conversation": baseline["heap_bytes_per_conversation"] / 1024,
        "patients": patients,
        "small_patients": max(patients // SMALL_SHARE, MIN_SMALL),
        "rounds": rounds,
        "updates_timed": big["updates"],
        "traffic": big["kinds"],
        "machine": _machine(),
    }


def run(patients: int = DEFAULT_PATIENTS, conversations: int = DEFAULT_CONVERSATIONS,
        rounds: int = DEFAULT_ROUNDS, *, as_json: bool = False) -> int:
    """Measure, then print a table (exit 1 if a target is missed) or one JSON object."""
    figures = measure(patients, conversations, rounds)
    if as_json:
        print(json.dumps(figures, ensure_ascii=False))  # noqa: T201  # the report itself
        return 0
    print(table(figures))  # noqa: T201  # the report itself
    missed = [key for key, met in verdicts(figures).items() if met is False]
    unmeasured = [key for key, met in verdicts(figures).items() if met is None]
    if unmeasured:
        print(f"not measured: {', '.join(unmeasured)}")  # noqa: T201  # the report itself
    if missed:
        print(f"missed: {', '.join(missed)}")  # noqa: T201  # the report itself
        return 1
    return 0
