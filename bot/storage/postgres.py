"""The PostgreSQL store: a psycopg 3 async pool; row locks let several processes share one bot."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.logsafe import chat_ref
from bot.storage.base import (
    ConflictError,
    Event,
    Forgotten,
    HeldChat,
    JsonDict,
    OutboxItem,
    Patient,
    PatientRecord,
    RecordQuery,
    StorageError,
    Transaction,
    deactivate_chat,
    dump_json,
    holding,
    refuse_inside_transaction,
    trim_error,
    utc,
)
from bot.storage.locks import ChatLocks
from bot.storage.migrations import POSTGRES, pending
from bot.storage.postgres_pacing import PACER_OBJECTS
from bot.storage.records import postgres_record, postgres_sql

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Iterator
    from datetime import datetime, timedelta

Connection = psycopg.AsyncConnection[TupleRow]

log = logging.getLogger(__name__)

# A chat deleted by another process while we waited for its row lock is re-created; a few
# rounds are plenty, since each round means another process committed a forget meanwhile.
LOCK_ATTEMPTS = 5

_PATIENT = "chat_id, language, session, active, created_at, updated_at"
_PATIENT_QUALIFIED = (
    "patients.chat_id, patients.language, patients.session, patients.active,"
    " patients.created_at, patients.updated_at"
)
_OUTBOX_QUALIFIED = (
    "outbox.id, outbox.kind, outbox.chat_id, outbox.payload, outbox.due_at, outbox.attempts,"
    " outbox.dedupe_key"
)


# A patient is idle when neither they nor the clinic touched their record since the cutoff and
# nothing to them, or about them, is still waiting to be sent.
_IDLE = """SELECT p.chat_id FROM patients AS p
           WHERE p.session IS NOT NULL AND p.updated_at < %s
             AND NOT EXISTS (SELECT 1 FROM events AS e
                             WHERE e.chat_id = p.chat_id AND e.at >= %s)
             AND NOT EXISTS (SELECT 1 FROM outbox AS o
                             WHERE (o.chat_id = p.chat_id OR o.about = p.chat_id)
                               AND o.sent_at IS NULL AND o.cancelled_at IS NULL)
           ORDER BY p.updated_at, p.chat_id LIMIT %s"""


async def open_pool(
    url: str, *, min_size: int, max_size: int, name: str, fill_within: float
) -> AsyncConnectionPool[Connection]:
    """A pool of autocommit connections, filled within ``fill_within`` s; else StorageError."""
    pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
        url, min_size=min_size, max_size=max_size, open=False, kwargs={"autocommit": True},
        # Checked on checkout so a server restart costs a reconnect, not a failed update.
        check=AsyncConnectionPool.check_connection, name=name,
    )
    try:
        await pool.open(wait=True, timeout=fill_within)
    except PoolTimeout as exc:
        await pool.close()
        msg = f"cannot fill a connection pool for PostgreSQL at {describe(url)}"
        raise StorageError(msg) from exc
    return pool


def describe(url: str) -> str:
    """Name a server for error messages without its password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable connection string>"
    user = f"{info['user']}@" if info.get("user") else ""
    host = info.get("host") or "localhost"
    return f"{user}{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


def _patient(row: TupleRow) -> Patient:
    chat_id, language, session, active, created_at, updated_at = row
    return Patient(chat_id, language, session, active, utc(created_at), utc(updated_at))


def _event(row: TupleRow) -> Event:
    event_id, chat_id, kind, data, at = row
    return Event(event_id, chat_id, kind, data, utc(at))


_PENDING = """SELECT id, kind, chat_id, payload, due_at, attempts, dedupe_key FROM outbox
              WHERE chat_id = %s AND sent_at IS NULL AND cancelled_at IS NULL
              ORDER BY due_at, id"""


def _outbox_item(row: TupleRow) -> OutboxItem:
    item_id, kind, chat_id, payload, due_at, attempts, dedupe_key = row
    return OutboxItem(item_id, kind, chat_id, payload, utc(due_at), attempts, dedupe_key)


async def migrate(conn: Connection) -> None:
    """Bring the schema up to date and (re-)create the pacer's objects: the one path for both."""
    async with conn.transaction():
        # Two processes starting together must not both apply the same migration.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('ldh-bot schema ' || current_schema()))"
        )
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_version (
                version INTEGER PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )"""
        )
        cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
        row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        for migration in pending(POSTGRES, current):
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version) VALUES (%s)", (migration.version,)
            )
        for statement in PACER_OBJECTS:
            await conn.execute(statement)


async def _lock_chat(conn: Connection, chat_id: int) -> bool:
    """Lock the chat's patient row, creating a placeholder; True if it is only a placeholder."""
    for _ in range(LOCK_ATTEMPTS):
        await conn.execute(
            "INSERT INTO patients (chat_id) VALUES (%s) ON CONFLICT (chat_id) DO NOTHING",
            (chat_id,),
        )
        cursor = await conn.execute(
            "SELECT session IS NULL FROM patients WHERE chat_id = %s FOR UPDATE", (chat_id,)
        )
        row = await cursor.fetchone()
        if row is not None:
            return bool(row[0])
    msg = f"chat {chat_ref(chat_id)} kept being deleted by another process"
    raise ConflictError(msg)


# SQLSTATEs that mean "another transaction got in the way": the update may simply be redone.
_CONFLICTS = frozenset({"40001", "40P01"})


@contextmanager
def _without_row_data() -> Iterator[None]:
    """Turn a driver error into ours with its first line only.

    PostgreSQL's DETAIL quotes the row a statement failed on ("Key (chat_id)=(...)", "Failing
    row contains (...)"): chat ids and sessions that must not reach a log, even chained.
    """
    try:
        yield
    except psycopg.Error as error:
        primary = error.diag.message_primary or type(error).__name__
        kind = ConflictError if error.sqlstate in _CONFLICTS else StorageError
        msg = f"PostgreSQL: {primary} (SQLSTATE {error.sqlstate or 'unknown'})"
        raise kind(msg) from None


@asynccontextmanager
async def _locked(conn: Connection, chat_id: int) -> AsyncIterator[bool]:
    """A database transaction holding the chat's row lock; yields whether it is a placeholder."""
    async with conn.transaction():
        yield await _lock_chat(conn, chat_id)


async def _statement(
    conn: Connection, sql: str, params: tuple[Any, ...]
) -> tuple[list[TupleRow], int]:
    async with conn.transaction():
        cursor = await conn.execute(sql, params)
        rows = await cursor.fetchall() if cursor.description else []
        return rows, cursor.rowcount


class _PostgresTransaction(HeldChat):
    """One update's work on a chat, run at once inside a database transaction."""

    def __init__(self, conn: Connection, chat_id: int, now: datetime, *, placeholder: bool) -> None:
        """Work on ``conn``, whose transaction already holds the chat's row lock."""
        super().__init__(chat_id, now)
        self._conn = conn
        # A placeholder row exists only to be locked; it is removed unless a save fills it.
        self._placeholder = placeholder

    def _connection(self) -> Connection:
        self._check_open()
        return self._conn

    async def first_time(self, update_id: int) -> bool:
        """Record a Telegram update id; False if it was recorded before."""
        cursor = await self._connection().execute(
            """INSERT INTO updates (update_id, seen_at) VALUES (%s, %s)
               ON CONFLICT (update_id) DO NOTHING""",
            (update_id, self._now),
        )
        return cursor.rowcount == 1

    async def load(self) -> Patient | None:
        """Return the held chat's patient, None if there is none yet."""
        cursor = await self._connection().execute(
            f"SELECT {_PATIENT} FROM patients WHERE chat_id = %s AND session IS NOT NULL",  # noqa: S608 -- constant column list
            (self._chat_id,),
        )
        row = await cursor.fetchone()
        return None if row is None else _patient(row)

    async def first_time_and_load(self, update_id: int | None) -> tuple[bool, Patient | None]:
        """``first_time`` (True when there is no id) and ``load``, in one round trip."""
        if update_id is None:
            return True, await self.load()
        cursor = await self._connection().execute(
            f"""WITH fresh AS (
                    INSERT INTO updates (update_id, seen_at) VALUES (%s, %s)
                    ON CONFLICT (update_id) DO NOTHING RETURNING 1)
                SELECT EXISTS (SELECT 1 FROM fresh), {_PATIENT_QUALIFIED}
                FROM (VALUES (1)) AS one
                LEFT JOIN patients ON patients.chat_id = %s AND patients.session IS NOT NULL""",  # noqa: S608 -- constant column list
            (update_id, self._now, self._chat_id),
        )
        row = await cursor.fetchone()
        if row is None:  # the one-row VALUES always yields a row; kept for the type checker
            return False, None
        fresh, patient = bool(row[0]), row[1:]
        return fresh, None if patient[0] is None else _patient(patient)

    async def save(self, patient: Patient) -> None:
        """Store the held chat's patient as it is now."""
        if patient.chat_id != self._chat_id:
            msg = (
                f"this transaction holds chat {chat_ref(self._chat_id)}, "
                f"not {chat_ref(patient.chat_id)}"
            )
            raise ValueError(msg)
        created = self._now if patient.created_at is None else utc(patient.created_at)
        await self._connection().execute(
            """INSERT INTO patients (chat_id, language, session, active, created_at, updated_at)
               VALUES (%s, %s, %s::jsonb, %s, %s, %s)
               ON CONFLICT (chat_id) DO UPDATE SET
                   language = EXCLUDED.language, session = EXCLUDED.session,
                   active = EXCLUDED.active, updated_at = EXCLUDED.updated_at,
                   created_at = coalesce(patients.created_at, EXCLUDED.created_at)""",
            (
                patient.chat_id,
                patient.language,
                dump_json(patient.session),
                patient.active,
                created,
                self._now,
            ),
        )
        self._placeholder = False

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
        await self._connection().execute(
            """INSERT INTO outbox (kind, chat_id, payload, due_at, dedupe_key, created_at, about)
               VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s)
               ON CONFLICT (dedupe_key) WHERE cancelled_at IS NULL DO NOTHING""",
            (kind, chat_id, dump_json(payload), utc(due_at), dedupe_key, self._now,
             self._chat_id),
        )
        self.enqueued = True

    async def cancel(self, chat_id: int, kinds: Collection[str] | None = None) -> int:
        """Cancel a chat's unsent outbox rows (of the given kinds); return how many."""
        kind_list = None if kinds is None else sorted(kinds)
        cursor = await self._connection().execute(
            """UPDATE outbox SET cancelled_at = %s, lease_until = NULL
               WHERE chat_id = %s AND sent_at IS NULL AND cancelled_at IS NULL
                 AND (%s::text[] IS NULL OR kind = ANY(%s::text[]))""",
            (self._now, chat_id, kind_list, kind_list),
        )
        return cursor.rowcount

    async def forget(self) -> Forgotten:
        """Delete everything kept about the held chat; say what was deleted."""
        conn = self._connection()
        chat = (self._chat_id,)
        patient = await conn.execute(
            "DELETE FROM patients WHERE chat_id = %s RETURNING session IS NOT NULL", chat
        )
        row = await patient.fetchone()
        events = await conn.execute("DELETE FROM events WHERE chat_id = %s", chat)
        own = await conn.execute("DELETE FROM outbox WHERE chat_id = %s", chat)
        others = await conn.execute("DELETE FROM outbox WHERE about = %s", chat)
        # The pacer's note of when the chat may next be sent to names it too (its table is
        # there wherever this version migrated; a database only read so far may lack it).
        pacer = await conn.execute("SELECT to_regclass('pacer_chats') IS NOT NULL")
        if (found := await pacer.fetchone()) is not None and found[0]:
            await conn.execute("DELETE FROM pacer_chats WHERE chat_id = %s", chat)
        self._placeholder = False
        return Forgotten(
            patient=bool(row and row[0]),
            events=events.rowcount,
            outbox=own.rowcount,
            notifications=others.rowcount,
        )

    async def events(self) -> list[Event]:
        """The held chat's history, oldest first, this transaction's own entries included."""
        cursor = await self._connection().execute(
            "SELECT id, chat_id, kind, data, at FROM events WHERE chat_id = %s ORDER BY id",
            (self._chat_id,),
        )
        return [_event(r) for r in await cursor.fetchall()]

    async def pending(self) -> list[OutboxItem]:
        """The held chat's unsent, uncancelled outbox rows, soonest first."""
        cursor = await self._connection().execute(_PENDING, (self._chat_id,))
        return [_outbox_item(r) for r in await cursor.fetchall()]

    async def record_event(self, kind: str, data: JsonDict) -> None:
        """Append an entry to the held chat's history."""
        await self._connection().execute(
            "INSERT INTO events (chat_id, kind, data, at) VALUES (%s, %s, %s::jsonb, %s)",
            (self._chat_id, kind, dump_json(data), self._now),
        )

    async def finish(self) -> None:
        """Drop a lock placeholder that no save filled, so only real patients stay."""
        if self._placeholder:
            await self._connection().execute(
                "DELETE FROM patients WHERE chat_id = %s AND session IS NULL", (self._chat_id,)
            )

    def close(self) -> None:
        """Refuse further use."""
        self._open = False


class PostgresStore:
    """Store in a PostgreSQL database; safe for several bot processes at once."""

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, connect_timeout: float = 10.0
    ) -> None:
        """Remember the server and pool size; nothing is connected yet."""
        self._url = url
        self._min_size = min_size
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._locks = ChatLocks()
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._enqueued: Callable[[], None] | None = None

    def on_enqueued(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each transaction that added outbox rows commits."""
        self._enqueued = listener

    @property
    def pool_size(self) -> int:
        """The most connections this store holds at once."""
        return self._max_size

    def _require_pool(self) -> AsyncConnectionPool[Connection]:
        if self._pool is None:
            msg = "the PostgreSQL store is not open"
            raise StorageError(msg)
        return self._pool

    async def open(self) -> None:
        """Connect, migrate, then start the pool."""
        if self._pool is not None:
            msg = "the PostgreSQL store is already open"
            raise StorageError(msg)
        # One plain connection first: its error says why the server is unreachable, where a
        # pool would only time out.
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=max(1, round(self._connect_timeout))
            )
        except psycopg.OperationalError as exc:
            msg = f"cannot connect to PostgreSQL at {describe(self._url)}: {exc}".strip()
            raise StorageError(msg) from exc
        async with conn:
            await migrate(conn)
        self._pool = await open_pool(self._url, min_size=self._min_size,
                                     max_size=self._max_size, name="ldh-bot",
                                     fill_within=self._connect_timeout)

    async def close(self) -> None:
        """Close every pooled connection."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def transaction(self, chat_id: int, now: datetime) -> AsyncIterator[Transaction]:
        """Hold a chat for one update; commit on normal exit, roll back on an exception."""
        pool = self._require_pool()
        # holding(): while this task holds a pooled connection, the store lends it no other.
        # The asyncio lock first: waiters of one chat then queue here instead of each holding
        # a pooled connection while blocked on the row lock.
        with holding(self), _without_row_data():
            async with (
                self._locks.hold(chat_id),
                pool.connection() as conn,
                AsyncExitStack() as held,
            ):
                try:
                    placeholder = await held.enter_async_context(_locked(conn, chat_id))
                except psycopg.errors.UndefinedTable:
                    await self._migrate_again(conn)
                    placeholder = await held.enter_async_context(_locked(conn, chat_id))
                tx = _PostgresTransaction(conn, chat_id, now, placeholder=placeholder)
                try:
                    yield tx
                    await tx.finish()
                finally:
                    tx.close()
        if tx.enqueued and self._enqueued is not None:
            self._enqueued()

    async def _migrate_again(self, conn: Connection) -> None:
        """Re-create a schema that vanished under a running bot (a database re-created empty).

        Locking the chat is every update's first statement, so that is where a missing table
        shows; ``conn`` is out of the failed transaction by then.
        """
        log.warning("the PostgreSQL tables are missing (database re-created?); migrating again")
        await migrate(conn)

    async def probe_write(self) -> None:
        """Write a history row and roll it back (see ``Store``); a lost schema is redone."""
        async def write(conn: Connection) -> None:
            async with conn.transaction(force_rollback=True):
                await conn.execute("INSERT INTO events (chat_id, kind, data, at) "
                                   "VALUES (0, 'health', '{}', now())")

        async with self._require_pool().connection() as conn:
            try:
                await write(conn)
            except psycopg.errors.UndefinedTable:
                await self._migrate_again(conn)
                await write(conn)

    async def _execute(self, sql: str, params: tuple[Any, ...]) -> list[TupleRow]:
        """Run one statement in its own transaction; return its rows, if it has any."""
        rows, _ = await self._run(sql, params)
        return rows

    async def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        _, count = await self._run(sql, params)
        return count

    async def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[list[TupleRow], int]:
        """One statement in its own transaction: its rows and row count; a lost schema is redone."""
        refuse_inside_transaction(self, "a second connection")
        with _without_row_data():
            return await self._run_once_more_if_migrated(sql, params)

    async def _run_once_more_if_migrated(
        self, sql: str, params: tuple[Any, ...]
    ) -> tuple[list[TupleRow], int]:
        async with self._require_pool().connection() as conn:
            try:
                return await _statement(conn, sql, params)
            except psycopg.errors.UndefinedTable:
                await self._migrate_again(conn)
                return await _statement(conn, sql, params)

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxItem]:
        """Lease up to ``limit`` due, unsent, unleased rows, oldest due first."""
        if limit <= 0:
            return []
        now = utc(now)
        rows = await self._execute(
            f"""WITH due AS (
                    SELECT id FROM outbox
                    WHERE sent_at IS NULL AND cancelled_at IS NULL AND due_at <= %s
                      AND (lease_until IS NULL OR lease_until <= %s)
                    ORDER BY due_at, id LIMIT %s
                    FOR UPDATE SKIP LOCKED)
                UPDATE outbox SET lease_until = %s, attempts = outbox.attempts + 1
                FROM due WHERE outbox.id = due.id
                RETURNING {_OUTBOX_QUALIFIED}""",  # noqa: S608 -- constant column list
            (now, now, limit, now + lease),
        )
        return sorted((_outbox_item(r) for r in rows), key=lambda i: (i.due_at, i.id))

    async def renew(self, item: OutboxItem, until: datetime) -> bool:
        """Extend the lease of a row this claim still holds; False if it is no longer ours."""
        # ``attempts`` grows with every claim, so it tells this claim from a later one.
        found = await self._execute(
            """UPDATE outbox SET lease_until = %s
               WHERE id = %s AND attempts = %s AND sent_at IS NULL AND cancelled_at IS NULL
               RETURNING id""",
            (utc(until), item.id, item.attempts),
        )
        return bool(found)

    async def mark_sent(self, item_id: int, at: datetime) -> None:
        """Record that a claimed row was delivered; it is never claimed again."""
        await self._execute(
            "UPDATE outbox SET sent_at = %s, lease_until = NULL WHERE id = %s AND sent_at IS NULL",
            (utc(at), item_id),
        )

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        """Release a claimed row to be due again at ``at``, keeping the error."""
        await self._execute(
            """UPDATE outbox SET due_at = %s, lease_until = NULL, last_error = %s
               WHERE id = %s AND sent_at IS NULL""",
            (utc(at), trim_error(error), item_id),
        )

    async def retire(self, item_id: int, at: datetime, error: str) -> None:
        """Give up on an unsent row Telegram refused: never claimed again, the error kept."""
        await self._execute(
            """UPDATE outbox SET cancelled_at = %s, lease_until = NULL, last_error = %s
               WHERE id = %s AND sent_at IS NULL AND cancelled_at IS NULL""",
            (utc(at), trim_error(error), item_id),
        )

    async def deactivate(self, chat_id: int, at: datetime) -> None:
        """Mark a patient who blocked the bot inactive and cancel the chat's unsent rows."""
        async with self.transaction(chat_id, at) as tx:
            await deactivate_chat(tx)

    async def events(self, chat_id: int) -> list[Event]:
        """Return a chat's history, oldest first."""
        rows = await self._execute(
            "SELECT id, chat_id, kind, data, at FROM events WHERE chat_id = %s ORDER BY id",
            (chat_id,),
        )
        return [_event(r) for r in rows]

    async def pending(self, chat_id: int) -> list[OutboxItem]:
        """A chat's unsent, uncancelled outbox rows, soonest first."""
        rows = await self._execute(_PENDING, (chat_id,))
        return [_outbox_item(r) for r in rows]

    async def patients(self, limit: int, offset: int) -> list[Patient]:
        """Return one page of patients ordered by chat id."""
        if limit <= 0:
            return []
        rows = await self._execute(
            f"""SELECT {_PATIENT} FROM patients WHERE session IS NOT NULL
                ORDER BY chat_id LIMIT %s OFFSET %s""",  # noqa: S608 -- constant column list
            (limit, max(offset, 0)),
        )
        return [_patient(r) for r in rows]

    async def records(self, query: RecordQuery) -> AsyncGenerator[PatientRecord]:
        """Stream patients with their events from one named (server-side) cursor."""
        refuse_inside_transaction(self, "a second connection")
        sql, params = postgres_sql(query)
        with _without_row_data():
            async with (
                self._require_pool().connection() as conn,
                conn.transaction(),
                conn.cursor(name="ldh_records") as cursor,
            ):
                await cursor.execute(sql, params)
                while rows := await cursor.fetchmany(query.batch):
                    for row in rows:
                        yield postgres_record(row)

    async def prune_updates(self, older_than: datetime) -> int:
        """Forget update ids recorded before ``older_than``; return how many."""
        return await self._count("DELETE FROM updates WHERE seen_at < %s", (utc(older_than),))

    # -- retention ------------------------------------------------------------------------------

    async def prune_history(self, older_than: datetime) -> int:
        """Delete outbox rows sent or cancelled before ``older_than``; return how many."""
        return await self._count(
            """DELETE FROM outbox
               WHERE coalesce(sent_at, cancelled_at) < %s""",
            (utc(older_than),),
        )

    async def idle_chats(self, idle_since: datetime, limit: int) -> list[int]:
        """Up to ``limit`` patients untouched since ``idle_since`` with nothing still to send."""
        rows = await self._execute(_IDLE, (utc(idle_since), utc(idle_since), limit))
        return [int(r[0]) for r in rows]
