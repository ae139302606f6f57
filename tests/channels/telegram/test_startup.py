"""Reaching Telegram at start: retried with back-off while unreachable, never for a bad token."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from support.botapi_standin import StandIn
from telegram import Bot
from telegram.error import InvalidToken

from bot.channels.telegram.startup import MAX_RETRY, wait_for_telegram


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Pauses:
    """Records each pause instead of sleeping, and stops the wait after ``limit`` of them."""

    def __init__(self, stop: asyncio.Event, limit: int) -> None:
        self.stop = stop
        self.limit = limit
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)
        if len(self.taken) >= self.limit:
            self.stop.set()


async def test_an_unreachable_telegram_is_retried_with_doubling_pauses_up_to_a_minute() -> None:
    stop = asyncio.Event()
    pauses = Pauses(stop, limit=8)
    bot = Bot("123:abc", base_url=f"http://127.0.0.1:{_closed_port()}/bot")
    try:
        reached = await wait_for_telegram(bot, stop, pauses)
    finally:
        await bot.shutdown()
    assert not reached
    assert pauses.taken == [1, 2, 4, 8, 16, 32, MAX_RETRY, MAX_RETRY]


async def test_a_reachable_telegram_is_used_at_once(standin: StandIn) -> None:
    stop = asyncio.Event()
    pauses = Pauses(stop, limit=1)
    async with Bot(standin.token, base_url=standin.base_url) as bot:
        assert await wait_for_telegram(bot, stop, pauses)
    assert pauses.taken == []


async def test_a_refused_token_is_not_retried(standin: StandIn) -> None:
    stop = asyncio.Event()
    pauses = Pauses(stop, limit=1)
    bot = Bot("123:wrong", base_url=standin.base_url)
    try:
        with pytest.raises(InvalidToken):
            await wait_for_telegram(bot, stop, pauses)
    finally:
        await bot.shutdown()
    assert pauses.taken == []
