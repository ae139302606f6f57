"""``ldh-bot bench``: the speed and memory targets, measured on this machine."""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.content import Content, load_content
from bot.conversation import Action, Conversations
from bot.storage import open_store

# One routine patient's answers through the whole screening (a minimally invasive result).
ROUTINE = ["no"] * 8 + ["60", "yes", "7", "none", "6_weeks_or_more", "none", "protrusion",
                        "none", "no", "no"]
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Target:
    """A measured figure against its limit."""

    name: str
    value: float
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        """Whether the figure is within its limit."""
        return self.value <= self.limit


def _timed(run: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def _screening(content: Content) -> None:
    engine = content.engines["screening"]
    session, turn = engine.start("en")
    for answer in ROUTINE:
        question = turn.question
        turn = engine.answer(session, answer, question.seq if question else None)


def bench_engine(content: Content, screenings: int) -> list[Target]:
    """Steps through the shared machine, and the memory one patient's session costs."""
    per_screening = _timed(lambda: _screening(content), screenings)
    step_us = statistics.median(per_screening) / len(ROUTINE) * 1e6
    engine = content.engines["screening"]
    tracemalloc.start()
    sessions = []
    for _ in range(1000):
        session, _turn = engine.start("en")
        sessions.append(session.to_json())
    size, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return [
        Target("engine step (median)", step_us, 500.0, "µs"),
        Target("memory per new session", size / len(sessions) / 1024, 16.0, "KiB"),
    ]


async def _updates(content: Content, directory: Path, patients: int) -> list[float]:
    store = open_store(f"sqlite:///{directory / 'bench.db'}")
    await store.open()
    conversations = Conversations(content, store, clock=lambda: NOW)
    latencies: list[float] = []
    update_id = 0
    try:
        for patient in range(patients):
            for text in ["/start", *ROUTINE]:
                update_id += 1
                command = text[1:] if text.startswith("/") else None
                action = Action(patient, command=command, text="" if command else text,
                                update_id=update_id)
                started = time.perf_counter()
                await conversations.handle(action)
                latencies.append(time.perf_counter() - started)
    finally:
        await store.close()
    return latencies


def bench_updates(content: Content, patients: int) -> list[Target]:
    """One update end to end on SQLite: load, step, save, record the update id, commit."""
    with tempfile.TemporaryDirectory() as directory:
        latencies = asyncio.run(_updates(content, Path(directory), patients))
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)] * 1000
    return [
        Target("update on SQLite (p95)", p95, 20.0, "ms"),
        Target("update on SQLite (median)", statistics.median(latencies) * 1000, 10.0, "ms"),
    ]


def bench_startup() -> list[Target]:
    """Loading and checking every dialogue file, as the bot does once at start."""
    times = _timed(load_content, 5)
    return [Target("load and check dialogues", min(times) * 1000, 1000.0, "ms")]


def run(patients: int = 50, screenings: int = 200) -> int:
    """Measure every target; print them, and exit 1 when one is missed."""
    content = load_content()
    targets = [*bench_startup(), *bench_engine(content, screenings),
               *bench_updates(content, patients)]
    for target in targets:
        mark = "ok " if target.met else "MISSED"
        print(f"{mark} {target.name}: {target.value:.2f} {target.unit} "  # noqa: T201  # a report
              f"(limit {target.limit:g} {target.unit})")
    report = {t.name: {"value": round(t.value, 3), "limit": t.limit, "unit": t.unit}
              for t in targets}
    print(json.dumps(report, ensure_ascii=False))  # noqa: T201  # machine-readable copy
    return 0 if all(t.met for t in targets) else 1
