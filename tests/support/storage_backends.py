"""Test databases for the storage suite: a fresh SQLite file or a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import psycopg
import pytest

from bot.storage import Store, open_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Sequence
    from pathlib import Path

# CI and developers run PostgreSQL here; override to point the suite at another server.
PG_URL = os.environ.get("LDH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class Backend:
    """One fresh database: opens stores on it and runs raw SQL against it for checks."""

    name = ""
    placeholder = "?"  # how ``sql`` marks a parameter

    def __init__(self, url: str) -> None:
        self.url = url
        self._stores: list[Store] = []

    async def open(self, url: str | None = None) -> Store:
        """Open another store on the same database (as a restarted or second process would)."""
        store = open_store(url or self.url)
        await store.open()
        self._stores.append(store)
        return store

    async def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def close(self) -> None:
        for store in self._stores:
            await store.close()


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__(f"sqlite:///{path}")
        self.path = path

    async def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            return [tuple(row) for row in conn.execute(statement, tuple(params)).fetchall()]
        finally:
            conn.close()


class PostgresBackend(Backend):
    name = "postgresql"
    placeholder = "%s"

    def __init__(self, schema: str) -> None:
        self.schema = schema
        super().__init__(self.url_with(options=f"-c search_path={schema}"))

    @staticmethod
    def url_with(**params: str) -> str:
        query = "&".join(f"{key}={quote(value, safe='')}" for key, value in params.items())
        return f"{PG_URL}{'&' if '?' in PG_URL else '?'}{query}"

    def named_url(self, application_name: str) -> str:
        """The schema's URL with a name that pg_stat_activity shows, to find that connection."""
        return self.url_with(
            options=f"-c search_path={self.schema}", application_name=application_name
        )

    async def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            cursor = await conn.execute(statement, tuple(params))
            return list(await cursor.fetchall()) if cursor.description else []


async def admin_connection() -> psycopg.AsyncConnection[Any]:
    """Connect to the test server, failing (never skipping) with the reason when it is down."""
    try:
        return await psycopg.AsyncConnection.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip()
    # Failed outside the except block, so the report is this message, not a chained traceback.
    pytest.fail(
        f"PostgreSQL is required for the storage tests but {PG_URL} is unreachable: {reason}\n"
        "Start it (trust auth, database 'test') or set LDH_TEST_POSTGRES_URL.",
        pytrace=False,
    )


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """The URL of a PostgreSQL schema of its own, for a process test; dropped afterwards."""
    schema = f"ldh_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield PostgresBackend(schema).url
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@asynccontextmanager
async def sqlite_backend(path: Path) -> AsyncIterator[SqliteBackend]:
    backend = SqliteBackend(path)
    try:
        yield backend
    finally:
        await backend.close()


@asynccontextmanager
async def postgres_backend() -> AsyncIterator[PostgresBackend]:
    """A schema of its own, so parallel runs and other suites never see each other's rows."""
    schema = f"ldh_test_{uuid.uuid4().hex[:16]}"
    admin = await admin_connection()
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        backend = PostgresBackend(schema)
        try:
            yield backend
        finally:
            await backend.close()
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.close()


@asynccontextmanager
async def each_backend(name: str, path: Path) -> AsyncIterator[Backend]:
    """A fresh database of the backend ``name``: an SQLite file at ``path``, or a schema."""
    if name == "sqlite":
        async with sqlite_backend(path) as sqlite:
            yield sqlite
    else:
        async with postgres_backend() as postgres:
            yield postgres


async def recreate_empty(postgres: PostgresBackend) -> None:
    """What an operator's drop and create of the database does to the bot's tables."""
    await postgres.sql(f'DROP SCHEMA "{postgres.schema}" CASCADE')
    await postgres.sql(f'CREATE SCHEMA "{postgres.schema}"')
