"""``ldh-bot bench``: the speed and memory targets, measured on this machine.

Each serving session runs in a fresh process (``bot.bench.serve``) against an in-process Bot
API: our bot on a store of ``patients`` patients and on one a hundredth the size, and the
plain python-telegram-bot baseline, all under the same mixed traffic. Given a PostgreSQL
database, our bot is also served from it (in a schema of its own per session), alone and as two
instances sharing it.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from bot.bench import postgres_fill
from bot.bench.dashboard import measure_dashboard
from bot.bench.export_cost import ExportFigures, measure_export
from bot.bench.reminder_rate import measure_dispatch
from bot.bench.report import TARGETS, Target, table, verdicts
from bot.bench.store_fill import fill
from bot.content import Content, load_content
from bot.storage.postgres import describe

__all__ = ["TARGETS", "BenchError", "Target", "measure", "run"]

DEFAULT_PATIENTS = 100_000
DEFAULT_CONVERSATIONS = 300
DEFAULT_ROUNDS = 3
SMALL_SHARE = 100  # the small store holds a hundredth of the patients (1,000 of 100,000)
MIN_SMALL = 10
CHATTING_PATIENTS = 40  # while reminders drain, these chat; their replies go first


T = TypeVar("T")


class BenchError(RuntimeError):
    """A serving session that could not be measured."""


def _command(kind: str, patients: int, conversations: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bot.bench.serve", "--kind", kind,
            "--patients", str(patients), "--conversations", str(conversations),
            "--spawned", repr(time.time()), *extra]


def _figures(kind: str, patients: int, returncode: int, stdout: str,
             stderr: str) -> dict[str, Any]:
    if returncode != 0:
        tail = stderr.strip().splitlines()[-1:] or ["no output"]
        msg = f"the {kind} session on {patients} patients failed: {tail[0]}"
        raise BenchError(msg)
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def _session(kind: str, patients: int, conversations: int, db: Path | None,
             database: str | None = None) -> dict[str, Any]:
    extra = ["--db", str(db)] if db is not None else []
    extra += ["--database", database] if database is not None else []
    command = _command(kind, patients, conversations, *extra)
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  # our own module
    return _figures(kind, patients, done.returncode, done.stdout, done.stderr)


def _instances(patients: int, conversations: int, database: str,
               count: int) -> list[dict[str, Any]]:
    """``count`` instances serving one database at once, each its own patients."""
    with tempfile.TemporaryDirectory(prefix="ldh-bench-barrier-") as barrier:
        running = [
            subprocess.Popen(  # noqa: S603  # our own module
                _command("ours", patients, conversations, "--database", database,
                         "--instance", str(n), "--instances", str(count),
                         "--barrier", barrier),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n in range(count)
        ]
        outputs = [process.communicate() for process in running]
    return [_figures("ours", patients, process.returncode, out, err)
            for process, (out, err) in zip(running, outputs, strict=True)]


def _on_postgres(url: str, patients: int, content: Content,
                 serve: Callable[[str], T]) -> T:
    """``serve`` on a fresh schema of ``url`` filled with ``patients``; the schema is dropped."""
    schema = postgres_fill.create_schema(url)  # reached already: see _check_postgres
    try:
        filled = postgres_fill.schema_url(url, schema)
        postgres_fill.fill(filled, patients, content)
        return serve(filled)
    finally:
        postgres_fill.drop_schema(url, schema)


def _check_postgres(url: str) -> None:
    """Fail at once, in one line, when the database cannot be used; not after the SQLite runs."""
    try:
        postgres_fill.drop_schema(url, postgres_fill.create_schema(url))
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[:1] or [type(error).__name__]
        msg = f"cannot use PostgreSQL at {describe(url)}: {first[0]}"
        raise BenchError(msg) from error


def _postgres_session(url: str, patients: int, conversations: int,
                      content: Content) -> dict[str, Any]:
    """Our bot alone on a fresh schema of ``url`` filled with ``patients``."""
    return _on_postgres(url, patients, content,
                        lambda filled: _session("ours", patients, conversations, None, filled))


def _postgres_pairs(url: str, patients: int, conversations: int, rounds: int,
                    content: Content) -> Sessions:
    """Two instances sharing one database, round after round; the round they served most in."""
    pairs = [_on_postgres(url, patients, content,
                          lambda filled: _instances(patients, conversations, filled, 2))
             for _ in range(rounds)]
    return max(pairs, key=_together)


def _together(instances: list[dict[str, Any]]) -> float:
    """Updates per second of instances serving at once, over the span they served in."""
    span = max(float(i["ended_at"]) for i in instances) - min(
        float(i["started_at"]) for i in instances)
    return sum(int(i["updates"]) for i in instances) / span


def _percentile(sorted_ms: list[float], share: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * share))]


def _per_update(session: dict[str, Any], key: str) -> float | None:
    value = session.get(key)
    return None if value is None else float(value) / session["updates"]


def _trips(session: dict[str, Any]) -> dict[str, float | None]:
    """Trips to the store per update (the update's own, then all), and the dispatcher's."""
    updates, messages = session["updates"], session.get("messages") or 0
    return {
        "update": session["update_trips"] / updates,
        "store": (session["update_trips"] + session["dispatcher_trips"]) / updates,
        # None when no update queued a message: nothing to divide by.
        "message": session["dispatcher_trips"] / messages if messages else None,
        "messages": messages / updates,
    }


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


def _sessions(patients: int, conversations: int, rounds: int, content: Content,
              beside: Callable[[], dict[str, Any]] | None = None,
              ) -> tuple[Sessions, Sessions, Sessions, Sessions, ExportFigures]:
    """Our bot on the small and the large store, the baseline and ``beside``, round after round.

    ``beside`` (our bot on PostgreSQL) runs right after the large store's session it is
    compared with, so that a machine whose speed drifts over the bench's minutes slows both
    alike. The export is measured at the large size too, on a store of its own.
    """
    small_patients = max(patients // SMALL_SHARE, MIN_SMALL)
    small: Sessions = []
    big: Sessions = []
    baseline: Sessions = []
    besides: Sessions = []
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
            if beside is not None:
                besides.append(beside())
        # The export fills a store of its own with fully screened patients, the worst case.
        export = measure_export(f"sqlite:///{directory / 'export.db'}", patients)
    return small, big, baseline, besides, export


def _postgres_figures(alone: Sessions, pairs: Sessions, sqlite_rate: float,
                      sqlite_cost: float) -> dict[str, object]:
    """The PostgreSQL keys, beside the SQLite figures they are compared with."""
    fastest = _fastest(alone)
    rate = fastest["updates"] / fastest["seconds"]
    trips = _trips(fastest)
    cost = _best(alone, "cpu_s")
    return {
        "pg_updates_per_s": rate,
        "pg_ratio_to_sqlite": rate / sqlite_rate,
        # The bot's own CPU only: the server's work is another process's.
        "pg_ratio_to_sqlite_cpu": sqlite_cost / cost,
        "pg_cpu_ms_per_update": cost * 1000,
        "pg_p50_ms": _percentile(fastest["latencies_ms"], 0.50),
        "pg_p99_ms": _percentile(fastest["latencies_ms"], 0.99),
        "pg_store_trips_per_update": trips["store"],
        "pg_update_trips_per_update": trips["update"],
        "pg_dispatcher_trips_per_message": trips["message"],
        # With the chats each process remembers having written (storage/postgres/recent.py).
        "pg_kb_per_active_conversation": (fastest["heap_bytes_per_conversation"]
                                          + fastest["stored_bytes_per_conversation"]) / 1024,
        "pg_two_instances_updates_per_s": _together(pairs),
        "pg_two_instances_each_updates_per_s": [p["updates"] / p["seconds"] for p in pairs],
    }


def measure(patients: int = DEFAULT_PATIENTS, conversations: int = DEFAULT_CONVERSATIONS,
            rounds: int = DEFAULT_ROUNDS, database: str | None = None) -> dict[str, object]:
    """Every figure of the bench, keyed as the speed issue names them.

    Each session runs ``rounds`` times, interleaved, and the best run of each counts: on a
    machine shared with other work the best run is the one least disturbed by it. With a
    PostgreSQL ``database``, the ``pg_`` keys are measured on it as well.
    """
    if database is not None:
        _check_postgres(database)
    content = load_content()
    beside = None if database is None else (
        lambda: _postgres_session(database, patients, conversations, content))
    small_runs, big_runs, baseline_runs, postgres_runs, export = _sessions(
        patients, conversations, rounds, content, beside)
    # A backlog of reminders drained while patients chat: as many as patients, 60 to 600.
    reminders = asyncio.run(measure_dispatch(min(600, max(60, patients)), CHATTING_PATIENTS))
    dashboard = measure_dashboard(patients, content)
    big, baseline = _fastest(big_runs), _fastest(baseline_runs)
    ours_rate = big["updates"] / big["seconds"]
    baseline_rate = baseline["updates"] / baseline["seconds"]
    small_cost, big_cost = _best(small_runs, "cpu_s"), _best(big_runs, "cpu_s")
    baseline_cost = _best(baseline_runs, "cpu_s")
    trips = _trips(big)
    postgres: dict[str, object] = {}
    if database is not None:
        pairs = _postgres_pairs(database, patients, conversations, rounds, content)
        postgres = _postgres_figures(postgres_runs, pairs, ours_rate, big_cost)
    return {
        "updates_per_s": ours_rate,
        "p50_ms": _percentile(big["latencies_ms"], 0.50),
        "p99_ms": _percentile(big["latencies_ms"], 0.99),
        "baseline_updates_per_s": baseline_rate,
        "throughput_ratio": ours_rate / baseline_rate,
        # The same ratio per CPU second: steadier than wall time on a machine others share.
        "throughput_ratio_cpu": baseline_cost / big_cost,
        # Every hand-off to the SQLite thread, then an update's own and the dispatcher's (per
        # message it sent of those the updates queued) apart.
        "store_trips_per_update": trips["store"],
        "update_trips_per_update": trips["update"],
        "dispatcher_trips_per_message": trips["message"],
        "messages_per_update": trips["messages"],
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
        # Wall time is noisy on a shared machine; CPU time (above) is what to judge it beside.
        "wall_s_100k": big["wall_s"],
        "cpu_s_100k": big["cpu_s"],
        **postgres,
        "traffic": big["kinds"],
        "machine": _machine(),
    }


def run(patients: int = DEFAULT_PATIENTS, conversations: int = DEFAULT_CONVERSATIONS,
        rounds: int = DEFAULT_ROUNDS, *, as_json: bool = False,
        database: str | None = None) -> int:
    """Measure, then print a table (exit 1 if a target is missed) or one JSON object."""
    figures = measure(patients, conversations, rounds, database)
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
