"""Where sessions, the outbox and history live: one Store interface, SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from bot.storage.base import (
    ConflictError,
    Event,
    Forgotten,
    JsonDict,
    NestedUseError,
    OutboxItem,
    Patient,
    SchemaTooNewError,
    StorageError,
    Store,
    Transaction,
)
from bot.storage.postgres import PostgresStore
from bot.storage.sqlite import MEMORY, SqliteStore

__all__ = [
    "ConflictError",
    "Event",
    "Forgotten",
    "JsonDict",
    "NestedUseError",
    "OutboxItem",
    "Patient",
    "PostgresStore",
    "SchemaTooNewError",
    "SqliteStore",
    "StorageError",
    "Store",
    "Transaction",
    "open_store",
]

_SQLITE_PREFIX = "sqlite:///"


def open_store(url: str, *, create: bool = True) -> Store:
    """Build (not yet open) the store a URL names.

    Without ``create`` (commands that only read or erase) the database must already be the
    bot's, at this release's schema: nothing is created, migrated or chmod-ed.

    ``sqlite:///data/bot.db`` is relative to the working directory, ``sqlite:////var/x.db``
    absolute (SQLAlchemy's convention), ``sqlite:///:memory:`` in memory;
    ``postgresql://user@host/db`` (or ``postgres://``) takes any libpq URL.
    """
    if url.startswith(_SQLITE_PREFIX):
        path = url.removeprefix(_SQLITE_PREFIX)
        if not path:
            msg = "a sqlite URL needs a file: sqlite:///relative.db or sqlite:////absolute.db"
            raise ValueError(msg)
        return SqliteStore(MEMORY if path == MEMORY else Path(path), create=create)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url, create=create)
    scheme = url.split(":", 1)[0] if ":" in url else url
    msg = f"unknown storage URL scheme {scheme!r}; use sqlite:///file.db or postgresql://..."
    raise ValueError(msg)
