"""Long polling's bookkeeping: each update in its own task, a chat's in order, confirmed late."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Update

from bot.channels.telegram.polling import _InFlight


def _update(update_id: int, chat_id: int) -> Update:
    return Update.de_json({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": "hi",
        "chat": {"id": chat_id, "type": "private"},
    }}, None)


class _App:
    """Handles an update when the test releases it, and records the order."""

    def __init__(self) -> None:
        self.release: dict[int, asyncio.Event] = {}
        self.handled: list[int] = []

    async def process_update(self, update: Update) -> None:
        await self.release.setdefault(update.update_id, asyncio.Event()).wait()
        self.handled.append(update.update_id)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_slow_update_holds_its_chat_only_and_is_confirmed_last() -> None:
    app = _App()
    flight = _InFlight(app)  # type: ignore[arg-type]  # only process_update is used
    slow, other, later = _update(10, 1), _update(11, 2), _update(12, 1)
    assert all(flight.start(u) for u in (slow, other, later))
    app.release.setdefault(11, asyncio.Event()).set()
    app.release.setdefault(12, asyncio.Event()).set()
    await _settle()

    assert app.handled == [11]  # chat 2 went ahead; chat 1's second update waits for its first
    assert flight.offset(12) == 10  # update 10 is unfinished: Telegram keeps it (and what follows)
    assert not flight.start(other)  # sent again with the next batch, but handled already
    assert not flight.start(slow)  # in hand

    app.release[10].set()
    await _settle()
    assert app.handled == [11, 10, 12]
    assert flight.offset(12) == 13  # everything done: confirm it all


async def test_a_failed_update_does_not_stop_the_next_of_its_chat() -> None:
    class Failing(_App):
        async def process_update(self, update: Update) -> Any:
            if update.update_id == 1:
                raise RuntimeError
            self.handled.append(update.update_id)

    app = Failing()
    flight = _InFlight(app)  # type: ignore[arg-type]  # only process_update is used
    flight.start(_update(1, 5))
    flight.start(_update(2, 5))
    await _settle()
    assert app.handled == [2]
    assert flight.offset(2) == 3
