"""A PostgreSQL schema of the bench's own, filled as ``store_fill`` fills an SQLite file.

Each serving session gets a fresh schema in the database the bench is given, so the traffic
finds the same store every round, and nothing else in that database is read or changed.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg import sql

from bot.bench.store_fill import (
    FILLED_AGO,
    FIRST_FILL_UPDATE,
    REMINDER_EVERY,
    session_templates,
)
from bot.content import Content
from bot.storage.base import dump_json
from bot.storage.postgres import PostgresStore


def schema_url(url: str, schema: str) -> str:
    """``url`` with ``schema`` first on the search path of every connection made from it.

    Still a ``postgresql://`` URL (libpq reads ``options`` from its query), because the bench's
    sessions take it as ``LDH_DATABASE_URL``, which must be a URL.
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "options"]
    query.append(("options", f"-c search_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def create_schema(url: str) -> str:
    """A new empty schema in the database at ``url``; its name."""
    schema = f"ldh_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return schema


def drop_schema(url: str, schema: str) -> None:
    """Remove a schema the bench created, with everything in it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        _checkpoint(conn)  # nothing of this session left to write during the next one


def _migrate(url: str) -> None:
    async def migrate() -> None:
        store = PostgresStore(url, min_size=1, max_size=1)
        await store.open()
        await store.close()

    asyncio.run(migrate())


def fill(url: str, patients: int, content: Content) -> None:
    """Migrate the schema ``url`` names and add patients 1..N, their history and reminders."""
    _migrate(url)
    templates = [(s.language, dump_json(s.to_json())) for s in session_templates(content)]
    at = datetime.now(UTC) - FILLED_AGO
    seen = datetime.now(UTC) - timedelta(hours=1)
    due = at + timedelta(days=3650)  # far ahead: the dispatcher leaves them be
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        # COPY: the rows stream in one go, as an SQLite executemany does in a transaction.
        with cursor.copy("COPY patients (chat_id, language, session, active, created_at,"
                         " updated_at) FROM STDIN") as copy:
            for i in range(1, patients + 1):
                copy.write_row((i, *templates[i % len(templates)], True, at, at))
        with cursor.copy("COPY events (chat_id, kind, data, at) FROM STDIN") as copy:
            for i in range(1, patients + 1):
                copy.write_row((i, "answer", '{"fever":"no"}', at))
        with cursor.copy("COPY updates (update_id, seen_at) FROM STDIN") as copy:
            for i in range(1, patients + 1):
                copy.write_row((FIRST_FILL_UPDATE + i, seen))
        with cursor.copy("COPY outbox (kind, chat_id, payload, due_at, dedupe_key, created_at,"
                         " about) FROM STDIN") as copy:
            for i in range(REMINDER_EVERY, patients + 1, REMINDER_EVERY):
                copy.write_row(("checkin", i, "{}", due, f"fill:{i}", at, i))
        conn.commit()
        # As a database in use for a while is: vacuumed (so the session's first reads set no
        # hint bits and write nothing) and analyzed, as autovacuum leaves it, and the fill
        # written out now rather than by a checkpoint in the middle of the session. These
        # tables only: a bare VACUUM would take every table of the database, and wait behind
        # whatever locks other schemas' users hold.
        conn.autocommit = True
        cursor.execute("VACUUM (ANALYZE) patients, events, updates, outbox")
        _checkpoint(conn)


def _checkpoint(conn: psycopg.Connection[Any]) -> None:
    """Write every changed page out now, where the server lets us (superuser or pg_checkpoint)."""
    # Else the server writes them at its own pace, which may be during a session.
    with suppress(psycopg.errors.InsufficientPrivilege):
        conn.execute("CHECKPOINT")
