"""Fixtures most tests share: the shipped content, and a fresh SQLite store per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.storage_backends import postgres_schema_url

from bot.content import Content, load_content
from bot.storage import Store, open_store

# The dashboard's browser tests: headless Chromium (browser, browsers) and a loop on a thread
# of its own (loop_thread) that serves the app while selenium blocks the test's thread.
pytest_plugins = ("support.browser", "support.background_loop")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the whole-process tests one at a time: each paces real processes to Telegram's limits.

    Most of their time is spent waiting on that pace, so the quick tests run beside them on
    the other worker; two of them at once would share the machine's cores and its pace.
    """
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group("processes"))


@pytest.fixture(scope="session")
def content() -> Content:
    """The shipped dialogues, loaded and checked once."""
    return load_content()


@pytest.fixture
def database(tmp_path: Path) -> str:
    """The URL of a new SQLite file, for tests that open it more than once."""
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def database_url() -> Iterator[str]:
    """A PostgreSQL schema of its own, for tests that start bot processes on it; dropped after."""
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    """An open SQLite store on a new file (tests/storage runs every backend instead)."""
    opened = open_store(database)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
