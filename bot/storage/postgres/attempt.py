"""An update's first try at a chat in PostgreSQL: read at once, written in one checked statement.

Holding the chat's row for the whole update costs four round trips (BEGIN, the lock and read,
the save, COMMIT). Most updates only read the patient, record history, queue messages and save:
such an update reads without a lock (or starts from this process's last write of the chat,
``recent.py``) and writes everything in one statement, which writes nothing if anyone saved the
chat or recorded the update since. Anything more
(cancelling, forgetting, reading history or the outbox) holds the chat as
``PostgresTransaction`` does, after checking the same; a change found either way is a
ConflictError, and the caller decides the update again: from the chat as the failed write found
it (``found``, see ``recent.py``), then, if it changed once more, holding it from the start.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

import psycopg.errors

from bot.logsafe import chat_ref
from bot.storage.base import (
    ConflictError,
    Event,
    Forgotten,
    HeldChat,
    JsonDict,
    OutboxItem,
    Patient,
    dump_json,
)
from bot.storage.postgres import outbox, sessions
from bot.storage.postgres.recent import Written
from bot.storage.postgres.sessions import Stored
from bot.storage.postgres.transaction import PostgresTransaction

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection
    from datetime import datetime

    from bot.storage.postgres.connection import Connection
    from bot.storage.postgres.sessions import LockedChat, ReadChat


class PostgresAttempt(HeldChat):
    """One update's work on a chat, read without holding it; ConflictError if it changed."""

    def __init__(  # noqa: PLR0913  # the attempt's parts, named at the call
        self, conn: Connection, chat_id: int, now: datetime, *, update_id: int, read: ReadChat,
        hold: Callable[[int | None], Awaitable[LockedChat]],
    ) -> None:
        """Work on ``conn`` (no transaction open) from ``read``; ``hold`` locks the chat."""
        super().__init__(chat_id, now)
        self._conn = conn
        self._update_id = update_id
        self._read = read
        self._hold = hold
        self._read_unused = True
        self._saved: tuple[Patient, str] | None = None  # the patient and its session as JSON
        self._entries: list[tuple[str, str]] = []  # kind, data as JSON
        self._queued: list[outbox.Queued] = []
        self._held: PostgresTransaction | None = None
        self.written: Written | None = None  # after the checked write, what it wrote
        self.found: ReadChat | None = None  # after a checked write that wrote nothing: the chat

    def _conflict(self, what: str) -> NoReturn:
        msg = f"chat {chat_ref(self._chat_id)} {what} by another process meanwhile"
        raise ConflictError(msg)

    async def _holding(self) -> PostgresTransaction:
        """The chat held, with what this update did so far; ConflictError if it changed."""
        self._check_open()
        if self._held is None:
            fresh = not self._read.seen
            locked = await self._hold(self._update_id if fresh else None)
            if fresh and not locked.fresh:
                self._conflict(f"had update {self._update_id} recorded")
            if locked.revision != self._read.revision:
                self._conflict("was changed or deleted")
            held = PostgresTransaction(self._conn, self._chat_id, self._now, locked,
                                       unwritten=self._entries)
            self._entries = []
            for row in self._queued:
                await held.add_queued(row)
            self._queued = []
            if self._saved is not None:
                patient, session = self._saved
                await held.save(replace(patient, session=json.loads(session)))
            self._held = held
        return self._held

    def _take_read(self) -> bool:
        """Whether the read still answers (first asked, nothing saved or held since); once."""
        answers = self._held is None and self._saved is None and self._read_unused
        if answers:
            self._read_unused = False
        return answers

    async def first_time(self, update_id: int) -> bool:
        """Record a Telegram update id; False if it was recorded before."""
        return await (await self._holding()).first_time(update_id)

    async def load(self) -> Patient | None:
        """Return the held chat's patient, None if there is none yet."""
        self._check_open()
        if self._take_read():
            return self._read.patient
        return await (await self._holding()).load()

    async def first_time_and_load(self, update_id: int | None) -> tuple[bool, Patient | None]:
        """``first_time`` (True when there is no id) and ``load``: the read, asked first."""
        self._check_open()
        if update_id == self._update_id and self._take_read():
            return not self._read.seen, self._read.patient
        return await (await self._holding()).first_time_and_load(update_id)

    async def save(self, patient: Patient) -> None:
        """Store the held chat's patient as it is now (written at the end, unless held)."""
        self._check_open()
        self._check_saves_own(patient)
        if self._held is not None:
            await self._held.save(patient)
            return
        # Encoded now: what is written is the session as it is at this call.
        self._saved = (patient, dump_json(patient.session))

    async def record_event(self, kind: str, data: JsonDict) -> None:
        """Append an entry to the held chat's history (written with the save)."""
        self._check_open()
        if self._held is not None:
            await self._held.record_event(kind, data)
        else:
            self._entries.append((kind, dump_json(data)))

    async def enqueue(
        self,
        kind: str,
        chat_id: int,
        payload: JsonDict,
        due_at: datetime,
        dedupe_key: str | None = None,
    ) -> None:
        """Add an outbox row, written with the save; a dedupe_key in use adds nothing."""
        self._check_open()
        if self._held is not None:
            await self._held.enqueue(kind, chat_id, payload, due_at, dedupe_key)
        else:
            self._queued.append(outbox.queued(kind, chat_id, payload, due_at, dedupe_key))
        self.enqueued = True

    async def cancel(self, chat_id: int, kinds: Collection[str] | None = None) -> int:
        """Cancel a chat's unsent outbox rows (of the given kinds); return how many."""
        return await (await self._holding()).cancel(chat_id, kinds)

    async def forget(self) -> Forgotten:
        """Delete everything kept about the held chat; say what was deleted."""
        return await (await self._holding()).forget()

    async def events(self) -> list[Event]:
        """The held chat's history, oldest first, this update's own entries included."""
        return await (await self._holding()).events()

    async def pending(self) -> list[OutboxItem]:
        """The held chat's unsent, uncancelled outbox rows, soonest first."""
        return await (await self._holding()).pending()

    async def finish(self) -> None:
        """Write what the update did: in one checked statement, or through the held chat."""
        self._check_open()
        if self._held is None and self._read.seen and self._saved is None \
                and not self._entries and not self._queued:
            return  # a repeated update changes nothing
        if self._held is None and self._saved is not None and not self._read.seen:
            await self._write_checked(*self._saved)
            return
        # No save, or a repeated update with something to write: the held path records it.
        await (await self._holding()).finish()

    async def _write_checked(self, patient: Patient, session: str) -> None:
        """Everything the update did, in one statement; ConflictError if it wrote nothing."""
        try:
            stored = await sessions.save_unchanged(
                self._conn, patient, session, self._now, revision=self._read.revision,
                update_id=self._update_id, entries=self._entries, queued=self._queued)
        except psycopg.errors.UniqueViolation:
            stored = None  # not chained below: the driver's DETAIL quotes the row
        if stored is None:
            self._conflict(f"had update {self._update_id} recorded")
        if not isinstance(stored, Stored):
            self.found = stored  # the update's next try starts from the chat as it is now
            self._conflict("was changed or deleted")
        # As a read would find it; the session kept as JSON only, so later changes to the
        # caller's copy are not kept.
        as_stored = replace(patient, session={}, created_at=stored.created_at,
                            updated_at=self._now)
        self.written = Written(as_stored, session, stored.revision)

    def close(self) -> None:
        """Refuse further use."""
        self._open = False
        if self._held is not None:
            self._held.close()
