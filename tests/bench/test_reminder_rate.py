"""The dispatch measurement the benchmark calls: it runs, and the limits it enforces bite."""

from __future__ import annotations

from bot.bench.reminder_rate import StrictTelegram, measure_dispatch


async def test_a_small_backlog_drains_with_patients_chatting_and_no_429() -> None:
    figures = await measure_dispatch(reminders=40, patients=3)
    assert figures.reminders == 40
    assert figures.reminders_429 == 0
    assert figures.reminders_per_s > 0


def test_the_stand_in_refuses_beyond_its_limits() -> None:
    telegram = StrictTelegram(rate=5)
    answers = [telegram.send(chat, "reminder") for chat in range(6)]
    assert answers[:5] == [None] * 5
    assert answers[5] == 1.0  # the sixth in the same instant: retry after a second
    one_chat = StrictTelegram(rate=30)
    burst = [one_chat.send(7, "reply") for _ in range(4)]
    assert burst == [None, None, None, 1.0]  # three at once to a chat, then one a second
    assert one_chat.refused == {"reminder": 0, "reply": 1}
