"""Patients with their events in one query per backend: the SQL of ``Store.records`` and its rows.

Each patient comes back as one row whose events are aggregated into a JSON array by a
correlated subquery on the ``events_chat`` index, so a cursor over it yields whole patients
(never one query per patient, never a patient split across batches).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.storage.base import Event, Patient, PatientRecord, RecordQuery, utc

if TYPE_CHECKING:
    import sqlite3

    from psycopg.rows import TupleRow


def _filters(query: RecordQuery, mark: str) -> tuple[str, list[Any]]:
    """The WHERE clauses on ``patients p`` and their parameters, in order."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.chat_id is not None:
        clauses.append(f"p.chat_id = {mark}")
        params.append(query.chat_id)
    if query.after is not None:
        clauses.append(f"p.chat_id > {mark}")
        params.append(query.after)
    return "".join(f" AND {clause}" for clause in clauses), params


def _kinds(query: RecordQuery, mark: str) -> tuple[str, list[Any]]:
    if query.kinds is None:
        return "", []
    kinds = sorted(query.kinds)
    if not kinds:
        return " AND FALSE", []
    return f" AND e.kind IN ({', '.join([mark] * len(kinds))})", list(kinds)


def _limit(query: RecordQuery, mark: str) -> tuple[str, list[Any]]:
    return ("", []) if query.limit is None else (f" LIMIT {mark}", [max(query.limit, 0)])


def sqlite_sql(query: RecordQuery) -> tuple[str, list[Any]]:
    """The SQLite statement of ``query`` and its parameters."""
    without = query.session_without
    session = (f"json_remove(p.session{', ?' * len(without)})" if without else "p.session")
    session_params = [f'$."{key}"' for key in without]
    kinds, kind_params = _kinds(query, "?")
    where, where_params = _filters(query, "?")
    limit, limit_params = _limit(query, "?")
    # The inner ORDER BY orders the aggregate: SQLite feeds an ordered subquery through as is.
    sql = f"""SELECT p.chat_id, p.language, {session}, p.active, p.created_at, p.updated_at,
                  (SELECT json_group_array(json_array(e.id, e.kind, json(e.data), e.at))
                   FROM (SELECT id, kind, data, at FROM events e
                         WHERE e.chat_id = p.chat_id{kinds} ORDER BY e.id) e) AS events
              FROM patients p WHERE 1 = 1{where} ORDER BY p.chat_id{limit}"""  # noqa: S608 -- placeholders only
    return sql, [*session_params, *kind_params, *where_params, *limit_params]


def postgres_sql(query: RecordQuery) -> tuple[str, list[Any]]:
    """The PostgreSQL statement of ``query`` and its parameters."""
    without = list(query.session_without)
    session = "p.session - %s::text[]" if without else "p.session"
    session_params = [without] if without else []
    kinds, kind_params = _kinds(query, "%s")
    where, where_params = _filters(query, "%s")
    limit, limit_params = _limit(query, "%s")
    sql = f"""SELECT p.chat_id, p.language, {session}, p.active, p.created_at, p.updated_at,
                  (SELECT json_agg(json_build_array(e.id, e.kind, e.data, e.at) ORDER BY e.id)
                   FROM events e WHERE e.chat_id = p.chat_id{kinds}) AS events
              FROM patients p WHERE p.session IS NOT NULL{where}
              ORDER BY p.chat_id{limit}"""  # noqa: S608 -- placeholders only
    return sql, [*session_params, *kind_params, *where_params, *limit_params]


def _events(chat_id: int, raw: list[list[Any]] | None) -> tuple[Event, ...]:
    return tuple(Event(event_id, chat_id, kind, data, utc(datetime.fromisoformat(at)))
                 for event_id, kind, data, at in raw or ())


def sqlite_record(row: sqlite3.Row | tuple[Any, ...]) -> PatientRecord:
    """A record from a row of ``sqlite_sql``: texts and one JSON text of events, parsed here."""
    chat_id, language, session, active, created_at, updated_at, events = tuple(row)
    patient = Patient(chat_id, language, json.loads(session), bool(active),
                      datetime.fromisoformat(created_at), datetime.fromisoformat(updated_at))
    return PatientRecord(patient, _events(chat_id, json.loads(events)))


def postgres_record(row: TupleRow) -> PatientRecord:
    """A record from a row of ``postgres_sql``: psycopg has already parsed JSON and times."""
    chat_id, language, session, active, created_at, updated_at, events = row
    patient = Patient(chat_id, language, session, active, utc(created_at), utc(updated_at))
    return PatientRecord(patient, _events(chat_id, events))
