"""The PostgreSQL schema: migrations applied in order, once, however many processes start."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.storage.migrations import POSTGRES, pending
from bot.storage.postgres_pacing import PACER_OBJECTS

if TYPE_CHECKING:
    from bot.storage.postgres.connection import Connection


log = logging.getLogger(__name__)


async def migrate(conn: Connection) -> None:
    """Bring the schema up to the latest migration and (re-)create the pacer's objects."""
    async with conn.transaction():
        # Two processes starting together must not both apply the same migration.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('ldh-bot schema ' || current_schema()))"
        )
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_version (
                version INTEGER PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )"""
        )
        cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
        row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        migrations = pending(POSTGRES, current)
        for migration in migrations:
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version) VALUES (%s)", (migration.version,)
            )
        # The pacer's tables and functions are made by the same path, so a database re-created
        # under a running bot gets them back with the store's own tables.
        for statement in PACER_OBJECTS:
            await conn.execute(statement)
    if migrations:
        log.info("migrated the database to schema version %d", migrations[-1].version)
