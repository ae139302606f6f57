"""The audit trail: what each member of staff did, and when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.storage.base import StorageError
from bot.storage.dashboard_tables.runner import OnRunner

if TYPE_CHECKING:
    from datetime import datetime


@dataclass(frozen=True)
class AuditRow:
    """One line of the audit trail."""

    id: int
    at: datetime
    staff_id: int
    action: str
    patient: int | None
    detail: str


class AuditTrail(OnRunner):
    """Appends to the audit trail, and reads it a page at a time."""

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
