"""``ldh-bot bench``: the speed and memory targets, measured on this machine.

Each serving session runs in a fresh process (``bot.bench.serve``) against an in-process Bot
API: our bot on a store of ``patients`` patients and on one a hundredth the size, and the
plain python-telegram-bot baseline, all under the same mixed traffic.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.bench.export_cost import measure_export
from bot.bench.reminder_rate import measure_reminders
from bot.bench.report import TARGETS, Target, table, verdicts
from bot.bench.store_fill import fill
from bot.content import load_content

__all__ = ["TARGETS", "BenchError", "Target", "measure", "run"]

DEFAULT_PATIENTS = 100_000
DEFAULT_CONVERSATIONS = 300
SMALL_SHARE = 100  # the small store holds a hundredth of the patients (1,000 of 100,000)
MIN_SMALL = 10


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


def measure(patients: int = DEFAULT_PATIENTS,
            conversations: int = DEFAULT_CONVERSATIONS) -> dict[str, object]:
    """Every figure of the bench, keyed as the speed issue names them."""
    small_patients = max(patients // SMALL_SHARE, MIN_SMALL)
    content = load_content()
    with tempfile.TemporaryDirectory(prefix="ldh-bench-") as directory:
        small_db, big_db = Path(directory, "small.db"), Path(directory, "big.db")
        fill(small_db, small_patients, content)
        started = time.perf_counter()
        fill(big_db, patients, content)
        fill_s = time.perf_counter() - started
        small = _session("ours", small_patients, conversations, small_db)
        baseline = _session("baseline", small_patients, conversations, None)
        big = _session("ours", patients, conversations, big_db)
        reminders = measure_reminders(patients)
        export = measure_export(f"sqlite:///{big_db}", patients)
    ours_rate = big["updates"] / big["seconds"]
    baseline_rate = baseline["updates"] / baseline["seconds"]
    small_cost = small["cpu_s"] / small["updates"]
    big_cost = big["cpu_s"] / big["updates"]
    return {
        "updates_per_s": ours_rate,
        "p50_ms": _percentile(big["latencies_ms"], 0.50),
        "p99_ms": _percentile(big["latencies_ms"], 0.99),
        "baseline_updates_per_s": baseline_rate,
        "throughput_ratio": ours_rate / baseline_rate,
        # The same ratio per CPU second: steadier than wall time on a machine others share.
        "throughput_ratio_cpu": (big["updates"] / big["cpu_s"])
                                / (baseline["updates"] / baseline["cpu_s"]),
        "store_trips_per_update": _per_update(big, "store_trips"),
        "bot_api_calls_per_update": _per_update(big, "api_calls"),
        "baseline_bot_api_calls_per_update": _per_update(baseline, "api_calls"),
        "cost_ratio_100k_vs_1k": big_cost / small_cost,
        "cpu_ms_per_update_100k": big_cost * 1000,
        "cpu_ms_per_update_1k": small_cost * 1000,
        "rss_growth_mb_100k_vs_1k": big["rss_mb"] - small["rss_mb"],
        "rss_mb_100k": big["rss_mb"],
        "startup_s_100k": big["startup_s"],
        "startup_s_1k": small["startup_s"],
        "reminders_per_s": None if reminders is None else reminders.per_s,
        "reminders_429": None if reminders is None else reminders.responses_429,
        "export_s_100k": None if export is None else export.seconds,
        "export_peak_mb_100k": None if export is None else export.peak_mb,
        "kb_per_active_conversation": (big["heap_bytes_per_conversation"]
                                       + big["stored_bytes_per_conversation"]) / 1024,
        "baseline_kb_per_active_conversation": baseline["heap_bytes_per_conversation"] / 1024,
        "patients": patients,
        "small_patients": small_patients,
        "fill_s": fill_s,
        "updates_timed": big["updates"],
        "traffic": big["kinds"],
        "machine": _machine(),
    }


def run(patients: int = DEFAULT_PATIENTS, conversations: int = DEFAULT_CONVERSATIONS, *,
        as_json: bool = False) -> int:
    """Measure, then print a table (exit 1 if a target is missed) or one JSON object."""
    figures = measure(patients, conversations)
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
