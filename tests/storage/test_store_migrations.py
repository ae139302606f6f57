"""Versioned migrations, store life cycle and the storage URL."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from support.storage_backends import T0, Backend, PostgresBackend, recreate_empty

from bot.dialogue.turn import Message, Text
from bot.outbox import Payload
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
    latest = len(SQLITE)
    broken = Migration(latest + 1, ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"))
    module = "bot.storage.sqlite" if backend.name == "sqlite" else "bot.storage.postgres.schema"
    name = "SQLITE" if backend.name == "sqlite" else "POSTGRES"
    monkeypatch.setattr(f"{module}.{name}", (*getattr(migrations_module, name), broken))
    with pytest.raises(Exception, match="syntax error"):  # each driver words it its own way
        await backend.open()
    assert await backend.sql("SELECT max(version) FROM schema_version") == [(latest,)]
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


async def test_rows_from_before_about_learn_which_patient_they_name(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = "bot.storage.sqlite" if backend.name == "sqlite" else "bot.storage.postgres.schema"
    name = "SQLITE" if backend.name == "sqlite" else "POSTGRES"
    monkeypatch.setattr(f"{module}.{name}", getattr(migrations_module, name)[:1])
    await (await backend.open()).close()
    note = Text("clinic.emergency", {"patient": "1001", "flags": [Text("flag.fever")]})
    rows = [
        ("clinic_notification", -500, Payload("en", (Message((note,)),)).to_json()),
        ("clinic_notification", -500, Payload("en", (), chart_of=1002).to_json()),
        ("checkin", 1003, Payload("en", ()).to_json()),
    ]
    for kind, chat, payload in rows:
        await backend.sql(
            "INSERT INTO outbox (kind, chat_id, payload, due_at, created_at)"  # noqa: S608 -- placeholders only
            f" VALUES ({', '.join([backend.placeholder] * 5)})",
            (kind, chat, json.dumps(payload), T0.isoformat(), T0.isoformat()),
        )
    monkeypatch.undo()

    await (await backend.open()).close()

    assert await backend.sql("SELECT about FROM outbox ORDER BY id") == [(1001,), (1002,), (1003,)]


async def test_postgres_revisions_given_before_the_sequence_are_never_given_again(
    postgres: PostgresBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.storage.postgres.schema.POSTGRES", POSTGRES[:4])
    store = await postgres.open()
    for n in range(3):  # revisions counted per row, as version 4 did: 1, 2, 3
        async with store.transaction(1, T0) as tx:
            await tx.save(Patient(1, "en", {"n": n}))
    await store.close()
    monkeypatch.undo()

    store = await postgres.open()
    for chat_id in (1, 2):  # a saved chat and a new one
        async with store.transaction(chat_id, T0) as tx:
            await tx.save(Patient(chat_id, "en", {"n": "after"}))
    revisions = await postgres.sql("SELECT chat_id, revision FROM patients ORDER BY chat_id")
    assert [chat_id for chat_id, _ in revisions] == [1, 2]
    assert all(revision > 3 for _, revision in revisions)  # version 4's last


async def test_postgres_recreated_empty_is_migrated_again_without_a_restart(
    postgres: PostgresBackend,
) -> None:
    store = await postgres.open()
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {"old": True}))

    await recreate_empty(postgres)
    async with store.transaction(1, T0) as tx:  # an update is the first to notice
        assert await tx.load() is None
        await tx.save(Patient(1, "en", {"new": True}))
        await tx.enqueue("checkin", 1, {}, T0)
    assert [p.session for p in await store.patients(10, 0)] == [{"new": True}]

    await recreate_empty(postgres)
    assert await store.claim_due(T0, 10, timedelta(minutes=1)) == []  # so is the dispatcher
    versions = await postgres.sql("SELECT version FROM schema_version ORDER BY version")
    assert versions == [(m.version,) for m in POSTGRES]


async def test_sqlite_keeps_its_folder_and_files_to_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "state" / "data" / "bot.db"
    store = SqliteStore(path)
    await store.open()
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {}))
    files = modes(path.parent)
    await store.close()

    assert mode(path.parent) == mode(path.parent.parent) == 0o700
    assert files == {"bot.db": 0o600, "bot.db-wal": 0o600, "bot.db-shm": 0o600}


async def test_sqlite_tightens_a_database_an_older_release_left_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The folder as a default umask leaves it; a sync call, as the async test must not block.
    os.chmod(tmp_path, 0o755)  # noqa: PTH101, S103
    path = tmp_path / "bot.db"
    first = SqliteStore(path)
    await first.open()
    await first.close()
    loosen(tmp_path)

    again = SqliteStore(path)
    await again.open()
    await again.close()

    found = modes(tmp_path)
    assert found == dict.fromkeys(found, 0o600)
    assert "bot.db" in found
    assert mode(tmp_path) == 0o755  # a folder it did not create is not changed, only named
    assert f"the data folder {tmp_path} is open to other users" in caplog.text


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(folder: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in folder.iterdir()}


def loosen(folder: Path) -> None:
    for file in folder.iterdir():
        file.chmod(0o644)
