"""The chats this process wrote last, so that an update of one may skip reading it first.

A patient's conversation is a run of updates a few seconds apart, and on one instance each finds
the chat as this process wrote it last. Such an update starts from what was written and sends
one statement, its checked write: if anyone changed the chat since (another instance, a staff
action, an operator), the revision differs, nothing is written and the update is decided again
(see ``attempt.py``). That write answers with the chat as it found it, and the update's next
try starts from there, again one statement. A chat found changed is marked, and its updates read
it first from then on: behind a balancer that spreads one chat's updates over several
instances, each decides at most one update twice per chat, and sends as many statements as if
it read every chat first.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.storage.postgres.sessions import ReadChat

if TYPE_CHECKING:
    from bot.storage.base import Patient

# Chats remembered, the least recently used forgotten first: a busy clinic's hour of
# conversations, at about 1.4 KB each (the bench's pg_kb_per_active_conversation).
RECENT_CHATS = 1024


@dataclass(frozen=True)
class Written:
    """A chat as this process wrote it: the patient, the session as JSON, the new revision."""

    patient: Patient  # its session is the JSON beside it, decoded afresh for each update
    session: str
    revision: int


@dataclass(frozen=True)
class _Shared:
    """A chat another writer changed since this process wrote it: read it first."""

    found: ReadChat | None = None  # the chat as a write that failed found it, for one update


_SHARED = _Shared()


class RecentChats:
    """The last write of each of the most recently written chats, or that a chat is shared."""

    def __init__(self, size: int = RECENT_CHATS) -> None:
        """Remember at most ``size`` chats."""
        self._size = size
        self._chats: OrderedDict[int, Written | _Shared] = OrderedDict()

    def take(self, chat_id: int) -> ReadChat | None:
        """The chat as last written here, as an unseen update reads it, once; None: read it.

        Taken by whatever changes the chat next, so that only a write of this process puts it
        back. A shared chat gives what a failed write found there, once, then nothing.
        """
        entry = self._chats.get(chat_id)
        if isinstance(entry, _Shared):
            if entry.found is not None:  # once: a chat another writer changes is read first
                self._chats[chat_id] = _SHARED
            return entry.found
        if entry is None:
            return None
        del self._chats[chat_id]
        # The session decoded afresh: the update may change it, and then not save it.
        patient = replace(entry.patient, session=json.loads(entry.session))
        return ReadChat(seen=False, patient=patient, revision=entry.revision)

    def wrote(self, written: Written) -> None:
        """Remember a write of this process (unless the chat is shared)."""
        chat_id = written.patient.chat_id
        if not isinstance(self._chats.get(chat_id), _Shared):
            self._chats[chat_id] = written
        self._chat_used(chat_id)

    def shared(self, chat_id: int, found: ReadChat | None = None) -> None:
        """Another writer changed the chat: read it first from now on, after ``found``."""
        self._chats[chat_id] = _Shared(found)
        self._chat_used(chat_id)

    def _chat_used(self, chat_id: int) -> None:
        self._chats.move_to_end(chat_id)
        while len(self._chats) > self._size:
            self._chats.popitem(last=False)
