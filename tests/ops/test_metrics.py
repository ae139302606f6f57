"""The metrics count where things happen: updates, errors, outbox rows due and sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.ops import metrics
from bot.reminders.dispatcher import Dispatcher
from bot.reminders.sending import Gate, Outcome, Verdict
from bot.storage import OutboxItem, Store

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_update_is_counted_and_timed_even_when_it_fails() -> None:
    handled, timed = sample("ldh_updates_handled_total"), sample("ldh_update_seconds_count")
    with metrics.handling_update():
        pass
    with pytest.raises(RuntimeError), metrics.handling_update():
        raise RuntimeError
    assert sample("ldh_updates_handled_total") == handled + 2
    assert sample("ldh_update_seconds_count") == timed + 2


def test_every_error_kind_is_shown_from_the_start_and_counted() -> None:
    for kind in metrics.ERROR_KINDS:
        assert metrics.REGISTRY.get_sample_value("ldh_errors_total", {"kind": kind}) is not None
    before = sample("ldh_errors_total", kind="storage")
    metrics.error("storage")
    assert sample("ldh_errors_total", kind="storage") == before + 1


class _Sends:
    """Accepts every row, through the dispatcher's gate like a real sender."""

    async def send(self, item: OutboxItem, gate: Gate, skip: int) -> Outcome:
        del item, skip
        await gate()
        return Outcome(Verdict.SENT, 1)


async def test_due_and_sent_outbox_rows_are_counted_by_kind(store: Store) -> None:
    async with store.transaction(0, NOW) as tx:
        for chat in (1, 2, 3):
            await tx.enqueue("ops_test_reminder", chat, {"chat": chat}, NOW - timedelta(hours=1))
    due = sample("ldh_reminders_due_total", kind="ops_test_reminder")
    sent = sample("ldh_reminders_sent_total", kind="ops_test_reminder")

    await Dispatcher(store, _Sends(), clock=lambda: NOW).drain()

    assert sample("ldh_reminders_due_total", kind="ops_test_reminder") == due + 3
    assert sample("ldh_reminders_sent_total", kind="ops_test_reminder") == sent + 3


async def test_a_dispatcher_says_whether_it_runs(store: Store) -> None:
    dispatcher = Dispatcher(store, _Sends(), clock=lambda: NOW)
    assert not dispatcher.running
    dispatcher.start()
    await asyncio.sleep(0)
    assert dispatcher.running
    await dispatcher.stop()
    assert not dispatcher.running
