"""Patient identifiers kept out of logs: a chat id is logged only as a salted hash."""

from __future__ import annotations

import hashlib
import os
import secrets

# A salt from the environment keeps references stable across restarts for an operator who
# needs to follow one chat through the logs; otherwise each process gets its own.
_SALT = os.environ.get("LDH_LOG_SALT") or secrets.token_hex(16)


def use_salt(salt: str | None) -> None:
    """Take the salt of the settings ``run`` read (``.env`` included), when one is set."""
    global _SALT  # noqa: PLW0603  # one salt for the process, fixed once at start
    if salt:
        _SALT = salt


def chat_ref(chat_id: int) -> str:
    """A short, stable-per-salt reference to a chat that does not reveal its id."""
    digest = hashlib.sha256(f"{_SALT}:{chat_id}".encode()).hexdigest()
    return digest[:12]
