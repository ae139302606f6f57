"""Commits on the event loop's thread while SQLite's write lock is free, never waiting for it."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from bot.storage.sqlite_transaction import immediate

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from bot.storage.sqlite_transaction import Job

# Commits between checkpoints handed to the store's thread: this connection never checkpoints
# itself, since copying the WAL into the database can take milliseconds that every patient
# would wait through. 100 commits of a few pages each stay under SQLite's own 1,000 pages.
CHECKPOINT_EVERY = 100
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class LoopWriter:
    """A writer connection used only from the event loop's thread, with no busy timeout.

    An update's commit is a few short inserts and updates with no fsync (WAL, synchronous
    NORMAL): tens of microseconds, far less than handing it to the store's thread and back.
    When another connection holds the write lock (the store's thread, another process), the
    commit is refused at once, untouched, and the caller hands it to the store's thread,
    which waits its turn; the event loop itself never waits on a lock.
    """

    def __init__(self, path: Path, checkpoint: Callable[[], None]) -> None:
        """Connect to the (migrated) database at ``path``; ``checkpoint`` runs one elsewhere."""
        conn = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 0")
            conn.execute("PRAGMA synchronous = NORMAL")  # as the store's connection
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._checkpoint = checkpoint
        self._since_checkpoint = 0

    def try_commit(self, job: Job[None]) -> bool:
        """Run ``job`` in one immediate transaction now; False, with nothing done, when busy."""
        try:
            immediate(self._conn, job)
        except sqlite3.OperationalError as error:
            # Refused at BEGIN IMMEDIATE (or, never seen, later): rolled back, nothing applied.
            if error.sqlite_errorcode in _BUSY:
                return False
            raise
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            self._checkpoint()
        return True

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
