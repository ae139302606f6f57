"""Which errors are the database's, wherever they surface (counted as storage errors)."""

from __future__ import annotations

import sqlite3

import psycopg

from bot.storage.base import StorageError
from bot.storage.faults import is_storage_fault


def test_driver_and_store_errors_are_storage_faults_others_are_not() -> None:
    assert is_storage_fault(sqlite3.OperationalError("database or disk is full"))
    assert is_storage_fault(psycopg.OperationalError("connection refused"))
    assert is_storage_fault(StorageError("the SQLite store is not open"))
    assert not is_storage_fault(KeyError("q.age"))


def test_a_storage_fault_wrapped_in_another_error_is_still_one() -> None:
    wrapped = RuntimeError("booking failed")
    wrapped.__cause__ = psycopg.errors.UndefinedTable("pacer_chats")
    assert is_storage_fault(wrapped)
    unrelated = RuntimeError("booking failed")
    unrelated.__context__ = ValueError("not the database")
    assert not is_storage_fault(unrelated)
