"""The database's files on disk: made owner-only, tightened, removed with SQLite's side files."""

from __future__ import annotations

import logging
import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

# Health data: only the bot's own user may read the folder and the files SQLite keeps in it.
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")


def create_private(path: Path) -> None:
    """Create the database file owner read/write only, and any missing folder owner-only.

    Folders created here are 0700; an existing folder is left as it is (it may be shared, or
    the working directory), with a warning when others can read it. SQLite gives the -wal and
    -shm files it creates later the mode of the database file.
    """
    folder = path.parent
    missing = [folder, *folder.parents]
    for ancestor in reversed([d for d in missing if not d.exists()]):
        ancestor.mkdir(mode=PRIVATE_DIR)
        ancestor.chmod(PRIVATE_DIR)  # mkdir's mode is masked by the umask
    _warn_if_open(folder)
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))


def tighten(path: Path) -> None:
    """Make a bot database, and the side files SQLite keeps beside it, owner read/write only.

    Called only once the file is known to hold the bot's tables: it closes a database an
    older release left open, and never touches a file that is not the bot's.
    """
    _warn_if_open(path.parent)
    for file in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        if file.exists() and stat.S_IMODE(file.stat().st_mode) != PRIVATE_FILE:
            file.chmod(PRIVATE_FILE)


def _warn_if_open(folder: Path) -> None:
    if folder.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the data folder %s is open to other users; chmod 700 it", folder)


def remove(path: Path) -> None:
    """Take away a database this run created and could not finish, so a retry starts clean."""
    for file in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        file.unlink(missing_ok=True)
