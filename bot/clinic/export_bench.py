"""The export at scale: fill a database with N real-looking patients, time /export, weigh it.

``measure_export(url, patients)`` fills the (empty) database at ``url`` with ``patients``
copies of one real patient — the session and history a routine screening leaves, recorded
through the real conversation — by bulk inserts that the database runs by itself, then runs
the staff desk's ``/export`` in a fresh child process. The child reports the export's wall
time and its peak resident set size (RSS, from ``getrusage``): everything the process held at
its worst, the interpreter and the loaded dialogues included, not just Python objects.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bot.clinic.replies import StaffRequest, discard
from bot.clinic.staff import StaffDesk
from bot.content import Content, load_content
from bot.conversation import Action, Conversations
from bot.dialogue.turn import Question
from bot.storage import open_store
from bot.storage.base import dump_json
from bot.storage.sqlite_transaction import stamp

# The template patient's answers where a question offers them; else "no", else the first
# option, and the middle of a number's range: a full screening, whatever the YAML asks.
PREFERRED = {"age": "60", "pain_score": "7", "leg_pain": "yes",
             "conservative_course": "6_weeks_or_more", "conservative_response": "none",
             "imaging": "protrusion"}
MAX_QUESTIONS = 100
STARTED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
FIRST_CHAT = 100_000_000  # Telegram-sized ids; patient i is FIRST_CHAT + i
STAFF = 1
MEASURE_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Template:
    """One real patient as stored: the session, and the history with each event's offset."""

    language: str
    session: dict[str, Any]
    events: tuple[tuple[str, dict[str, Any], timedelta], ...]


async def _template(content: Content) -> Template:
    """Screen one patient through the real conversation on a throw-away store."""
    store = open_store("sqlite:///:memory:")
    await store.open()
    try:
        moment = STARTED
        conversations = Conversations(content, store, clock=lambda: moment)
        reply = await conversations.handle(Action(1, command="start", language_hint="en"))
        for _ in range(MAX_QUESTIONS):
            question = reply.turn.question
            if question is None:
                break
            moment += timedelta(seconds=20)
            reply = await conversations.handle(
                Action(1, text=_answer(content, question), seq=question.seq))
        async with store.transaction(1, moment) as tx:
            patient = await tx.load()
        events = await store.events(1)
    finally:
        await store.close()
    if patient is None:
        msg = "the template patient was not saved"
        raise RuntimeError(msg)
    return Template(patient.language, patient.session,
                    tuple((e.kind, e.data, e.at - STARTED) for e in events))


def _answer(content: Content, question: Question) -> str:
    """The template patient's answer to ``question``, as a button press or a typed number."""
    values = [option.value for option in question.options]
    preferred = PREFERRED.get(question.fact or "")
    if values:
        return next((v for v in (preferred, "no") if v in values), values[0])
    if preferred is not None:
        return preferred
    domain = content.domains.get(question.fact or "")
    if domain is not None and domain.minimum is not None and domain.maximum is not None:
        return str((domain.minimum + domain.maximum) // 2)
    return "no"


def _fill_sqlite(path: str, template: Template, patients: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute("CREATE TEMP TABLE template_events (seq INTEGER, kind TEXT, data TEXT,"
                     " at TEXT)")
        conn.executemany("INSERT INTO template_events VALUES (?, ?, ?, ?)",
                         [(seq, kind, dump_json(data), stamp(STARTED + offset))
                          for seq, (kind, data, offset) in enumerate(template.events)])
        conn.execute(
            """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                INSERT INTO patients
                (chat_id, language, session, active, revision, created_at, updated_at)
                SELECT ? + i, ?, ?, 1, 1, ?, ? FROM n""",
            (patients, FIRST_CHAT, template.language, dump_json(template.session),
             stamp(STARTED), stamp(STARTED + template.events[-1][2])))
        # Patients answer at the same time, so one patient's events lie spread over the table.
        conn.execute(
            """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                INSERT INTO events (chat_id, kind, data, at)
                SELECT ? + n.i, t.kind, t.data, t.at FROM template_events t CROSS JOIN n
                ORDER BY t.seq, n.i""",
            (patients, FIRST_CHAT))
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()


async def _fill_postgres(url: str, template: Template, patients: int) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        async with conn.transaction():
            await conn.execute("CREATE TEMP TABLE template_events (seq INTEGER, kind TEXT,"
                               " data JSONB, at TIMESTAMPTZ) ON COMMIT DROP")
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO template_events VALUES (%s, %s, %s::jsonb, %s)",
                    [(seq, kind, dump_json(data), STARTED + offset)
                     for seq, (kind, data, offset) in enumerate(template.events)])
            await conn.execute(
                """INSERT INTO patients (chat_id, language, session, active, created_at,
                                         updated_at)
                   SELECT %s + i, %s, %s::jsonb, TRUE, %s, %s FROM generate_series(1, %s) i""",
                (FIRST_CHAT, template.language, dump_json(template.session), STARTED,
                 STARTED + template.events[-1][2], patients))
            await conn.execute(
                """INSERT INTO events (chat_id, kind, data, at)
                   SELECT %s + i, t.kind, t.data, t.at
                   FROM template_events t CROSS JOIN generate_series(1, %s) i
                   ORDER BY t.seq, i""",
                (FIRST_CHAT, patients))
        await conn.execute("ANALYZE patients")
        await conn.execute("ANALYZE events")


async def fill(url: str, patients: int, content: Content | None = None) -> None:
    """Migrate the empty database at ``url`` and add ``patients`` screened patients to it."""
    template = await _template(content or load_content())
    store = open_store(url)
    await store.open()  # creates the schema
    await store.close()
    if url.startswith("sqlite:///"):
        await asyncio.to_thread(_fill_sqlite, url.removeprefix("sqlite:///"), template, patients)
    else:
        await _fill_postgres(url, template, patients)


async def timed_export(url: str) -> tuple[float, float]:
    """Wall and CPU seconds (all threads) of the desk's /export on ``url``, files written."""
    content = load_content()
    store = open_store(url)
    await store.open()
    try:
        desk = StaffDesk(content, store, staff_ids={STAFF}, clinic_chat_id=None,
                         language="en", timezone="UTC", clock=lambda: datetime.now(UTC))
        started, cpu = time.perf_counter(), time.process_time()
        outputs = await desk.handle(StaffRequest(STAFF, STAFF, "export"))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        discard(outputs)
    finally:
        await store.close()
    return seconds, cpu


def measure_export(url: str, patients: int) -> tuple[float, float]:
    """Fill the empty database at ``url`` with ``patients`` patients; time and weigh /export.

    Returns the export's wall time in seconds and the peak RSS in MB of the child process that
    ran it (a fresh process, so nothing of the filling counts).
    """
    asyncio.run(fill(url, patients))
    child = subprocess.run(  # noqa: S603  # our own interpreter and module, no shell
        [sys.executable, "-m", "bot.clinic.export_bench", url],
        capture_output=True, text=True, timeout=MEASURE_TIMEOUT_S, check=False)
    if child.returncode != 0:
        msg = f"the export child failed: {child.stderr.strip().splitlines()[-1:]}"
        raise RuntimeError(msg)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    return float(figures["seconds"]), float(figures["peak_mb"])


def _child(url: str) -> None:
    seconds, cpu = asyncio.run(timed_export(url))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    # CPU seconds too: on a shared machine they tell the export's own cost from the wait.
    figures = {"seconds": round(seconds, 3), "peak_mb": round(peak_kb / 1024, 1),
               "cpu_s": round(cpu, 3)}
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    _child(sys.argv[1])
