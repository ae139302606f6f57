"""Patients' sessions, the Telegram update ids seen, and each chat's history, in PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.logsafe import chat_ref
from bot.storage.base import ConflictError, Event, Patient, dump_json, utc
from bot.storage.postgres import outbox
from bot.storage.postgres.connection import rows_of

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from psycopg.rows import TupleRow

    from bot.storage.postgres.connection import Connection

# A chat deleted by another process while we waited for its row lock is re-created; a few
# rounds are plenty, since each round means another process committed a forget meanwhile.
LOCK_ATTEMPTS = 5

_PATIENT = "chat_id, language, session, active, created_at, updated_at"
_PATIENT_QUALIFIED = (
    "patients.chat_id, patients.language, patients.session, patients.active,"
    " patients.created_at, patients.updated_at"
)


def patient_of(row: TupleRow) -> Patient:
    """A patient from a row of ``_PATIENT``'s columns."""
    chat_id, language, session, active, created_at, updated_at = row
    return Patient(chat_id, language, session, active, utc(created_at), utc(updated_at))


def event_of(row: TupleRow) -> Event:
    """An event from a row of id, chat_id, kind, data, at."""
    event_id, chat_id, kind, data, at = row
    return Event(event_id, chat_id, kind, data, utc(at))


@dataclass(frozen=True)
class LockedChat:
    """A chat whose patient row this transaction holds, and the patient as it was found."""

    placeholder: bool  # the row exists only to be locked: no patient yet
    patient: Patient | None
    update_id: int | None = None  # the update recorded while locking, if any
    fresh: bool = True  # whether that update id was new
    revision: int | None = None  # the row's revision; None for a placeholder


@dataclass(frozen=True)
class ReadChat:
    """A chat as read without holding it, for an update: what a write must find unchanged."""

    seen: bool  # the update id was recorded already
    patient: Patient | None
    revision: int | None  # the row's revision; None when there was no row


@dataclass(frozen=True)
class Stored:
    """What a checked write left in the patient's row besides what it was given."""

    revision: int
    created_at: datetime


async def lock_chat(conn: Connection, chat_id: int, now: datetime,
                    update_id: int | None = None) -> LockedChat:
    """Lock the chat's patient row, creating a placeholder when there is none.

    A returning patient is locked and read in one statement, which also records ``update_id``
    when given; only a new chat needs a second, which inserts its placeholder (a row this
    transaction inserts is its own until it commits).
    """
    fresh, to_record = True, update_id
    for _ in range(LOCK_ATTEMPTS):
        if to_record is None:
            cursor = await conn.execute(
                f"SELECT {_PATIENT}, revision FROM patients WHERE chat_id = %s FOR UPDATE",  # noqa: S608 -- constant column list
                (chat_id,),
            )
            row = await cursor.fetchone()
        else:
            fresh, row = await record_and_lock(conn, to_record, chat_id, now)
        if row is not None:
            patient = found_patient(row)
            revision = None if patient is None else int(row[-1])
            return LockedChat(patient is None, patient, update_id, fresh, revision)
        cursor = await conn.execute(
            """INSERT INTO patients (chat_id) VALUES (%s)
               ON CONFLICT (chat_id) DO NOTHING RETURNING chat_id""",
            (chat_id,),
        )
        if await cursor.fetchone() is not None:
            return LockedChat(placeholder=True, patient=None, update_id=update_id, fresh=fresh)
        # Another process inserted the chat after our look and committed: lock its row now
        # (the update id is recorded already).
        to_record = None
    msg = f"chat {chat_ref(chat_id)} kept being deleted by another process"
    raise ConflictError(msg)


def found_patient(row: TupleRow | None) -> Patient | None:
    """The patient of a row of ``_PATIENT``'s columns and a revision; None for a placeholder."""
    return None if row is None or row[2] is None else patient_of(row[:-1])


async def record_and_lock(conn: Connection, update_id: int, chat_id: int,
                          now: datetime) -> tuple[bool, TupleRow | None]:
    """Record an update id and lock the chat's row: (whether the id was new, the row if any)."""
    cursor = await conn.execute(
        f"""WITH fresh AS (
                INSERT INTO updates (update_id, seen_at) VALUES (%s, %s)
                ON CONFLICT (update_id) DO NOTHING RETURNING 1),
            locked AS (SELECT {_PATIENT}, revision FROM patients WHERE chat_id = %s FOR UPDATE)
            SELECT EXISTS (SELECT 1 FROM fresh), locked.*
            FROM (VALUES (1)) AS one LEFT JOIN locked ON TRUE""",  # noqa: S608 -- constant column list
        (update_id, now, chat_id),
    )
    row = await cursor.fetchone()
    if row is None:  # the one-row VALUES always yields a row; kept for the type checker
        return True, None
    return bool(row[0]), None if row[1] is None else row[1:]


# Whether an update id (the first parameter) was recorded, and the chat's (the second) patient
# with its revision: one row whether or not there is a patient.
_READ_CHAT = f"""SELECT EXISTS (SELECT 1 FROM updates WHERE update_id = %s), found.*
                 FROM (VALUES (1)) AS here LEFT JOIN (
                     SELECT {_PATIENT}, revision FROM patients WHERE chat_id = %s) AS found
                     ON TRUE"""  # noqa: S608 -- constant column list


async def read_chat(conn: Connection, chat_id: int, update_id: int) -> ReadChat:
    """Whether an update id was recorded, and the chat's patient, in one statement; no lock."""
    cursor = await conn.execute(_READ_CHAT, (update_id, chat_id))
    return _read_of(await cursor.fetchone())


def _read_of(row: TupleRow | None) -> ReadChat:
    """A chat from a row of whether the update id was seen, then the patient's columns."""
    if row is None or row[1] is None:  # the one-row VALUES always yields a row
        return ReadChat(seen=bool(row and row[0]), patient=None, revision=None)
    return ReadChat(seen=bool(row[0]), patient=found_patient(row[1:]), revision=int(row[-1]))


async def save_unchanged(  # noqa: PLR0913  # the write's parts, named at the call
    conn: Connection, patient: Patient, session: str, now: datetime, *,
    revision: int | None, update_id: int, entries: Sequence[tuple[str, str]],
    queued: Sequence[outbox.Queued] = (),
) -> Stored | ReadChat:
    """Save a patient, record the update id, history entries and outbox rows, in one statement.

    Only if the row is still at ``revision`` (None: there is still no row); else nothing is
    written and the answer is the chat as the statement found it, as ``read_chat`` reads it,
    for the update's next try. ``session`` is the patient's session as JSON.
    """
    created = now if patient.created_at is None else utc(patient.created_at)
    if revision is None:
        saved = """INSERT INTO patients (chat_id, language, session, active, created_at, updated_at)
                   VALUES (%s, %s, %s::jsonb, %s, %s, %s)
                   ON CONFLICT (chat_id) DO NOTHING RETURNING chat_id, revision, created_at"""
        saved_params: tuple[object, ...] = (patient.chat_id, patient.language, session,
                                            patient.active, created, now)
    else:
        saved = """UPDATE patients SET language = %s, session = %s::jsonb, active = %s,
                       updated_at = %s, created_at = coalesce(created_at, %s)
                   WHERE chat_id = %s AND revision = %s
                   RETURNING chat_id, revision, created_at"""
        saved_params = (patient.language, session, patient.active, now, created,
                        patient.chat_id, revision)
    # Each part is written from ``saved``'s row: when the row changed there is none, and the
    # statement writes nothing. A plain insert of the update id fails the whole statement if
    # another process recorded it meanwhile. Only when nothing was saved does the LATERAL part
    # read the chat as ``read_chat`` would (a one-time filter: no work when the save went in).
    recorded, recorded_params = _entries_after(entries, now)
    added, added_params = outbox.enqueue_after(queued, now)
    cursor = await conn.execute(
        f"""WITH saved AS ({saved}),
            seen AS (INSERT INTO updates (update_id, seen_at) SELECT %s, %s FROM saved)
            {recorded} {added}
            SELECT saved.revision, saved.created_at, unsaved.*
            FROM (VALUES (1)) AS one LEFT JOIN saved ON TRUE LEFT JOIN LATERAL (
                {_READ_CHAT} WHERE saved.revision IS NULL) AS unsaved ON TRUE""",  # noqa: S608 -- placeholders only
        (*saved_params, update_id, now, *recorded_params, *added_params, update_id,
         patient.chat_id),
    )
    row = await cursor.fetchone()
    if row is not None and row[0] is not None:
        return Stored(int(row[0]), utc(row[1]))
    return _read_of(None if row is None else row[2:])


def _entries_after(entries: Sequence[tuple[str, str]],
                   now: datetime) -> tuple[str, tuple[object, ...]]:
    """A CTE writing history entries for ``saved``'s chat, numbered in the order given."""
    if not entries:
        return "", ()
    rows = ", ".join(["(%s::int, %s::text, %s::jsonb)"] * len(entries))
    params = tuple(value for n, (kind, data) in enumerate(entries) for value in (n, kind, data))
    return (f""", recorded AS (INSERT INTO events (chat_id, kind, data, at)
                  SELECT saved.chat_id, entry.kind, entry.data, %s::timestamptz
                  FROM saved CROSS JOIN (VALUES {rows}) AS entry (n, kind, data)
                  ORDER BY entry.n)""", (now, *params))  # noqa: S608 -- placeholders only


async def drop_placeholder(conn: Connection, chat_id: int) -> None:
    """Delete a lock placeholder row that no save filled."""
    await conn.execute(
        "DELETE FROM patients WHERE chat_id = %s AND session IS NULL", (chat_id,)
    )


async def first_time(conn: Connection, update_id: int, now: datetime) -> bool:
    """Record a Telegram update id; False if it was recorded before."""
    cursor = await conn.execute(
        """INSERT INTO updates (update_id, seen_at) VALUES (%s, %s)
           ON CONFLICT (update_id) DO NOTHING""",
        (update_id, now),
    )
    return cursor.rowcount == 1


async def load(conn: Connection, chat_id: int) -> Patient | None:
    """The chat's patient, None if there is none yet."""
    cursor = await conn.execute(
        f"SELECT {_PATIENT} FROM patients WHERE chat_id = %s AND session IS NOT NULL",  # noqa: S608 -- constant column list
        (chat_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else patient_of(row)


async def save(conn: Connection, patient: Patient, now: datetime,
               entries: Sequence[tuple[str, str]] = ()) -> None:
    """Store a patient as it is now, stamped ``now``, with history ``entries`` in one statement."""
    created = now if patient.created_at is None else utc(patient.created_at)
    recorded, recorded_params = _events_insert(patient.chat_id, entries, now)
    await conn.execute(
        f"""{f"WITH recorded AS ({recorded})" if entries else ""}
           INSERT INTO patients (chat_id, language, session, active, created_at, updated_at)
           VALUES (%s, %s, %s::jsonb, %s, %s, %s)
           ON CONFLICT (chat_id) DO UPDATE SET
               language = EXCLUDED.language, session = EXCLUDED.session,
               active = EXCLUDED.active, updated_at = EXCLUDED.updated_at,
               created_at = coalesce(patients.created_at, EXCLUDED.created_at)""",  # noqa: S608 -- placeholders only
        (
            *recorded_params,
            patient.chat_id,
            patient.language,
            dump_json(patient.session),
            patient.active,
            created,
            now,
        ),
    )


async def patients_page(conn: Connection, limit: int, offset: int) -> list[Patient]:
    """One page of patients ordered by chat id."""
    rows = await rows_of(
        conn,
        f"""SELECT {_PATIENT} FROM patients WHERE session IS NOT NULL
            ORDER BY chat_id LIMIT %s OFFSET %s""",  # noqa: S608 -- constant column list
        (limit, max(offset, 0)),
    )
    return [patient_of(r) for r in rows]


def _events_insert(chat_id: int, entries: Sequence[tuple[str, str]],
                   now: datetime) -> tuple[str, tuple[object, ...]]:
    """One INSERT of history entries (kind, JSON data), numbered in the order given."""
    rows = ", ".join(["(%s, %s, %s::jsonb, %s)"] * len(entries))
    params = tuple(value for kind, data in entries for value in (chat_id, kind, data, now))
    return f"INSERT INTO events (chat_id, kind, data, at) VALUES {rows}", params  # noqa: S608 -- placeholders only


async def record_events(conn: Connection, chat_id: int, entries: Sequence[tuple[str, str]],
                        now: datetime) -> None:
    """Append entries (kind, JSON data) to a chat's history, in order."""
    if entries:
        await conn.execute(*_events_insert(chat_id, entries, now))


async def events(conn: Connection, chat_id: int) -> list[Event]:
    """A chat's history, oldest first."""
    rows = await rows_of(
        conn,
        "SELECT id, chat_id, kind, data, at FROM events WHERE chat_id = %s ORDER BY id",
        (chat_id,),
    )
    return [event_of(r) for r in rows]
