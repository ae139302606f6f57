"""The storage contract: what the bot keeps per chat, and the one interface both backends meet."""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.logsafe import chat_ref

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Collection, Iterator
    from contextlib import AbstractAsyncContextManager

JsonDict = dict[str, Any]

# Kept short so a pathological exception text cannot bloat the outbox table.
MAX_ERROR_LENGTH = 1000


class StorageError(RuntimeError):
    """A store that cannot be opened or used as asked."""


class SchemaTooNewError(StorageError):
    """The database was migrated by a newer release than the running code."""


class ConflictError(StorageError):
    """Another process changed this chat's data during the transaction; redo the update."""


@dataclass
class Patient:
    """One chat's record: language, the engine's opaque JSON session, whether it is reachable."""

    chat_id: int
    language: str
    session: JsonDict = field(default_factory=dict)
    active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class OutboxItem:
    """A message to deliver later; ``attempts`` counts the claims so far, this one included."""

    id: int
    kind: str
    chat_id: int
    payload: JsonDict
    due_at: datetime
    attempts: int
    dedupe_key: str | None


@dataclass(frozen=True)
class Event:
    """One entry of a chat's append-only history."""

    id: int
    chat_id: int
    kind: str
    data: JsonDict
    at: datetime


@dataclass(frozen=True)
class Forgotten:
    """What a forget deleted: the patient record, and how many rows of each kind named them."""

    patient: bool = False
    events: int = 0
    outbox: int = 0
    notifications: int = 0

    @property
    def anything(self) -> bool:
        """Whether anything at all was kept about the chat."""
        return self.patient or bool(self.events or self.outbox or self.notifications)


@dataclass(frozen=True)
class RecordQuery:
    """Which patients a record cursor reads (in chat id order) and which of their events."""

    kinds: frozenset[str] | None = None  # the event kinds wanted; None: every event
    chat_id: int | None = None  # one patient only
    after: int | None = None  # keyset paging: only chat ids above this one
    limit: int | None = None  # at most this many patients
    # Session keys a reader does not need (e.g. the step history): left out in the database,
    # so they are neither sent nor parsed.
    session_without: tuple[str, ...] = ()
    batch: int = 500  # patients fetched per round trip: memory stays flat in the total


@dataclass(frozen=True)
class PatientRecord:
    """A patient with the events a record query asked for, oldest first."""

    patient: Patient
    events: tuple[Event, ...]


class Transaction(Protocol):
    """All that one update does to one chat; it commits or vanishes as a whole."""

    @property
    def chat_id(self) -> int:
        """The chat this transaction holds."""
        ...

    @property
    def now(self) -> datetime:
        """The update's time: stamps saves, update ids and events."""
        ...

    async def first_time(self, update_id: int) -> bool:
        """Record a Telegram update id; False if it was recorded before."""
        ...

    async def load(self) -> Patient | None:
        """Return the held chat's patient, None if there is none yet."""
        ...

    async def save(self, patient: Patient) -> None:
        """Store the held chat's patient as it is now (later changes to the object are not kept)."""
        ...

    async def first_time_and_load(self, update_id: int | None) -> tuple[bool, Patient | None]:
        """``first_time`` (True when there is no id) and ``load``, in one trip to the database."""
        ...

    async def enqueue(
        self,
        kind: str,
        chat_id: int,
        payload: JsonDict,
        due_at: datetime,
        dedupe_key: str | None = None,
    ) -> None:
        """Add an outbox row; a dedupe_key already pending or sent adds nothing."""
        ...

    async def cancel(self, chat_id: int, kinds: Collection[str] | None = None) -> int:
        """Cancel a chat's unsent outbox rows (of the given kinds); return how many."""
        ...

    async def forget(self) -> Forgotten:
        """Delete everything kept about the held chat; say what was deleted.

        That is the patient, their events, their outbox rows (pending or sent) and every
        outbox row written about them for someone else (the clinic's notifications).
        """
        ...

    async def record_event(self, kind: str, data: JsonDict) -> None:
        """Append an entry to the held chat's history."""
        ...

    async def events(self) -> list[Event]:
        """The held chat's history, oldest first, this transaction's own entries included."""
        ...

    async def pending(self) -> list[OutboxItem]:
        """The held chat's unsent, uncancelled outbox rows, soonest first, as this sees them."""
        ...


class Store(Protocol):
    """Sessions, outbox and history of every chat; one update at a time per chat."""

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...

    async def probe_write(self) -> None:
        """Write a row as an update would and roll it back; raise if the database refuses.

        What /healthz asks: a read passes on a full disk or a re-created database, a write
        does not.
        """
        ...

    def transaction(self, chat_id: int, now: datetime, *, update_id: int | None = None,
                    optimistic: bool = False) -> AbstractAsyncContextManager[Transaction]:
        """Hold a chat for one update; commit on normal exit, roll back on an exception.

        While it is open, the store refuses every other call from the same task (another
        transaction included): all the update needs is read through the transaction, since
        a second pooled connection per update deadlocks a pool of N at N chats.
        ``update_id``, the Telegram update being served, lets a store record it while it
        locks the chat, so that ``first_time_and_load`` of that id costs no trip of its own.
        ``optimistic`` (with an ``update_id``) lets a store read without holding the chat
        against other processes: the commit then raises ConflictError, having written
        nothing, if another process changed the chat or recorded the update meanwhile, and
        the caller decides the update again (once more optimistically, then holding it).
        """
        ...

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, *, sent: Collection[int] = ()
    ) -> list[OutboxItem]:
        """Lease up to ``limit`` due, unsent, unleased rows, oldest due first.

        ``sent``: claimed rows delivered since, marked sent at ``now`` in the same trip before
        the claim (as ``mark_sent`` would), so the dispatcher marks and claims in batches.
        """
        ...

    async def renew(self, item: OutboxItem, until: datetime) -> bool:
        """Extend the lease of a row this claim still holds; False if it is no longer ours.

        The fence before every send: a claim whose lease ran out (and was claimed again, sent
        or cancelled meanwhile) must not send.
        """
        ...

    def on_enqueued(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each transaction that added outbox rows commits."""
        ...

    async def mark_sent(self, item_id: int, at: datetime) -> None:
        """Record that a claimed row was delivered; it is never claimed again."""
        ...

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        """Release a claimed row to be due again at ``at``, keeping the error."""
        ...

    async def retire(self, item_id: int, at: datetime, error: str) -> None:
        """Give up on an unsent row Telegram refused: never claimed again, the error kept.

        The row counts as cancelled, so its dedupe key is free to schedule the message anew.
        """
        ...

    async def deactivate(self, chat_id: int, at: datetime) -> None:
        """Mark a patient who blocked the bot inactive and cancel the chat's unsent rows."""
        ...

    async def events(self, chat_id: int) -> list[Event]:
        """Return a chat's history, oldest first."""
        ...

    async def pending(self, chat_id: int) -> list[OutboxItem]:
        """A chat's unsent, uncancelled outbox rows, soonest first."""
        ...

    async def patients(self, limit: int, offset: int) -> list[Patient]:
        """Return one page of patients ordered by chat id."""
        ...

    async def prune_updates(self, older_than: datetime) -> int:
        """Forget update ids recorded before ``older_than``; return how many."""
        ...

    # -- retention (bot/storage/housekeeping.py) ------------------------------------------------

    async def prune_history(self, older_than: datetime) -> int:
        """Delete outbox rows sent or cancelled before ``older_than``; return how many."""
        ...

    async def idle_chats(self, idle_since: datetime, limit: int) -> list[int]:
        """Up to ``limit`` patients untouched since ``idle_since`` with nothing still to send.

        Untouched: no update saved their record and no event was recorded for them since.
        """
        ...

    # -- exports and lists (bot/clinic/) ----------------------------------------------------------

    def records(self, query: RecordQuery) -> AsyncGenerator[PatientRecord]:
        """Stream patients with their events from one cursor, a batch at a time.

        Close the iterator (``contextlib.aclosing``) when stopping early: it holds a connection.
        """
        ...


# The stores in which the current task holds a transaction; each refuses that task any other
# call. Per store, since another store on the same database stands for another process.
_HOLDING: ContextVar[frozenset[int]] = ContextVar("ldh_bot_holding", default=frozenset())


class NestedUseError(StorageError):
    """The store was asked for something while the same task holds a transaction open."""


@contextmanager
def holding(store: object) -> Iterator[None]:
    """Mark the current task as holding a transaction of ``store`` until the block ends."""
    refuse_inside_transaction(store, "a transaction")
    token = _HOLDING.set(_HOLDING.get() | {id(store)})
    try:
        yield
    finally:
        _HOLDING.reset(token)


def refuse_inside_transaction(store: object, what: str) -> None:
    """Raise NestedUseError when the calling task holds a transaction of ``store`` open."""
    if id(store) in _HOLDING.get():
        msg = (
            f"{what} was asked of the store inside an open transaction; "
            "read it through the transaction instead"
        )
        raise NestedUseError(msg)


class HeldChat:
    """What every backend's transaction shares: the chat, the update's time, being open."""

    def __init__(self, chat_id: int, now: datetime) -> None:
        """Hold ``chat_id`` for an update at ``now``."""
        self._chat_id = chat_id
        self._now = utc(now)
        self._open = True
        self.enqueued = False  # set by enqueue: the store wakes the dispatcher after commit

    @property
    def chat_id(self) -> int:
        """The chat this transaction holds."""
        return self._chat_id

    @property
    def now(self) -> datetime:
        """The update's time."""
        return self._now

    def _check_saves_own(self, patient: Patient) -> None:
        """Refuse to save another chat's patient through this chat's transaction."""
        if patient.chat_id != self._chat_id:
            msg = (
                f"this transaction holds chat {chat_ref(self._chat_id)}, "
                f"not {chat_ref(patient.chat_id)}"
            )
            raise ValueError(msg)

    def _check_open(self) -> None:
        if not self._open:
            msg = "the transaction is over; open a new one"
            raise StorageError(msg)


def utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC, refusing naive datetimes whose zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"a timezone-aware datetime is required, got naive {moment!r}"
        raise ValueError(msg)
    return moment.astimezone(UTC)


def dump_json(value: JsonDict) -> str:
    """Serialise a JSON object strictly, so both backends store exactly the same documents."""
    if not isinstance(value, dict):
        msg = f"a JSON object (dict) is required, got {type(value).__name__}"
        raise TypeError(msg)
    # NaN and Infinity are not JSON; PostgreSQL would reject them, so SQLite must too.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def trim_error(error: str) -> str:
    """Cut an error text to the length kept in the outbox."""
    return error[:MAX_ERROR_LENGTH]


async def deactivate_chat(tx: Transaction) -> None:
    """Mark the held chat's patient inactive and cancel its unsent rows, inside ``tx``."""
    patient = await tx.load()
    if patient is not None and patient.active:
        patient.active = False
        await tx.save(patient)
    await tx.cancel(tx.chat_id)
