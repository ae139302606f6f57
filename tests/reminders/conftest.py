"""Dispatcher tests run on a real SQLite file; claim semantics also on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes import FakeClock, FakeSender, RecordingPacer
from support.storage_backends import Backend, each_backend, sqlite_backend

from bot.storage import Store


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Backend]:
    async with sqlite_backend(tmp_path / "bot.db") as backend:
        yield backend


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with each_backend(request.param, tmp_path / "bot.db") as fresh:
        yield fresh


@pytest.fixture
async def store(sqlite: Backend) -> Store:
    return await sqlite.open()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pacer(clock: FakeClock) -> RecordingPacer:
    return RecordingPacer(clock)


@pytest.fixture
def sender(clock: FakeClock) -> FakeSender:
    return FakeSender(clock)
