"""The dashboard's own tables on either backend: queue state, audit, sign-in links, sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.storage.dashboard_tables.audit import AuditRow, AuditTrail
from bot.storage.dashboard_tables.patients import PatientQuery, PatientRow, PatientTables
from bot.storage.dashboard_tables.queue import QUEUE_EVENT, QueueHead, QueueRow, QueueTable
from bot.storage.dashboard_tables.runner import open_runner
from bot.storage.dashboard_tables.signin import SessionRow, SignInTables, Staff

if TYPE_CHECKING:
    from bot.storage.base import Store

__all__ = ["QUEUE_EVENT", "AuditRow", "DashboardTables", "PatientQuery", "PatientRow",
           "QueueHead", "QueueRow", "SessionRow", "Staff", "open_tables"]


class DashboardTables(QueueTable, PatientTables, AuditTrail, SignInTables):
    """Reads and writes of the dashboard's tables; open with ``open_tables``."""

    async def close(self) -> None:
        """Release the connections opened for the tables."""
        await self._run.close()


async def open_tables(store: Store, database_url: str | None = None) -> DashboardTables:
    """The dashboard's tables on the database of an open ``store``."""
    return DashboardTables(await open_runner(store, database_url))
