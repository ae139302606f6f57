"""A store with many patients, filled in seconds: the real schema, rows written in bulk."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.bench.traffic import ROUTINE
from bot.content import Content
from bot.dialogue.session import Session
from bot.dialogue.texts import LANGUAGES
from bot.storage.base import dump_json
from bot.storage.sqlite import SqliteStore
from bot.storage.sqlite_transaction import stamp

# Patients were last seen a month ago: well inside any retention period, so the housekeeping
# that starts with the bot has nobody to forget while the timed traffic runs.
FILLED_AGO = timedelta(days=30)
FIRST_FILL_UPDATE = 10**12  # far above the update ids the traffic uses
REMINDER_EVERY = 10  # one patient in ten has a check-in reminder pending
BATCH = 5000


def session_templates(content: Content) -> list[Session]:
    """Sessions at every point of a routine screening, in each language, finished ones too."""
    engine = content.engines["screening"]
    templates = []
    for language in LANGUAGES:
        session, turn = engine.start(language)
        templates.append(Session.from_json(session.to_json()))
        while (question := turn.question) is not None:
            answer = ROUTINE.get(question.fact or "", "no")
            turn = engine.answer(session, answer, question.seq)
            templates.append(Session.from_json(session.to_json()))
    return templates


def _schema(path: Path) -> None:
    async def migrate() -> None:
        store = SqliteStore(path)
        await store.open()
        await store.close()

    asyncio.run(migrate())


def fill(path: Path, patients: int, content: Content) -> None:
    """Create ``path`` with ``patients`` patients (chat ids 1..N), their history and reminders."""
    _schema(path)
    templates = [(s.language, dump_json(s.to_json())) for s in session_templates(content)]
    filled_at = datetime.now(UTC) - FILLED_AGO
    at = stamp(filled_at)
    # Update ids are kept a week; older ones would be pruned at start instead of served beside.
    seen = stamp(datetime.now(UTC) - timedelta(hours=1))
    due = stamp(filled_at + timedelta(days=3650))  # far ahead: the dispatcher leaves them be
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for first in range(1, patients + 1, BATCH):
            ids = range(first, min(first + BATCH, patients + 1))
            conn.executemany(
                """INSERT INTO patients (chat_id, language, session, active, revision,
                                         created_at, updated_at) VALUES (?, ?, ?, 1, 1, ?, ?)""",
                [(i, *templates[i % len(templates)], at, at) for i in ids])
            conn.executemany("INSERT INTO events (chat_id, kind, data, at) VALUES (?, ?, ?, ?)",
                             [(i, "answer", '{"fever":"no"}', at) for i in ids])
            conn.executemany("INSERT INTO updates (update_id, seen_at) VALUES (?, ?)",
                             [(FIRST_FILL_UPDATE + i, seen) for i in ids])
            conn.executemany(
                """INSERT INTO outbox (kind, chat_id, payload, due_at, dedupe_key, created_at)
                   VALUES ('checkin', ?, '{}', ?, ?, ?)""",
                [(i, due, f"fill:{i}", at) for i in ids if i % REMINDER_EVERY == 0])
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()
