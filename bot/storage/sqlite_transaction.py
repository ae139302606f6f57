"""SQLite transactions that read at once and write on commit, so chats never wait for each other.

SQLite has one writer at a time, so a write transaction held open across the awaits of one
update would stall every other chat. A transaction here therefore reads at once but only
records its writes; on exit they are applied in one short ``BEGIN IMMEDIATE`` job on the
store's thread. A read made after a write replays the recorded writes inside a transaction that
is rolled back, so an update sees its own changes exactly as they will be committed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

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
    utc,
)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]

PATIENT_COLUMNS = "chat_id, language, session, active, created_at, updated_at, revision"
OUTBOX_COLUMNS = "id, kind, chat_id, payload, due_at, attempts, dedupe_key"
PENDING = f"""SELECT {OUTBOX_COLUMNS} FROM outbox
              WHERE chat_id = ? AND sent_at IS NULL AND cancelled_at IS NULL
              ORDER BY due_at, id"""  # noqa: S608 -- constant column list
EVENTS = "SELECT id, chat_id, kind, data, at FROM events WHERE chat_id = ? ORDER BY id"


def stamp(moment: datetime) -> str:
    """Write a time as fixed-width UTC text, so comparing texts compares times."""
    return utc(moment).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """Read a time written by ``stamp``."""
    return datetime.fromisoformat(text)


def parse_json(text: str) -> JsonDict:
    """Read a stored JSON object."""
    return cast("JsonDict", json.loads(text))


def patient_from_row(row: sqlite3.Row) -> Patient:
    """Build a Patient from a row of ``PATIENT_COLUMNS``."""
    return Patient(
        chat_id=row["chat_id"],
        language=row["language"],
        session=parse_json(row["session"]),
        active=bool(row["active"]),
        created_at=parse_time(row["created_at"]),
        updated_at=parse_time(row["updated_at"]),
    )


def outbox_item_from_row(row: sqlite3.Row) -> OutboxItem:
    """Build an OutboxItem from a row of ``OUTBOX_COLUMNS``."""
    return OutboxItem(
        id=row["id"],
        kind=row["kind"],
        chat_id=row["chat_id"],
        payload=parse_json(row["payload"]),
        due_at=parse_time(row["due_at"]),
        attempts=row["attempts"],
        dedupe_key=row["dedupe_key"],
    )


def event_from_row(row: sqlite3.Row) -> Event:
    """Build an Event from a row of ``EVENTS``."""
    return Event(row["id"], row["chat_id"], row["kind"], parse_json(row["data"]),
                 parse_time(row["at"]))


def immediate(conn: sqlite3.Connection, job: Job[T]) -> T:
    """Run ``job`` in one immediate transaction: all of it commits, or none of it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = job(conn)
        conn.execute("COMMIT")
    except BaseException:
        # Also after a failed COMMIT (disk full, I/O error): the next job must find no
        # transaction left open on the shared connection.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


@dataclass(frozen=True)
class _Write:
    """A recorded write and the tables it touches (a read replays only the writes it can see)."""

    tables: frozenset[str]
    run: Callable[[sqlite3.Connection], object]


_PATIENTS = frozenset({"patients"})
_UPDATES = frozenset({"updates"})
_OUTBOX_T = frozenset({"outbox"})
_EVENTS = frozenset({"events"})
_CHAT_TABLES = _PATIENTS | _OUTBOX_T | _EVENTS


class SqliteTransaction(HeldChat):
    """One update's view of a chat: reads now, writes on commit."""

    def __init__(self, run: Callable[[Job[Any]], Any], chat_id: int, now: datetime, *,
                 commit: Callable[[Job[None]], Awaitable[None]],
                 read_now: Callable[[Job[Any]], Any] | None = None) -> None:
        """Start an empty transaction on the chat the store already holds.

        ``run`` hands a job to the store's thread; ``commit`` applies the writes in one
        immediate transaction; ``read_now``, when there is one, runs a plain read at once on a
        read-only connection of the calling thread.
        """
        super().__init__(chat_id, now)
        self._run = run
        self._apply = commit
        self._read_now = read_now
        self._stamp = stamp(now)
        self._writes: list[_Write] = []
        # The patient revision this transaction expects on disk at commit: None for "no row";
        # unknown until the first load, and a save before any load overwrites blindly.
        self._revision: int | None = None
        self._revision_known = False

    async def _read(self, tables: frozenset[str], job: Job[T], *, writes: bool = False) -> T:
        """Run ``job`` after replaying this transaction's writes to ``tables``, then undo all.

        ``writes`` says that ``job`` itself changes rows, so it must never run outside the
        transaction that is rolled back.
        """
        self._check_open()
        replay = [w for w in self._writes if w.tables & tables]
        if not replay and not writes and self._read_now is not None:
            return cast("T", self._read_now(job))

        def preview(conn: sqlite3.Connection) -> T:
            if not replay and not writes:
                return job(conn)
            conn.execute("BEGIN")
            try:
                for write in replay:
                    write.run(conn)
                return job(conn)
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

        return cast("T", await self._run(preview))

    def _record(self, tables: frozenset[str], run: Callable[[sqlite3.Connection], object]) -> None:
        self._check_open()
        self._writes.append(_Write(tables, run))

    async def first_time(self, update_id: int) -> bool:
        """Record a Telegram update id; False if it was recorded before."""

        def unseen(conn: sqlite3.Connection) -> bool:
            sql = "SELECT 1 FROM updates WHERE update_id = ?"
            return conn.execute(sql, (update_id,)).fetchone() is None

        if not await self._read(_UPDATES, unseen):
            return False
        self._record(_UPDATES, _update_insert(update_id, self._stamp))
        return True

    async def load(self) -> Patient | None:
        """Return the held chat's patient, None if there is none yet."""
        chat_id = self._chat_id

        def select(conn: sqlite3.Connection) -> sqlite3.Row | None:
            sql = f"SELECT {PATIENT_COLUMNS} FROM patients WHERE chat_id = ?"  # noqa: S608 -- constant column list
            return cast("sqlite3.Row | None", conn.execute(sql, (chat_id,)).fetchone())

        row = await self._read(_PATIENTS, select)
        self._revision = None if row is None else row["revision"]
        self._revision_known = True
        return None if row is None else patient_from_row(row)

    async def first_time_and_load(self, update_id: int | None) -> tuple[bool, Patient | None]:
        """``first_time`` (True when there is no id) and ``load``, in one trip to the database."""
        chat_id = self._chat_id

        def select(conn: sqlite3.Connection) -> tuple[bool, sqlite3.Row | None]:
            seen = update_id is not None and conn.execute(
                "SELECT 1 FROM updates WHERE update_id = ?", (update_id,)).fetchone() is not None
            sql = f"SELECT {PATIENT_COLUMNS} FROM patients WHERE chat_id = ?"  # noqa: S608 -- constant column list
            return not seen, cast("sqlite3.Row | None", conn.execute(sql, (chat_id,)).fetchone())

        fresh, row = await self._read(_UPDATES | _PATIENTS, select)
        if fresh and update_id is not None:
            self._record(_UPDATES, _update_insert(update_id, self._stamp))
        self._revision = None if row is None else row["revision"]
        self._revision_known = True
        return fresh, None if row is None else patient_from_row(row)

    async def save(self, patient: Patient) -> None:
        """Store the held chat's patient as it is now."""
        self._check_saves_own(patient)
        created = self._stamp if patient.created_at is None else stamp(patient.created_at)
        values = (
            patient.language,
            dump_json(patient.session),
            int(patient.active),
            created,
            self._stamp,
            patient.chat_id,
        )
        if not self._revision_known:
            self._record(_PATIENTS, lambda conn: conn.execute(_UPSERT_PATIENT, values))
        elif self._revision is None:
            self._record(_PATIENTS, lambda conn: _insert_patient(conn, values))
            self._revision = 1
        else:
            expected = self._revision
            self._record(_PATIENTS, lambda conn: _update_patient(conn, values, expected))
            self._revision = expected + 1

    async def enqueue(
        self,
        kind: str,
        chat_id: int,
        payload: JsonDict,
        due_at: datetime,
        dedupe_key: str | None = None,
    ) -> None:
        """Add an outbox row; a dedupe_key already pending or sent adds nothing."""
        # ``about`` is the held chat: a row written in a patient's update names that patient.
        values = (kind, chat_id, dump_json(payload), stamp(due_at), dedupe_key, self._stamp,
                  self._chat_id)
        sql = """INSERT INTO outbox (kind, chat_id, payload, due_at, dedupe_key, created_at,
                                     about)
                 VALUES (?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (dedupe_key) WHERE cancelled_at IS NULL DO NOTHING"""
        self._record(_OUTBOX_T, lambda conn: conn.execute(sql, values))
        self.enqueued = True

    async def cancel(self, chat_id: int, kinds: Collection[str] | None = None) -> int:
        """Cancel a chat's unsent outbox rows (of the given kinds); return how many."""
        kinds_json = None if kinds is None else json.dumps(sorted(kinds))
        values = (self._stamp, chat_id, kinds_json, kinds_json)
        sql = """UPDATE outbox SET cancelled_at = ?, lease_until = NULL
                 WHERE chat_id = ? AND sent_at IS NULL AND cancelled_at IS NULL
                   AND (? IS NULL OR kind IN (SELECT value FROM json_each(?)))"""

        def run(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, values).rowcount

        # Running the cancel itself over the pending writes counts exactly what it will cancel.
        count = await self._read(_OUTBOX_T, run, writes=True)
        self._record(_OUTBOX_T, run)
        return count

    async def forget(self) -> Forgotten:
        """Delete everything kept about the held chat; say what was deleted."""
        chat = (self._chat_id,)

        def run(conn: sqlite3.Connection) -> Forgotten:
            return Forgotten(
                patient=conn.execute("DELETE FROM patients WHERE chat_id = ?", chat).rowcount > 0,
                events=conn.execute("DELETE FROM events WHERE chat_id = ?", chat).rowcount,
                outbox=conn.execute("DELETE FROM outbox WHERE chat_id = ?", chat).rowcount,
                notifications=conn.execute("DELETE FROM outbox WHERE about = ?", chat).rowcount,
            )

        # Run over the pending writes and rolled back, to count exactly what the commit deletes.
        forgotten = await self._read(_CHAT_TABLES, run, writes=True)
        self._record(_CHAT_TABLES, run)
        self._revision = None
        self._revision_known = True
        return forgotten

    async def events(self) -> list[Event]:
        """The held chat's history, oldest first, this transaction's own entries included."""
        chat = (self._chat_id,)
        rows = await self._read(_EVENTS, lambda conn: conn.execute(EVENTS, chat).fetchall())
        return [event_from_row(r) for r in rows]

    async def pending(self) -> list[OutboxItem]:
        """The held chat's unsent, uncancelled outbox rows, soonest first, as this sees them."""
        chat = (self._chat_id,)
        rows = await self._read(_OUTBOX_T, lambda conn: conn.execute(PENDING, chat).fetchall())
        return [outbox_item_from_row(r) for r in rows]

    async def record_event(self, kind: str, data: JsonDict) -> None:
        """Append an entry to the held chat's history."""
        values = (self._chat_id, kind, dump_json(data), self._stamp)
        sql = "INSERT INTO events (chat_id, kind, data, at) VALUES (?, ?, ?, ?)"
        self._record(_EVENTS, lambda conn: conn.execute(sql, values))

    async def commit(self) -> None:
        """Apply every recorded write in one immediate transaction."""
        self._check_open()
        self._open = False
        writes = self._writes
        if not writes:
            return

        def apply(conn: sqlite3.Connection) -> None:
            for write in writes:
                write.run(conn)

        await self._apply(apply)

    def close(self) -> None:
        """Refuse further use; unapplied writes are dropped, which is the rollback."""
        self._open = False
        self._writes = []


_UPSERT_PATIENT = """
    INSERT INTO patients (language, session, active, created_at, updated_at, chat_id)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (chat_id) DO UPDATE SET
        language = excluded.language, session = excluded.session, active = excluded.active,
        updated_at = excluded.updated_at, revision = revision + 1"""


def _update_insert(update_id: int, seen_at: str) -> Callable[[sqlite3.Connection], None]:
    """The write that records an update id, failing if another process recorded it first."""

    def insert(conn: sqlite3.Connection) -> None:
        sql = "INSERT INTO updates (update_id, seen_at) VALUES (?, ?)"
        try:
            conn.execute(sql, (update_id, seen_at))
        except sqlite3.IntegrityError as exc:
            msg = f"update {update_id} was recorded by another process meanwhile"
            raise ConflictError(msg) from exc

    return insert


def _insert_patient(conn: sqlite3.Connection, values: tuple[object, ...]) -> None:
    sql = """INSERT INTO patients (language, session, active, created_at, updated_at, chat_id)
             VALUES (?, ?, ?, ?, ?, ?)"""
    try:
        conn.execute(sql, values)
    except sqlite3.IntegrityError as exc:
        msg = f"chat {chat_ref(int(str(values[-1])))} was created by another process meanwhile"
        raise ConflictError(msg) from exc


def _update_patient(conn: sqlite3.Connection, values: tuple[object, ...], expected: int) -> None:
    # created_at (values[3]) is kept from the first save.
    language, session, active, _created, updated, chat_id = values
    sql = """UPDATE patients SET language = ?, session = ?, active = ?, updated_at = ?,
                 revision = revision + 1
             WHERE chat_id = ? AND revision = ?"""
    cursor = conn.execute(sql, (language, session, active, updated, chat_id, expected))
    if cursor.rowcount != 1:
        who = chat_ref(int(str(chat_id)))
        msg = f"chat {who} was changed or deleted by another process meanwhile"
        raise ConflictError(msg)
