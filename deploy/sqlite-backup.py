#!/usr/bin/env python3
"""Back up or restore the bot's SQLite database (standard library only).

    sqlite-backup.py backup DB DIR [--keep-days N]   an online copy, safe while the bot runs
    sqlite-backup.py restore BACKUP DB               stop the bot first; the old file is kept

Backups hold patient data: they are written owner-only (0600) and checked before use.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "ldh-bot-"
SUFFIX = ".db"


def _check(path: Path) -> str | None:
    """None if ``path`` is an intact SQLite database, else what is wrong with it."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as error:
        return str(error)
    return None if verdict == "ok" else str(verdict)


def backup(database: Path, directory: Path, keep_days: float) -> Path:
    """Copy ``database`` into ``directory`` through SQLite's online backup; prune old copies."""
    if not database.is_file():
        sys.exit(f"sqlite-backup: no database at {database}")
    os.umask(0o077)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = directory / f"{PREFIX}{stamp}{SUFFIX}"
    partial = target.with_name(f".{target.name}.partial")
    # The backup API copies a consistent snapshot, WAL included, while the bot keeps writing.
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as source, \
            sqlite3.connect(partial) as copy:
        source.backup(copy)
    fault = _check(partial)
    if fault is not None:
        partial.unlink()
        sys.exit(f"sqlite-backup: the copy of {database} is damaged ({fault}); nothing kept")
    partial.chmod(0o600)
    partial.replace(target)
    cutoff = time.time() - keep_days * 86400
    for old in directory.glob(f"{PREFIX}*{SUFFIX}"):
        if old != target and old.stat().st_mtime < cutoff:
            old.unlink()
    return target


def restore(source: Path, database: Path) -> Path | None:
    """Put ``source`` in place of ``database``; return where the replaced file was kept."""
    fault = _check(source)
    if fault is not None:
        sys.exit(f"sqlite-backup: {source} is not an intact database ({fault}); nothing changed")
    os.umask(0o077)
    database.parent.mkdir(parents=True, exist_ok=True)
    incoming = database.with_name(f".{database.name}.restoring")
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as backup_db, \
            sqlite3.connect(incoming) as fresh:
        backup_db.backup(fresh)
    incoming.chmod(0o600)
    kept = None
    wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
    if database.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = database.with_name(f"{database.name}.before-restore-{stamp}")
        database.replace(kept)
        if wal.exists():  # the replaced file's last writes: they stay with it
            wal.replace(Path(f"{kept}-wal"))
    # An old write-ahead log must never be replayed onto the restored file.
    wal.unlink(missing_ok=True)
    shm.unlink(missing_ok=True)
    incoming.replace(database)
    return kept


def main() -> int:
    """Parse the command line and back up or restore."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    make = steps.add_parser("backup", help="copy the database into a directory of backups")
    make.add_argument("database", type=Path)
    make.add_argument("directory", type=Path)
    make.add_argument("--keep-days", type=float, default=14.0)
    put = steps.add_parser("restore", help="replace the database by a backup (bot stopped)")
    put.add_argument("backup", type=Path)
    put.add_argument("database", type=Path)
    args = parser.parse_args()
    if args.step == "backup":
        written = backup(args.database, args.directory, args.keep_days)
        print(f"backup written: {written}")  # noqa: T201  # the operator reads this
    else:
        kept = restore(args.backup, args.database)
        note = f"; the replaced file is kept as {kept}" if kept else ""
        print(f"restored {args.backup} into {args.database}{note}")  # noqa: T201  # see above
    return 0


if __name__ == "__main__":
    sys.exit(main())
