"""A patient's pain chart from their stored history, drawn off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.clinical.chart import pain_chart, pain_points
from bot.storage.base import Store

Charts = Callable[[int], Awaitable[bytes | None]]


async def patient_chart(store: Store, chat_id: int) -> bytes | None:
    """The PNG of the patient's latest course, or None when they never gave a pain score."""
    points = pain_points(await store.events(chat_id))
    if not points:
        return None
    # Drawing takes tens of milliseconds of CPU: a thread keeps other chats answered meanwhile.
    return await asyncio.to_thread(pain_chart, points, baseline=points[0][1])


def chart_source(store: Store) -> Charts:
    """``patient_chart`` bound to a store, for senders that attach charts to messages."""

    async def chart(chat_id: int) -> bytes | None:
        return await patient_chart(store, chat_id)

    return chart
