"""Signing staff in without passwords: one-time links from the bot, sessions kept in the database.

A link is valid for ten minutes, once, for the staff id it was made for; only its SHA-256 digest
is stored, as is a session's. A session ends when signed out, after 30 idle minutes, after 8
hours in all, or at once when its staff id leaves the staff list.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage.dashboard_tables import DashboardTables, SessionRow, Staff

LINK_VALID = timedelta(minutes=10)
IDLE_LIMIT = timedelta(minutes=30)
ABSOLUTE_LIMIT = timedelta(hours=8)
TOKEN_BYTES = 32


def digest(token: str) -> str:
    """What is stored of a link or session token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Signed:
    """A signed-in person: staff id, the session's digest, its CSRF token, language and name."""

    staff_id: int
    session: str
    csrf: str
    language: str | None
    name: str = ""

    @property
    def shown(self) -> str:
        """How pages name them."""
        return Staff(self.staff_id, self.name).shown


class RateLimit:
    """At most ``limit`` events per key within ``window`` seconds (kept in this process)."""

    def __init__(self, limit: int, window: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """Allow ``limit`` per ``window`` seconds."""
        self.limit = limit
        self.window = window
        self.monotonic = monotonic
        self._seen: dict[object, deque[float]] = {}

    def allow(self, key: object) -> bool:
        """Count one event for ``key``; False when it is over the limit."""
        now = self.monotonic()
        seen = self._seen.setdefault(key, deque())
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        if len(self._seen) > 10_000:  # noqa: PLR2004  # keys never seen again are dropped
            self._seen = {k: v for k, v in self._seen.items() if v}
        return True


class SignIn:
    """Links, sessions and the checks made on every request."""

    def __init__(self, tables: DashboardTables, staff_ids: Collection[int]) -> None:
        """Sign in only ``staff_ids``, keeping links and sessions in ``tables``."""
        self.tables = tables
        self.staff_ids = frozenset(staff_ids)
        self.link_requests = RateLimit(5, 600.0)  # per staff id: five links in ten minutes
        # Per client address: sign-in pages and posts (a clinic's staff may share one address).
        self.attempts = RateLimit(60, 600.0)

    async def new_link(self, staff_id: int, now: datetime, name: str = "") -> str | None:
        """A new one-time token for ``staff_id``; None for anyone not staff or asking too often."""
        if staff_id not in self.staff_ids or not self.link_requests.allow(staff_id):
            return None
        token = secrets.token_urlsafe(TOKEN_BYTES)
        await self.tables.add_link(digest(token), staff_id, now + LINK_VALID, name[:100])
        return token

    async def peek(self, token: str, now: datetime) -> Staff | None:
        """Who a link would sign in, consuming nothing; None when it cannot be used."""
        staff = await self.tables.peek_link(digest(token), now)
        return staff if staff is not None and staff.id in self.staff_ids else None

    async def sign_in(self, token: str, now: datetime, language: str | None,
                      ) -> tuple[str, Signed] | None:
        """Use a link once: a fresh session id and the signed-in person; None if it cannot."""
        staff = await self.tables.use_link(digest(token), now)
        if staff is None or staff.id not in self.staff_ids:
            return None
        session, csrf = secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES)
        await self.tables.add_session(digest(session), staff, csrf, language, now)
        return session, Signed(staff.id, digest(session), csrf, language, staff.name)

    async def check(self, session: str, now: datetime, *, active: bool = True) -> Signed | None:
        """The person a session cookie signs in now; None (and the session ended) when not.

        ``active`` is False for what a page does by itself (the queue's refresh): it does not
        count as the person's activity, so an unattended screen still times out.
        """
        key = digest(session)
        row = await self.tables.session(key)
        if row is None or row.ended_at is not None:
            return None
        if not self._still_valid(row, now):
            await self.tables.end_session(key, now)
            return None
        if active:
            await self.tables.touch_session(key, now)
        return Signed(row.staff_id, key, row.csrf, row.language, row.name)

    def _still_valid(self, row: SessionRow, now: datetime) -> bool:
        return (row.staff_id in self.staff_ids and now - row.seen_at < IDLE_LIMIT
                and now - row.created_at < ABSOLUTE_LIMIT)

    async def sign_out(self, signed: Signed, now: datetime) -> None:
        """End the session."""
        await self.tables.end_session(signed.session, now)


def same_token(given: str | None, expected: str) -> bool:
    """Whether a form's CSRF token is the session's, compared in constant time."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
