"""Which errors are the database's: counted as storage errors, wherever they surface."""

from __future__ import annotations

import sqlite3

import psycopg

from bot.storage.base import StorageError

_STORAGE_ERRORS = (StorageError, sqlite3.Error, psycopg.Error)


def is_storage_fault(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) came from the database or its driver."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _STORAGE_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
