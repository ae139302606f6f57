"""Patients as the dashboard lists and finds them: one record, a filtered page, contacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.storage.base import Patient
from bot.storage.dashboard_tables.queue import QUEUE_EVENT
from bot.storage.dashboard_tables.runner import OnRunner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime


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


class PatientTables(OnRunner):
    """Reads of patients for the dashboard's lists and pages."""

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


def _like_escaped(term: str) -> str:
    """A search term matched literally by LIKE (its wildcards escaped)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
