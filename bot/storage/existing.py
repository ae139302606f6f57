"""Is this the bot's own database? Checked before anything is done to it, and without changing it.

A mistyped ``--database`` must not harm someone else's file: a path that exists is opened only
once it is known to hold the bot's tables, and only ``run`` and ``chat`` may create a database
or migrate one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from bot.storage.base import StorageError
from bot.storage.migrations import Migration

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg import AsyncConnection
    from psycopg.rows import TupleRow

SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
# Every release of the bot has made these two first; another program's database lacks them.
BOT_TABLES = ("schema_version", "patients")
WHERE = "set LDH_DATABASE_URL or LDH_DATA_DIR"
MIGRATE = "start ldh-bot run once to migrate it"


class NotABotDatabaseError(StorageError):
    """The database named is missing, not the bot's, or too old to be read without migrating."""


def check_sqlite_file(path: Path) -> None:
    """Refuse an existing path that is not a bot database: only read, never written or chmod-ed."""
    if path.is_dir():
        msg = f"{path} is a folder, not a database file; {WHERE}"
        raise NotABotDatabaseError(msg)
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as error:
        msg = f"cannot read {path}: {error.strerror or error}"
        raise NotABotDatabaseError(msg) from None
    if not header:
        msg = f"{path} is an empty file, not an ldh-bot database; {WHERE}"
        raise NotABotDatabaseError(msg)
    if header != SQLITE_HEADER:
        msg = f"{path} is not an SQLite database (nothing was changed); {WHERE}"
        raise NotABotDatabaseError(msg)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as error:
        msg = f"cannot read {path} as an SQLite database: {error}"
        raise NotABotDatabaseError(msg) from None
    if not set(BOT_TABLES) <= found:
        msg = (f"{path} is an SQLite database without the ldh-bot tables (nothing was changed); "
               f"{WHERE}")
        raise NotABotDatabaseError(msg)


def refuse_missing(path: Path) -> None:
    """A command that only reads or erases never creates a database where none is."""
    msg = f"there is no database at {path}; {WHERE}"
    raise NotABotDatabaseError(msg)


def refuse_unmigrated(current: int, migrations: Sequence[Migration]) -> None:
    """A database an older release made is read only after ``run`` has migrated it."""
    if current < len(migrations):
        msg = (f"the database is at schema version {current}, this release reads version "
               f"{len(migrations)}: {MIGRATE}")
        raise NotABotDatabaseError(msg)


async def check_postgres(conn: AsyncConnection[TupleRow], where: str,
                         migrations: Sequence[Migration]) -> None:
    """Refuse a PostgreSQL database without the bot's tables; nothing is created in it."""
    cursor = await conn.execute(
        "SELECT to_regclass('schema_version') IS NOT NULL AND to_regclass('patients') IS NOT NULL")
    row = await cursor.fetchone()
    if not row or not row[0]:
        msg = f"the PostgreSQL database {where} has no ldh-bot tables (nothing was changed)"
        raise NotABotDatabaseError(msg)
    cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
    row = await cursor.fetchone()
    refuse_unmigrated(int(row[0]) if row else 0, migrations)
