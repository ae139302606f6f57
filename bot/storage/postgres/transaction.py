"""One update's work on a chat in PostgreSQL, inside a database transaction holding its row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.storage.base import Event, Forgotten, HeldChat, JsonDict, OutboxItem, Patient, dump_json
from bot.storage.postgres import housekeeping, outbox, sessions

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable
    from datetime import datetime

    from bot.storage.postgres.connection import Connection
    from bot.storage.postgres.sessions import LockedChat


class PostgresTransaction(HeldChat):
    """One update's work on a chat, run at once inside a database transaction."""

    def __init__(self, conn: Connection, chat_id: int, now: datetime, locked: LockedChat, *,
                 unwritten: Iterable[tuple[str, str]] = ()) -> None:
        """Work on ``conn``, holding the chat; ``unwritten``: entries recorded before holding."""
        super().__init__(chat_id, now)
        self._conn = conn
        # A placeholder row exists only to be locked; it is removed unless a save fills it.
        self._placeholder = locked.placeholder
        # The patient as locking found them, handed out by the first load instead of reading
        # the row again; a save or a forget since makes the database the only answer.
        self._found: Patient | None = locked.patient
        self._found_unread = True
        self._locked = locked
        # History entries not yet sent: the next save writes them in its own statement, and
        # any other statement writes them first, so every read sees them and in their order.
        self._unwritten: list[tuple[str, str]] = list(unwritten)  # kind, data as JSON

    async def _connection(self) -> Connection:
        """The transaction's connection, with the history recorded so far written."""
        self._check_open()
        if self._unwritten:
            entries, self._unwritten = self._unwritten, []
            await sessions.record_events(self._conn, self._chat_id, entries, self._now)
        return self._conn

    async def first_time(self, update_id: int) -> bool:
        """Record a Telegram update id; False if it was recorded before."""
        return await sessions.first_time(await self._connection(), update_id, self._now)

    def _take_found(self) -> tuple[bool, Patient | None]:
        """The patient locking found, once: (False, None) when it must be read again."""
        found, self._found, unread = self._found, None, self._found_unread
        self._found_unread = False
        return unread, found

    async def load(self) -> Patient | None:
        """Return the held chat's patient, None if there is none yet."""
        conn = await self._connection()
        unread, found = self._take_found()
        return found if unread else await sessions.load(conn, self._chat_id)

    async def first_time_and_load(self, update_id: int | None) -> tuple[bool, Patient | None]:
        """``first_time`` (True when there is no id) and ``load``, in one round trip at most."""
        conn = await self._connection()
        unread, found = self._take_found()
        if unread and update_id is not None and update_id == self._locked.update_id:
            return self._locked.fresh, found  # recorded while locking
        if unread:
            fresh = True if update_id is None else await self.first_time(update_id)
            return fresh, found
        if update_id is None:
            return True, await sessions.load(conn, self._chat_id)
        # Asked again, or after a save: the same statement as locking (the lock is ours already).
        fresh, row = await sessions.record_and_lock(conn, update_id, self._chat_id, self._now)
        return fresh, sessions.found_patient(row)

    async def save(self, patient: Patient) -> None:
        """Store the held chat's patient as it is now."""
        self._check_saves_own(patient)
        self._check_open()
        entries, self._unwritten = self._unwritten, []
        await sessions.save(self._conn, patient, self._now, entries)
        self._placeholder = False
        self._take_found()

    async def enqueue(
        self,
        kind: str,
        chat_id: int,
        payload: JsonDict,
        due_at: datetime,
        dedupe_key: str | None = None,
    ) -> None:
        """Add an outbox row; a dedupe_key already pending or sent adds nothing."""
        await self.add_queued(outbox.queued(kind, chat_id, payload, due_at, dedupe_key))

    async def add_queued(self, row: outbox.Queued) -> None:
        """Add an outbox row as ``enqueue`` does, its payload encoded already."""
        # ``about`` is the held chat: a row written in a patient's update names that patient.
        await outbox.enqueue(await self._connection(), row, about=self._chat_id, now=self._now)
        self.enqueued = True

    async def cancel(self, chat_id: int, kinds: Collection[str] | None = None) -> int:
        """Cancel a chat's unsent outbox rows (of the given kinds); return how many."""
        return await outbox.cancel(await self._connection(), chat_id, kinds, self._now)

    async def forget(self) -> Forgotten:
        """Delete everything kept about the held chat; say what was deleted."""
        forgotten = await housekeeping.forget(await self._connection(), self._chat_id)
        self._placeholder = False
        self._take_found()
        return forgotten

    async def events(self) -> list[Event]:
        """The held chat's history, oldest first, this transaction's own entries included."""
        return await sessions.events(await self._connection(), self._chat_id)

    async def pending(self) -> list[OutboxItem]:
        """The held chat's unsent, uncancelled outbox rows, soonest first."""
        return await outbox.pending(await self._connection(), self._chat_id)

    async def record_event(self, kind: str, data: JsonDict) -> None:
        """Append an entry to the held chat's history (written with the next statement)."""
        self._check_open()
        # Encoded now: the entry is what ``data`` says at this call, whatever the caller does next.
        self._unwritten.append((kind, dump_json(data)))

    async def finish(self) -> None:
        """Write what is still unwritten; drop a lock placeholder that no save filled."""
        conn = await self._connection()
        if self._placeholder:
            await sessions.drop_placeholder(conn, self._chat_id)

    def close(self) -> None:
        """Refuse further use."""
        self._open = False
