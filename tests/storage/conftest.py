"""Every storage contract test runs on a fresh SQLite file and on a fresh PostgreSQL schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from support.storage_backends import each_backend, postgres_backend, sqlite_backend

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from support.storage_backends import Backend, PostgresBackend, SqliteBackend

    from bot.storage import Store


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with each_backend(request.param, tmp_path / "data" / "bot.db") as fresh:
        yield fresh


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqliteBackend]:
    async with sqlite_backend(tmp_path / "bot.db") as backend:
        yield backend


@pytest.fixture
async def postgres() -> AsyncIterator[PostgresBackend]:
    async with postgres_backend() as backend:
        yield backend
