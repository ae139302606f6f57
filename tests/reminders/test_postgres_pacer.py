"""The sending budget shared through PostgreSQL: two pacers on one database pace as one."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from support.storage_backends import PostgresBackend, postgres_backend

from bot.reminders.pacing import (
    CHAT_BURST,
    RATE_MARGIN,
    REMINDER_HORIZON,
    SAFE_CHAT_INTERVAL,
    burst_allowance,
)
from bot.reminders.postgres_pacer import PostgresPacer

RATE = 30.0


@pytest.fixture
async def database() -> AsyncIterator[PostgresBackend]:
    async with postgres_backend() as backend:
        yield backend


@pytest.fixture
async def pacers(database: PostgresBackend) -> AsyncIterator[list[PostgresPacer]]:
    """Two pacers, as two processes would have, on one database."""
    opened = [PostgresPacer(database.url, RATE) for _ in range(2)]
    for pacer in opened:
        await pacer.open()
    yield opened
    for pacer in opened:
        await pacer.close()


async def _slots(database: PostgresBackend) -> list[int]:
    return [int(r[0]) for r in await database.sql("SELECT slot FROM pacer_slots ORDER BY slot")]


async def test_two_processes_never_book_the_same_moment(
    pacers: list[PostgresPacer], database: PostgresBackend
) -> None:
    # 60 messages to 60 chats, booked from both pacers at once.
    await asyncio.gather(*(pacers[n % 2].book(n, urgent=True) for n in range(60)))
    slots = await _slots(database)
    assert len(slots) == len(set(slots)) == 60
    # One slot holds one message and is 1/(RATE x RATE_MARGIN) s wide: a margin under RATE.
    assert max(slots) - min(slots) >= 59
    seconds = sorted(slot / (RATE * RATE_MARGIN) for slot in slots)
    assert seconds[29] - seconds[0] >= 1.0  # 30 messages never fit in one second


async def test_a_chat_gets_a_short_burst_then_about_one_a_second(
    pacers: list[PostgresPacer],
) -> None:
    waits = [await pacers[n % 2].book(7, urgent=True) for n in range(CHAT_BURST + 2)]
    assert all(w is not None for w in waits)
    burst, later = waits[:CHAT_BURST], waits[CHAT_BURST:]
    assert max(w or 0 for w in burst) < 0.5
    # Waits are measured from each call, made a few milliseconds apart: each message goes at
    # its even-pace moment less the burst allowance (a little short of Telegram's, for jitter).
    allowance = burst_allowance(CHAT_BURST, SAFE_CHAT_INTERVAL)
    assert [round(w or 0, 1) for w in later] == pytest.approx(
        [n * SAFE_CHAT_INTERVAL - allowance for n in (CHAT_BURST, CHAT_BURST + 1)], abs=0.15)


async def test_a_reminder_books_only_a_near_moment_and_a_reply_always_gets_one(
    pacers: list[PostgresPacer],
) -> None:
    # Fill the next few tenths of a second with replies to other chats.
    for chat in range(100, 100 + round(RATE * (REMINDER_HORIZON + 0.5))):
        await pacers[0].book(chat, urgent=True)
    assert await pacers[1].book(1, urgent=False) is None  # nothing near: the reminder waits
    reply = await pacers[1].book(2, urgent=True)
    assert reply is not None
    assert reply > REMINDER_HORIZON  # the first free moment, after the others


async def test_a_429_holds_the_chat_in_every_process_and_no_other_chat(
    pacers: list[PostgresPacer],
) -> None:
    await pacers[0].hold(5, 20.0)
    assert await pacers[1].ready_in(5) >= 20.0 - 0.5
    held = await pacers[1].book(5, urgent=True)
    assert held is not None
    assert held >= 20.0 - 0.5
    assert await pacers[1].book(6, urgent=False) is not None  # another chat goes at once
    assert await pacers[1].book(5, urgent=False) is None


async def test_old_slots_are_swept(pacers: list[PostgresPacer], database: PostgresBackend) -> None:
    await database.sql("INSERT INTO pacer_slots SELECT generate_series(1, 1000)")
    for chat in itertools.islice(itertools.count(1), 200):
        await pacers[0].book(chat, urgent=True)
    assert min(await _slots(database)) > 1000


async def test_the_pacing_objects_come_back_after_the_database_is_emptied(
    pacers: list[PostgresPacer], database: PostgresBackend
) -> None:
    # What a database dropped and re-created under running processes looks like to them.
    tables = await database.sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    await database.sql(f"DROP TABLE {', '.join(name for (name,) in tables)}")
    await database.sql("DROP FUNCTION ldh_pace_book, ldh_pace_hold")
    assert await pacers[0].book(1, urgent=True) == pytest.approx(0.0, abs=0.05)
    await pacers[1].hold(2, 5.0)
    assert await pacers[1].ready_in(2) >= 4.5
    # The same path that migrates the store ran: its tables are back too.
    assert await database.sql("SELECT count(*) FROM patients") == [(0,)]
