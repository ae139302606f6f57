"""Versioned migrations, store life cycle and the storage URL."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from support.storage_backends import T0, Backend

from bot.storage import (
    Patient,
    PostgresStore,
    SchemaTooNewError,
    SqliteStore,
    StorageError,
    open_store,
)
from bot.storage import migrations as migrations_module
from bot.storage.migrations import POSTGRES, SQLITE, Migration, check_sequence, pending


async def test_reopening_applies_nothing_and_keeps_data(backend: Backend) -> None:
    store = await backend.open()
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {"kept": True}))
    await store.close()
    for _ in range(2):
        reopened = await backend.open()
        await reopened.close()
    versions = await backend.sql("SELECT version FROM schema_version ORDER BY version")
    assert versions == [(m.version,) for m in SQLITE] == [(m.version,) for m in POSTGRES]
    store = await backend.open()
    assert [p.session for p in await store.patients(10, 0)] == [{"kept": True}]


async def test_a_database_newer_than_the_code_is_refused(backend: Backend) -> None:
    await (await backend.open()).close()
    await backend.sql("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(SchemaTooNewError, match="schema version 99, but this code knows only up"):
        await backend.open()


async def test_a_failing_migration_leaves_the_schema_as_it_was(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await (await backend.open()).close()
    broken = Migration(2, ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"))
    module = "bot.storage.sqlite" if backend.name == "sqlite" else "bot.storage.postgres"
    name = "SQLITE" if backend.name == "sqlite" else "POSTGRES"
    monkeypatch.setattr(f"{module}.{name}", (*getattr(migrations_module, name), broken))
    with pytest.raises(Exception, match="syntax error"):  # each driver words it its own way
        await backend.open()
    assert await backend.sql("SELECT max(version) FROM schema_version") == [(1,)]
    table_query = (
        "SELECT name FROM sqlite_master WHERE name = 'half_done'"
        if backend.name == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE tablename = 'half_done'"
    )
    assert await backend.sql(table_query) == []


def test_migration_lists_run_one_two_three() -> None:
    check_sequence(SQLITE)
    check_sequence(POSTGRES)
    with pytest.raises(ValueError, match="migration 3 found where version 2 belongs"):
        check_sequence([Migration(1, ()), Migration(3, ())])
    assert pending(SQLITE, 0) == list(SQLITE)
    assert pending(SQLITE, len(SQLITE)) == []


async def test_a_store_is_used_only_while_open(backend: Backend) -> None:
    store = await backend.open()
    with pytest.raises(StorageError, match="already open"):
        await store.open()
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StorageError, match="not open"):
        await store.events(1)
    with pytest.raises(StorageError, match="not open"):
        async with store.transaction(1, T0):
            pass


async def test_an_unreachable_postgres_says_where_and_why() -> None:
    store = PostgresStore("postgresql://bot:secret@127.0.0.1:1/clinic", connect_timeout=2)
    with pytest.raises(
        StorageError, match=re.escape("cannot connect to PostgreSQL at bot@127.0.0.1:1/clinic")
    ) as info:
        await store.open()
    assert "secret" not in str(info.value)


async def test_sqlite_creates_the_folder_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "bot.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    assert path.exists()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


async def test_sqlite_in_memory_works() -> None:
    store = open_store("sqlite:///:memory:")
    await store.open()
    try:
        async with store.transaction(1, T0) as tx:
            await tx.save(Patient(1, "en", {"a": 1}))
        assert [p.chat_id for p in await store.patients(1, 0)] == [1]
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "kind", "path"),
    [
        ("sqlite:///data/bot.db", SqliteStore, "data/bot.db"),
        ("sqlite:////var/lib/ldh/bot.db", SqliteStore, "/var/lib/ldh/bot.db"),
        ("sqlite:///:memory:", SqliteStore, ":memory:"),
        ("postgresql://bot@db/ldh", PostgresStore, None),
        ("postgres://bot@db/ldh", PostgresStore, None),
    ],
)
def test_open_store_reads_the_url(url: str, kind: type, path: str | None) -> None:
    store = open_store(url)
    assert isinstance(store, kind)
    if path is not None:
        assert isinstance(store, SqliteStore)
        assert store.path == path


@pytest.mark.parametrize("url", ["mysql://x/y", "bot.db", "sqlite:///", "sqlite://bot.db"])
def test_open_store_refuses_other_urls(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite"):
        open_store(url)
