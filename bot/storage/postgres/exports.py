"""Patients with their events, streamed from PostgreSQL by one server-side cursor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.storage.records import postgres_record, postgres_sql

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from bot.storage.base import PatientRecord, RecordQuery
    from bot.storage.postgres.connection import Connection


async def stream_records(conn: Connection, query: RecordQuery) -> AsyncGenerator[PatientRecord]:
    """Yield the records ``query`` asks for, ``query.batch`` patients per round trip."""
    sql, params = postgres_sql(query)
    async with conn.transaction(), conn.cursor(name="ldh_records") as cursor:
        await cursor.execute(sql, params)
        while rows := await cursor.fetchmany(query.batch):
            for row in rows:
                yield postgres_record(row)
