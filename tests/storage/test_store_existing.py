"""Only the bot's own database is opened: anything else is refused before it is touched."""

from __future__ import annotations

import logging
import sqlite3
import stat
from pathlib import Path

import pytest
from support.storage_backends import PostgresBackend

from bot.storage import SqliteStore, StorageError, open_store
from bot.storage.existing import NotABotDatabaseError
from bot.storage.migrations import SQLITE


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), stat.S_IMODE(path.stat().st_mode)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()


@pytest.mark.parametrize("kind", ["csv", "empty", "foreign sqlite", "folder"])
@pytest.mark.parametrize("create", [True, False])
async def test_a_path_that_is_not_a_bot_database_is_refused_untouched(
    tmp_path: Path, kind: str, create: bool  # noqa: FBT001  # a parameter of the test
) -> None:
    path = tmp_path / "notes.db"
    if kind == "csv":
        path.write_text("name,phone\nAnn,555\n", encoding="utf-8")
    elif kind == "empty":
        path.touch()
    elif kind == "foreign sqlite":
        _foreign_sqlite(path)
    else:
        path.mkdir()
    if path.is_file():
        path.chmod(0o644)
        before = _snapshot(path)
    listing = _names(tmp_path)

    with pytest.raises(NotABotDatabaseError) as refused:
        await SqliteStore(path, create=create).open()

    assert str(path) in str(refused.value)
    assert "\n" not in str(refused.value)
    if path.is_file():
        assert _snapshot(path) == before  # neither converted nor chmod-ed
    assert _names(tmp_path) == listing  # no -wal, -shm or journal


async def test_a_command_that_only_reads_never_creates_a_database_or_its_folder(
    tmp_path: Path,
) -> None:
    path = tmp_path / "missing" / "bot.db"
    with pytest.raises(NotABotDatabaseError, match="there is no database at"):
        await open_store(f"sqlite:///{path}", create=False).open()
    assert not path.parent.exists()


async def test_run_and_chat_create_a_database_and_say_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "data" / "bot.db"
    caplog.set_level(logging.INFO, logger="bot.storage.sqlite")
    store = SqliteStore(path)
    await store.open()
    await store.close()

    assert f"created the database {path}" in caplog.text
    assert f"migrated the database to schema version {len(SQLITE)}" in caplog.text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_bot_database_is_opened_by_commands_that_only_read(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    made = SqliteStore(path)
    await made.open()
    await made.close()

    reader = SqliteStore(path, create=False)
    await reader.open()
    try:
        assert await reader.patients(10, 0) == []
    finally:
        await reader.close()


async def test_an_older_bot_database_is_not_migrated_by_a_command_that_only_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    made = SqliteStore(path)
    await made.open()
    await made.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM schema_version WHERE version = ?", (len(SQLITE),))
    conn.close()

    with pytest.raises(NotABotDatabaseError, match="start ldh-bot run once to migrate it"):
        await SqliteStore(path, create=False).open()
    with sqlite3.connect(path) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
    conn.close()
    assert versions == list(range(1, len(SQLITE)))


async def test_postgres_without_the_bots_tables_is_refused_and_nothing_created(
    postgres: PostgresBackend,
) -> None:
    await postgres.sql("CREATE TABLE their_table (x INTEGER)")

    with pytest.raises(StorageError, match="has no ldh-bot tables"):
        await open_store(postgres.url, create=False).open()

    tables = await postgres.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        (postgres.schema,))
    assert tables == [("their_table",)]


async def test_postgres_with_the_bots_tables_is_opened_by_a_command_that_only_reads(
    postgres: PostgresBackend,
) -> None:
    made = open_store(postgres.url)
    await made.open()
    await made.close()

    reader = open_store(postgres.url, create=False)
    await reader.open()
    try:
        assert await reader.patients(10, 0) == []
    finally:
        await reader.close()
