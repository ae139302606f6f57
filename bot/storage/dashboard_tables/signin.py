"""Signing in to the dashboard: one-time links (kept as digests) and browser sessions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.storage.dashboard_tables.runner import OnRunner

if TYPE_CHECKING:
    from datetime import datetime


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


class SignInTables(OnRunner):
    """Sign-in links and sessions: kept, used, touched, ended and pruned."""

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
