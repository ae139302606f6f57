"""The dashboard's own tables on either backend: queue state, audit, sign-in links, sessions.

Each statement is written once with ``?`` placeholders; a small runner per backend adapts the
placeholders, the stored form of times and how a JSON value is read.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.storage.base import Patient, StorageError, utc
from bot.storage.postgres import PostgresStore, open_pool
from bot.storage.sqlite import SqliteStore
from bot.storage.sqlite_transaction import stamp

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg import AsyncConnection
    from psycopg.rows import TupleRow
    from psycopg_pool import AsyncConnectionPool

    from bot.storage.base import Store

QUEUE_EVENT = "clinic_queue"  # the event kind that is a queue item
Row = tuple[Any, ...]


class _Runner(Protocol):
    """Runs one statement on one backend."""

    kind_sql: str  # reads the queue item's kind out of ``e.data``
    name_sql: str  # a patient's name as the messenger gave it, from ``p.session``
    username_sql: str
    step_sql: str  # a recommendation's step, from ``r.data``

    def time(self, moment: datetime) -> object:
        """A time as this backend stores it."""
        ...

    def read_time(self, value: object) -> datetime | None:
        """A stored time back as an aware UTC datetime."""
        ...

    def read_json(self, value: object) -> dict[str, Any]:
        """A stored JSON object back as a dict."""
        ...

    async def rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        """Run a statement in a transaction of its own; the rows it returns."""
        ...

    async def close(self) -> None:
        """Release what the runner opened."""
        ...


class _SqliteRunner:
    """Statements on the SQLite store's own thread and connection."""

    kind_sql = "json_extract(e.data, '$.kind')"
    name_sql = "json_extract(p.session, '$.care.contact.name')"
    username_sql = "json_extract(p.session, '$.care.contact.username')"
    step_sql = "json_extract(r.data, '$.recommendation.step')"

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def time(self, moment: datetime) -> object:
        return stamp(moment)

    def read_time(self, value: object) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value))

    def read_json(self, value: object) -> dict[str, Any]:
        data = json.loads(str(value))
        return data if isinstance(data, dict) else {}

    async def rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        def job(conn: sqlite3.Connection) -> list[Row]:
            return [tuple(row) for row in conn.execute(sql, tuple(params)).fetchall()]

        return await self.store.call(job)

    async def close(self) -> None:
        return None


class _PostgresRunner:
    """Statements through a small pool of the dashboard's own on the same database."""

    kind_sql = "e.data ->> 'kind'"
    name_sql = "p.session #>> '{care,contact,name}'"
    username_sql = "p.session #>> '{care,contact,username}'"
    step_sql = "r.data #>> '{recommendation,step}'"

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[TupleRow]]) -> None:
        self.pool = pool

    def time(self, moment: datetime) -> object:
        return utc(moment)

    def read_time(self, value: object) -> datetime | None:
        return utc(value) if isinstance(value, datetime) else None

    def read_json(self, value: object) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    async def rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(sql.replace("?", "%s"), tuple(params))
            return [tuple(row) for row in await cursor.fetchall()] if cursor.description else []

    async def close(self) -> None:
        await self.pool.close()


@dataclass(frozen=True)
class QueueRow:
    """A queue item as stored: the event, and who took and finished it."""

    id: int
    chat_id: int
    at: datetime
    data: dict[str, Any]
    taken_by: int | None
    taken_at: datetime | None
    done_by: int | None
    done_at: datetime | None
    note: str


@dataclass(frozen=True)
class QueueHead:
    """What ranks an open item: its id, patient, time, kind and who took it."""

    id: int
    chat_id: int
    at: datetime
    kind: str
    taken_by: int | None


@dataclass(frozen=True)
class PatientQuery:
    """Which patients a page lists: a search term, filters, and where the page starts."""

    term: str = ""  # part of a name or username, or a whole chat id
    open_items: bool = False  # only patients with an open queue item
    pending: str | None = None  # only those with an unsent row of this kind ("any": any kind)
    step: str = ""  # only those whose latest recommended step is this one
    after: int | None = None
    limit: int = 50


@dataclass(frozen=True)
class PatientRow:
    """A patient as a list shows them."""

    chat_id: int
    language: str
    active: bool
    name: str | None
    username: str | None
    step: str | None
    next_due: datetime | None


@dataclass(frozen=True)
class AuditRow:
    """One line of the audit trail."""

    id: int
    at: datetime
    staff_id: int
    action: str
    patient: int | None
    detail: str


@dataclass(frozen=True)
class Staff:
    """A staff member as a link or session knows them: id, and the name Telegram showed."""

    id: int
    name: str = ""

    @property
    def shown(self) -> str:
        """How pages name them: the name with the id, or the id alone."""
        return f"{self.name} ({self.id})" if self.name else str(self.id)


@dataclass(frozen=True)
class SessionRow:
    """A browser session as stored (the id itself is kept only as its digest)."""

    staff_id: int
    csrf: str
    language: str | None
    created_at: datetime
    seen_at: datetime
    ended_at: datetime | None
    name: str = ""


_QUEUE_COLUMNS = """e.id, e.chat_id, e.at, e.data, q.taken_by, q.taken_at, q.done_by,
                    q.done_at, q.note"""


class DashboardTables:
    """Reads and writes of the dashboard's tables; open with ``open_tables``."""

    def __init__(self, runner: _Runner) -> None:
        """Use ``runner`` for every statement."""
        self._run = runner

    async def close(self) -> None:
        """Release the connections opened for the tables."""
        await self._run.close()

    def _queue_row(self, row: Row) -> QueueRow:
        read = self._run.read_time
        at = read(row[2])
        if at is None:
            msg = "a queue item without a time"
            raise StorageError(msg)
        return QueueRow(int(row[0]), int(row[1]), at, self._run.read_json(row[3]),
                        row[4], read(row[5]), row[6], read(row[7]), str(row[8] or ""))

    # -- queue ----------------------------------------------------------------------------------

    async def open_items(self, limit: int) -> list[QueueRow]:
        """Queue items not yet done, newest first."""
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM events AS e
                  LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.kind = '{QUEUE_EVENT}' AND q.done_at IS NULL
                  ORDER BY e.id DESC LIMIT ?"""  # noqa: S608 -- constants of this module
        return [self._queue_row(row) for row in await self._run.rows(sql, (limit,))]

    async def open_heads(self, limit: int) -> list[QueueHead]:
        """What ranks and counts open items (no message): newest first."""
        sql = f"""SELECT e.id, e.chat_id, e.at, {self._run.kind_sql}, q.taken_by
                  FROM events AS e LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.kind = '{QUEUE_EVENT}' AND q.done_at IS NULL
                  ORDER BY e.id DESC LIMIT ?"""  # noqa: S608 -- constants of this module
        heads = []
        for row in await self._run.rows(sql, (limit,)):
            at = self._run.read_time(row[2])
            if at is not None:
                heads.append(QueueHead(int(row[0]), int(row[1]), at, str(row[3] or "unknown"),
                                       row[4]))
        return heads

    async def items(self, item_ids: Sequence[int]) -> list[QueueRow]:
        """Whole queue items by id, in the order asked (ids gone are left out)."""
        if not item_ids:
            return []
        marks = ", ".join("?" for _ in item_ids)
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM events AS e
                  LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.id IN ({marks}) AND e.kind = '{QUEUE_EVENT}'"""  # noqa: S608 -- placeholders only
        found = {row.id: row for row in
                 (self._queue_row(r) for r in await self._run.rows(sql, tuple(item_ids)))}
        return [found[item_id] for item_id in item_ids if item_id in found]

    async def done_items(self, limit: int) -> list[QueueRow]:
        """Queue items done, the latest done first."""
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM queue_state AS q
                  JOIN events AS e ON e.id = q.event_id
                  WHERE q.done_at IS NOT NULL ORDER BY q.done_at DESC LIMIT ?"""  # noqa: S608 -- constants of this module
        return [self._queue_row(row) for row in await self._run.rows(sql, (limit,))]

    async def item(self, item_id: int) -> QueueRow | None:
        """One queue item, or None when there is no such one (or it was erased)."""
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM events AS e
                  LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.id = ? AND e.kind = '{QUEUE_EVENT}'"""  # noqa: S608 -- constants of this module
        rows = await self._run.rows(sql, (item_id,))
        return self._queue_row(rows[0]) if rows else None

    async def patient_items(self, chat_id: int) -> list[QueueRow]:
        """A patient's queue items, oldest first."""
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM events AS e
                  LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.chat_id = ? AND e.kind = '{QUEUE_EVENT}' ORDER BY e.id"""  # noqa: S608 -- constants of this module
        return [self._queue_row(row) for row in await self._run.rows(sql, (chat_id,))]

    async def take(self, item_id: int, staff_id: int, at: datetime) -> bool:
        """Assign an open item to ``staff_id``; False when it is gone or already done."""
        if await self.item(item_id) is None:
            return False
        sql = """INSERT INTO queue_state (event_id, taken_by, taken_at) VALUES (?, ?, ?)
                 ON CONFLICT (event_id) DO UPDATE SET taken_by = excluded.taken_by,
                     taken_at = excluded.taken_at
                 WHERE queue_state.done_at IS NULL
                 RETURNING event_id"""
        return bool(await self._run.rows(sql, (item_id, staff_id, self._run.time(at))))

    async def finish(self, item_id: int, staff_id: int, at: datetime, note: str) -> bool:
        """Mark an item done with a note; False when it is gone or was done already."""
        if await self.item(item_id) is None:
            return False
        moment = self._run.time(at)
        sql = """INSERT INTO queue_state (event_id, taken_by, taken_at, done_by, done_at, note)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (event_id) DO UPDATE SET done_by = excluded.done_by,
                     done_at = excluded.done_at, note = excluded.note,
                     taken_by = coalesce(queue_state.taken_by, excluded.taken_by),
                     taken_at = coalesce(queue_state.taken_at, excluded.taken_at)
                 WHERE queue_state.done_at IS NULL
                 RETURNING event_id"""
        params = (item_id, staff_id, moment, staff_id, moment, note)
        return bool(await self._run.rows(sql, params))

    async def patient(self, chat_id: int) -> Patient | None:
        """A patient's record (None without one): one read, none of their history."""
        sql = """SELECT chat_id, language, session, active, created_at, updated_at
                 FROM patients WHERE chat_id = ? AND session IS NOT NULL"""
        rows = await self._run.rows(sql, (chat_id,))
        if not rows:
            return None
        row, read = rows[0], self._run.read_time
        return Patient(int(row[0]), str(row[1]), self._run.read_json(row[2]), bool(row[3]),
                       read(row[4]), read(row[5]))

    async def patients_page(self, query: PatientQuery) -> list[PatientRow]:
        """One page of patients in chat id order after ``query.after``, as ``query`` filters."""
        run = self._run
        where, params = ["p.session IS NOT NULL"], []  # type: list[str], list[object]
        if query.after is not None:
            where.append("p.chat_id > ?")
            params.append(query.after)
        if query.term:
            term = query.term.lower()
            conditions = [f"lower({run.name_sql}) LIKE ? ESCAPE '\\'",
                          f"lower({run.username_sql}) LIKE ? ESCAPE '\\'"]
            params.extend([f"%{_like_escaped(term)}%", f"%{_like_escaped(term.lstrip('@'))}%"])
            if query.term.lstrip("-").isdigit():
                conditions.append("p.chat_id = ?")
                params.append(int(query.term))
            where.append(f"({' OR '.join(conditions)})")
        if query.open_items:
            where.append(f"""EXISTS (SELECT 1 FROM events AS e
                             LEFT JOIN queue_state AS q ON q.event_id = e.id
                             WHERE e.chat_id = p.chat_id AND e.kind = '{QUEUE_EVENT}'
                               AND q.done_at IS NULL)""")  # noqa: S608 -- a constant
        if query.pending is not None:
            kinds = "" if query.pending == "any" else "AND o.kind = ?"
            where.append(f"""EXISTS (SELECT 1 FROM outbox AS o WHERE o.chat_id = p.chat_id
                             AND o.sent_at IS NULL AND o.cancelled_at IS NULL {kinds})""")  # noqa: S608 -- constants
            if query.pending != "any":
                params.append(query.pending)
        if query.step:
            where.append(f"""(SELECT {run.step_sql} FROM events AS r
                             WHERE r.chat_id = p.chat_id AND r.kind = 'recommendation'
                             ORDER BY r.id DESC LIMIT 1) = ?""")  # noqa: S608 -- constants
            params.append(query.step)
        sql = f"""SELECT p.chat_id, p.language, p.active, {run.name_sql}, {run.username_sql},
                         (SELECT {run.step_sql} FROM events AS r
                          WHERE r.chat_id = p.chat_id AND r.kind = 'recommendation'
                          ORDER BY r.id DESC LIMIT 1),
                         (SELECT min(o.due_at) FROM outbox AS o WHERE o.chat_id = p.chat_id
                          AND o.sent_at IS NULL AND o.cancelled_at IS NULL)
                  FROM patients AS p WHERE {" AND ".join(where)}
                  ORDER BY p.chat_id LIMIT ?"""  # noqa: S608 -- conditions are constants of this function
        rows = await run.rows(sql, (*params, query.limit))
        return [PatientRow(int(r[0]), str(r[1]), bool(r[2]), r[3], r[4], r[5],
                           run.read_time(r[6])) for r in rows]

    async def contacts(self, chat_ids: Sequence[int]) -> dict[int, tuple[str | None, str | None]]:
        """Name and username of each patient asked for (those with neither are left out)."""
        if not chat_ids:
            return {}
        run = self._run
        marks = ", ".join("?" for _ in chat_ids)
        sql = f"""SELECT p.chat_id, {run.name_sql}, {run.username_sql} FROM patients AS p
                  WHERE p.chat_id IN ({marks})"""  # noqa: S608 -- placeholders only
        rows = await run.rows(sql, tuple(dict.fromkeys(chat_ids)))
        return {int(r[0]): (r[1], r[2]) for r in rows if r[1] or r[2]}

    # -- audit ----------------------------------------------------------------------------------

    async def audit(self, at: datetime, staff_id: int, action: str, patient: int | None,
                    detail: str = "") -> None:
        """Append a line to the audit trail."""
        sql = "INSERT INTO audit (at, staff_id, action, patient, detail) VALUES (?, ?, ?, ?, ?)"
        await self._run.rows(sql, (self._run.time(at), staff_id, action, patient, detail))

    async def audit_lines(self, *, staff_id: int | None, since: datetime | None,
                          until: datetime | None, before: int | None,
                          limit: int) -> list[AuditRow]:
        """Audit lines, newest first, by person and time span, before an id (keyset paging)."""
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        if staff_id is not None:
            where.append("staff_id = ?")
            params.append(staff_id)
        if since is not None:
            where.append("at >= ?")
            params.append(self._run.time(since))
        if until is not None:
            where.append("at < ?")
            params.append(self._run.time(until))
        if before is not None:
            where.append("id < ?")
            params.append(before)
        sql = f"""SELECT id, at, staff_id, action, patient, detail FROM audit
                  WHERE {" AND ".join(where)} ORDER BY id DESC LIMIT ?"""  # noqa: S608 -- conditions are constants of this function
        rows = await self._run.rows(sql, (*params, limit))
        return [AuditRow(int(r[0]), self._read_at(r[1]), int(r[2]),
                         str(r[3]), r[4], str(r[5])) for r in rows]

    def _read_at(self, value: object) -> datetime:
        at = self._run.read_time(value)
        if at is None:
            msg = "an audit line without a time"
            raise StorageError(msg)
        return at

    # -- sign-in links --------------------------------------------------------------------------

    async def add_link(self, digest: str, staff_id: int, expires_at: datetime,
                       name: str = "") -> None:
        """Keep a new sign-in link (as its digest), with the name it signs in."""
        sql = "INSERT INTO web_links (digest, staff_id, name, expires_at) VALUES (?, ?, ?, ?)"
        await self._run.rows(sql, (digest, staff_id, name, self._run.time(expires_at)))

    async def peek_link(self, digest: str, now: datetime) -> Staff | None:
        """Who an unused, unexpired link signs in; nothing is consumed."""
        sql = """SELECT staff_id, name FROM web_links
                 WHERE digest = ? AND used_at IS NULL AND expires_at > ?"""
        rows = await self._run.rows(sql, (digest, self._run.time(now)))
        return Staff(int(rows[0][0]), str(rows[0][1])) if rows else None

    async def use_link(self, digest: str, now: datetime) -> Staff | None:
        """Consume a link once: who it signs in, or None when unknown, used or expired."""
        sql = """UPDATE web_links SET used_at = ?
                 WHERE digest = ? AND used_at IS NULL AND expires_at > ?
                 RETURNING staff_id, name"""
        moment = self._run.time(now)
        rows = await self._run.rows(sql, (moment, digest, moment))
        return Staff(int(rows[0][0]), str(rows[0][1])) if rows else None

    # -- sessions -------------------------------------------------------------------------------

    async def add_session(self, digest: str, staff: Staff, csrf: str, language: str | None,
                          now: datetime) -> None:
        """Keep a new session."""
        moment = self._run.time(now)
        sql = """INSERT INTO web_sessions (digest, staff_id, name, csrf, language, created_at,
                                           seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)"""
        await self._run.rows(sql, (digest, staff.id, staff.name, csrf, language, moment, moment))

    async def session(self, digest: str) -> SessionRow | None:
        """A session by its digest, ended or not."""
        sql = """SELECT staff_id, csrf, language, created_at, seen_at, ended_at, name
                 FROM web_sessions WHERE digest = ?"""
        rows = await self._run.rows(sql, (digest,))
        if not rows:
            return None
        row, read = rows[0], self._run.read_time
        created, seen = read(row[3]), read(row[4])
        if created is None or seen is None:
            return None
        return SessionRow(int(row[0]), str(row[1]), row[2], created, seen, read(row[5]),
                          str(row[6] or ""))

    async def touch_session(self, digest: str, now: datetime) -> None:
        """Record activity on a session (the idle timeout counts from here)."""
        sql = "UPDATE web_sessions SET seen_at = ? WHERE digest = ? AND ended_at IS NULL"
        await self._run.rows(sql, (self._run.time(now), digest))

    async def end_session(self, digest: str, now: datetime) -> None:
        """End a session: signed out, or timed out."""
        sql = "UPDATE web_sessions SET ended_at = ? WHERE digest = ? AND ended_at IS NULL"
        await self._run.rows(sql, (self._run.time(now), digest))

    async def set_language(self, digest: str, language: str) -> None:
        """The language a person chose for their session."""
        sql = "UPDATE web_sessions SET language = ? WHERE digest = ?"
        await self._run.rows(sql, (language, digest))

    async def prune(self, before: datetime) -> None:
        """Forget links and sessions that ended or expired before ``before``."""
        moment = self._run.time(before)
        await self._run.rows("DELETE FROM web_links WHERE expires_at < ?", (moment,))
        await self._run.rows(
            "DELETE FROM web_sessions WHERE coalesce(ended_at, seen_at) < ?", (moment,))


def _like_escaped(term: str) -> str:
    """A search term matched literally by LIKE (its wildcards escaped)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def open_tables(store: Store, database_url: str | None = None) -> DashboardTables:
    """The dashboard's tables on the database of an open ``store``."""
    if isinstance(store, SqliteStore):
        return DashboardTables(_SqliteRunner(store))
    if isinstance(store, PostgresStore):
        if database_url is None:
            msg = "the dashboard needs the PostgreSQL URL to open its own connections"
            raise StorageError(msg)
        pool = await open_pool(database_url, min_size=1, max_size=4, name="ldh-dashboard",
                               fill_within=10.0)
        return DashboardTables(_PostgresRunner(pool))
    msg = f"the dashboard cannot use a {type(store).__name__}"
    raise StorageError(msg)
