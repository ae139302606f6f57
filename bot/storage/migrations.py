"""Versioned schema of each backend: append a Migration, never edit a released one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.storage.base import SchemaTooNewError

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class Migration:
    """The statements that take a database from ``version - 1`` to ``version``."""

    version: int
    statements: tuple[str, ...]


# Times are ISO-8601 text, always UTC with microseconds, so text order is time order.
SQLITE: tuple[Migration, ...] = (
    Migration(
        1,
        (
            """CREATE TABLE patients (
                chat_id INTEGER PRIMARY KEY,
                language TEXT NOT NULL,
                session TEXT NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                revision INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE updates (
                update_id INTEGER PRIMARY KEY,
                seen_at TEXT NOT NULL
            )""",
            "CREATE INDEX updates_seen_at ON updates (seen_at)",
            # AUTOINCREMENT: ids are never reused, so a stale id in a dispatcher cannot hit
            # a newer row after the old one was forgotten.
            """CREATE TABLE outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                chat_id INTEGER NOT NULL,
                payload TEXT NOT NULL,
                due_at TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                dedupe_key TEXT,
                lease_until TEXT,
                sent_at TEXT,
                cancelled_at TEXT,
                last_error TEXT,
                created_at TEXT NOT NULL
            )""",
            # A cancelled row frees its key, so a cancelled reminder can be scheduled again.
            """CREATE UNIQUE INDEX outbox_dedupe ON outbox (dedupe_key)
                WHERE cancelled_at IS NULL""",
            """CREATE INDEX outbox_due ON outbox (due_at, id)
                WHERE sent_at IS NULL AND cancelled_at IS NULL""",
            "CREATE INDEX outbox_chat ON outbox (chat_id)",
            """CREATE TABLE events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                chat_id INTEGER NOT NULL,
                kind TEXT NOT NULL,
                data TEXT NOT NULL,
                at TEXT NOT NULL
            )""",
            "CREATE INDEX events_chat ON events (chat_id, id)",
        ),
    ),
    # Every outbox row names the chat whose transaction wrote it (``about``): a clinic
    # notification about a patient goes to the clinic's chat but is deleted with the patient.
    # Older rows take it from the payload's "patient" value, else their own chat.
    Migration(
        2,
        (
            "ALTER TABLE outbox ADD COLUMN about INTEGER",
            """UPDATE outbox SET about = coalesce(
                (SELECT CAST(value AS INTEGER) FROM json_tree(outbox.payload)
                 WHERE key IN ('patient', 'chart_of') AND value IS NOT NULL
                   AND CAST(CAST(value AS INTEGER) AS TEXT) = CAST(value AS TEXT)
                 LIMIT 1),
                chat_id)""",
            "CREATE INDEX outbox_about ON outbox (about)",
            # Retention prunes delivered rows by age and finds a patient's last activity.
            "CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL",
            "CREATE INDEX patients_updated ON patients (updated_at)",
        ),
    ),
    # The clinic's dashboard: who took and finished each queue item (an item is the
    # ``clinic_queue`` event itself, so erasing a patient's events erases their items), the
    # audit trail, and the sign-in links and sessions of staff in the browser.
    Migration(
        3,
        (
            "CREATE INDEX events_queue ON events (id) WHERE kind = 'clinic_queue'",
            """CREATE TABLE queue_state (
                event_id INTEGER PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
                taken_by INTEGER,
                taken_at TEXT,
                done_by INTEGER,
                done_at TEXT,
                note TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX queue_state_done ON queue_state (done_at)",
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at TEXT NOT NULL,
                staff_id INTEGER NOT NULL,
                action TEXT NOT NULL,
                patient INTEGER,
                detail TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX audit_at ON audit (at, id)",
            "CREATE INDEX audit_staff ON audit (staff_id, at)",
            """CREATE TABLE web_links (
                digest TEXT PRIMARY KEY,
                staff_id INTEGER NOT NULL,
                name TEXT NOT NULL DEFAULT '',
                expires_at TEXT NOT NULL,
                used_at TEXT
            )""",
            """CREATE TABLE web_sessions (
                digest TEXT PRIMARY KEY,
                staff_id INTEGER NOT NULL,
                name TEXT NOT NULL DEFAULT '',
                csrf TEXT NOT NULL,
                language TEXT,
                created_at TEXT NOT NULL,
                seen_at TEXT NOT NULL,
                ended_at TEXT
            )""",
        ),
    ),
    # Version 4 gives PostgreSQL's patients the revision SQLite's have had since version 1;
    # the numbers stay the same on both, so a version names one schema.
    Migration(4, ()),
    # Version 5 draws PostgreSQL's revisions from one sequence; SQLite's need no change.
    Migration(5, ()),
)

# A patient row with a NULL session is only a lock placeholder for a chat not saved yet.
POSTGRES: tuple[Migration, ...] = (
    Migration(
        1,
        (
            """CREATE TABLE patients (
                chat_id BIGINT PRIMARY KEY,
                language TEXT,
                session JSONB,
                active BOOLEAN NOT NULL DEFAULT TRUE,
                created_at TIMESTAMPTZ,
                updated_at TIMESTAMPTZ,
                CHECK ((session IS NULL) = (language IS NULL))
            )""",
            """CREATE TABLE updates (
                update_id BIGINT PRIMARY KEY,
                seen_at TIMESTAMPTZ NOT NULL
            )""",
            "CREATE INDEX updates_seen_at ON updates (seen_at)",
            """CREATE TABLE outbox (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                kind TEXT NOT NULL,
                chat_id BIGINT NOT NULL,
                payload JSONB NOT NULL,
                due_at TIMESTAMPTZ NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                dedupe_key TEXT,
                lease_until TIMESTAMPTZ,
                sent_at TIMESTAMPTZ,
                cancelled_at TIMESTAMPTZ,
                last_error TEXT,
                created_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE UNIQUE INDEX outbox_dedupe ON outbox (dedupe_key)
                WHERE cancelled_at IS NULL""",
            """CREATE INDEX outbox_due ON outbox (due_at, id)
                WHERE sent_at IS NULL AND cancelled_at IS NULL""",
            "CREATE INDEX outbox_chat ON outbox (chat_id)",
            """CREATE TABLE events (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                chat_id BIGINT NOT NULL,
                kind TEXT NOT NULL,
                data JSONB NOT NULL,
                at TIMESTAMPTZ NOT NULL
            )""",
            "CREATE INDEX events_chat ON events (chat_id, id)",
        ),
    ),
    Migration(
        2,
        (
            "ALTER TABLE outbox ADD COLUMN about BIGINT",
            """UPDATE outbox SET about = coalesce(
                (SELECT (found #>> '{}')::bigint
                 FROM jsonb_path_query(outbox.payload, 'lax $.**.patient') AS found
                 WHERE (found #>> '{}') ~ '^-?[0-9]{1,18}$' LIMIT 1),
                CASE WHEN jsonb_typeof(payload -> 'chart_of') = 'number'
                     THEN (payload ->> 'chart_of')::bigint END,
                chat_id)""",
            "CREATE INDEX outbox_about ON outbox (about)",
            "CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL",
            "CREATE INDEX patients_updated ON patients (updated_at)",
        ),
    ),
    Migration(
        3,
        (
            "CREATE INDEX events_queue ON events (id) WHERE kind = 'clinic_queue'",
            """CREATE TABLE queue_state (
                event_id BIGINT PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
                taken_by BIGINT,
                taken_at TIMESTAMPTZ,
                done_by BIGINT,
                done_at TIMESTAMPTZ,
                note TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX queue_state_done ON queue_state (done_at)",
            """CREATE TABLE audit (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at TIMESTAMPTZ NOT NULL,
                staff_id BIGINT NOT NULL,
                action TEXT NOT NULL,
                patient BIGINT,
                detail TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX audit_at ON audit (at, id)",
            "CREATE INDEX audit_staff ON audit (staff_id, at)",
            """CREATE TABLE web_links (
                digest TEXT PRIMARY KEY,
                staff_id BIGINT NOT NULL,
                name TEXT NOT NULL DEFAULT '',
                expires_at TIMESTAMPTZ NOT NULL,
                used_at TIMESTAMPTZ
            )""",
            """CREATE TABLE web_sessions (
                digest TEXT PRIMARY KEY,
                staff_id BIGINT NOT NULL,
                name TEXT NOT NULL DEFAULT '',
                csrf TEXT NOT NULL,
                language TEXT,
                created_at TIMESTAMPTZ NOT NULL,
                seen_at TIMESTAMPTZ NOT NULL,
                ended_at TIMESTAMPTZ
            )""",
        ),
    ),
    # Every change to a patient counts up its revision, so an update that read the patient
    # without holding the row can write in one statement that checks nobody changed it
    # meanwhile. A trigger counts, so that no writer can forget to: an instance of an older
    # release during a rolling upgrade, or an operator's own UPDATE. OR REPLACE: tables dropped
    # under a running bot leave their functions behind, and the store migrates again.
    Migration(
        4,
        (
            "ALTER TABLE patients ADD COLUMN revision BIGINT NOT NULL DEFAULT 1",
            """CREATE OR REPLACE FUNCTION ldh_patients_revision() RETURNS trigger
               LANGUAGE plpgsql AS $$
               BEGIN
                   NEW.revision := OLD.revision + 1;
                   RETURN NEW;
               END $$""",
            """CREATE TRIGGER patients_revision BEFORE UPDATE ON patients
               FOR EACH ROW EXECUTE FUNCTION ldh_patients_revision()""",
        ),
    ),
    # A process may keep the revision it last wrote and write against it much later (see
    # postgres/recent.py). Counting per row, a chat deleted and started again would reach that
    # number again with another session in it; drawn from one sequence, a revision is never
    # given twice. The sequence starts above every revision already given.
    Migration(
        5,
        (
            # Owned by the column, so it goes with the table; IF NOT EXISTS all the same, as
            # the trigger's function is OR REPLACE (see version 4).
            "CREATE SEQUENCE IF NOT EXISTS patients_revision AS BIGINT OWNED BY patients.revision",
            """SELECT setval('patients_revision', coalesce(max(revision), 0) + 1, FALSE)
               FROM patients""",
            "ALTER TABLE patients ALTER COLUMN revision SET DEFAULT nextval('patients_revision')",
            """CREATE OR REPLACE FUNCTION ldh_patients_revision() RETURNS trigger
               LANGUAGE plpgsql AS $$
               BEGIN
                   NEW.revision := nextval('patients_revision');
                   RETURN NEW;
               END $$""",
        ),
    ),
)


def check_sequence(migrations: Sequence[Migration]) -> None:
    """Refuse a list whose versions are not 1, 2, 3, ... in order."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            msg = f"migration {migration.version} found where version {expected} belongs"
            raise ValueError(msg)


def pending(migrations: Sequence[Migration], current: int) -> list[Migration]:
    """Return the migrations a database at ``current`` still needs; refuse a newer database."""
    check_sequence(migrations)
    latest = len(migrations)
    if current > latest:
        msg = (
            f"the database is at schema version {current}, but this code knows only up to "
            f"version {latest}; run a release at least as new as the one that migrated it"
        )
        raise SchemaTooNewError(msg)
    return [m for m in migrations if m.version > current]
