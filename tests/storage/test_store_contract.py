"""The Store contract, the same for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from contextvars import Context
from datetime import UTC, datetime, timedelta, timezone

import pytest
from support.storage_backends import T0, Backend

from bot.logsafe import chat_ref
from bot.storage import Patient, StorageError, Store
from bot.storage.base import Forgotten, NestedUseError

LEASE = timedelta(minutes=5)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


async def enqueue(store: Store, chat_id: int, due: datetime, dedupe_key: str | None = None) -> None:
    async with store.transaction(chat_id, T0) as tx:
        await tx.enqueue("reminder", chat_id, {"n": 1}, due, dedupe_key)


async def test_unknown_chat_loads_none(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        assert await tx.load() is None


async def test_save_and_load_round_trip(store: Store) -> None:
    session = {"state": "ask_pain", "facts": {"leg_pain": 7, "red_flags": []}, "note": "腰痛"}
    async with store.transaction(42, T0) as tx:
        await tx.save(Patient(42, "zh", session))
    async with store.transaction(42, minutes(5)) as tx:
        patient = await tx.load()
        assert patient == Patient(42, "zh", session, active=True, created_at=T0, updated_at=T0)
        assert patient.created_at is not None
        assert patient.created_at.tzinfo is not None
        patient.session["state"] = "done"
        patient.active = False
        await tx.save(patient)
    async with store.transaction(42, minutes(10)) as tx:
        again = await tx.load()
    assert again == Patient(
        42, "zh", {**session, "state": "done"}, active=False, created_at=T0, updated_at=minutes(5)
    )


STORED_A = Patient(1, "en", {"state": "a"}, created_at=T0, updated_at=T0)


async def test_save_keeps_the_session_as_it_was_at_save(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        patient = Patient(1, "en", {"state": "a"})
        await tx.save(patient)
        patient.session["state"] = "changed after save"
        assert (await tx.load()) == STORED_A
    async with store.transaction(1, T0) as tx:
        assert (await tx.load()) == STORED_A


async def test_a_transaction_sees_its_own_writes(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {"step": 1}))
        await tx.save(Patient(1, "en", {"step": 2}))
        loaded = await tx.load()
        assert loaded is not None
        assert loaded.session == {"step": 2}
        await tx.forget()
        assert await tx.load() is None
        await tx.save(Patient(1, "zh", {"step": 3}))
    async with store.transaction(1, T0) as tx:
        loaded = await tx.load()
    assert loaded is not None
    assert (loaded.language, loaded.session) == ("zh", {"step": 3})


async def test_save_refuses_another_chat_and_non_json(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        with pytest.raises(ValueError, match=f"holds chat {chat_ref(1)}, not {chat_ref(2)}"):
            await tx.save(Patient(2, "en", {}))
        with pytest.raises(ValueError, match="Out of range float"):
            await tx.save(Patient(1, "en", {"x": float("nan")}))
        with pytest.raises(TypeError):
            await tx.save(Patient(1, "en", {"x": object()}))


async def test_first_time_dedupes_update_ids(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        assert await tx.first_time(1000)
        assert not await tx.first_time(1000)
    async with store.transaction(1, T0) as tx:
        assert not await tx.first_time(1000)
        assert await tx.first_time(1001)


async def test_first_time_survives_a_reopen(backend: Backend) -> None:
    store = await backend.open()
    async with store.transaction(1, T0) as tx:
        assert await tx.first_time(7)
    await store.close()
    reopened = await backend.open()
    async with reopened.transaction(1, T0) as tx:
        assert not await tx.first_time(7)


async def test_an_exception_rolls_everything_back(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {"state": "before"}))

    async def failing_update() -> None:
        async with store.transaction(1, minutes(1)) as tx:
            assert await tx.first_time(55)
            await tx.save(Patient(1, "en", {"state": "after"}))
            await tx.enqueue("reminder", 1, {}, minutes(1))
            await tx.enqueue("clinic", 999, {}, minutes(1), dedupe_key="k")
            await tx.record_event("answer", {"q": "pain"})
            assert await tx.cancel(1) >= 1
            msg = "engine failed"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="engine failed"):
        await failing_update()
    async with store.transaction(1, minutes(2)) as tx:
        loaded = await tx.load()
        assert loaded is not None
        assert loaded.session == {"state": "before"}
        # The failed update was not recorded, so Telegram's redelivery is processed.
        assert await tx.first_time(55)
    assert await store.claim_due(minutes(10), 10, LEASE) == []
    assert await store.events(1) == []


async def test_outbox_rows_commit_with_the_session(store: Store, backend: Backend) -> None:
    dispatcher = await backend.open()  # as another process would see the table
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {"state": "scheduled"}))
        await tx.enqueue("checkin", 1, {"week": 2}, T0)
        # Not visible outside until the update commits.
        assert await dispatcher.claim_due(minutes(1), 10, LEASE) == []
    [item] = await store.claim_due(minutes(1), 10, LEASE)
    assert (item.kind, item.chat_id, item.payload, item.due_at) == ("checkin", 1, {"week": 2}, T0)
    assert item.attempts == 1
    assert item.dedupe_key is None


async def test_dedupe_key_keeps_one_row(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.enqueue("checkin", 1, {"v": 1}, T0, dedupe_key="checkin:1:w2")
        await tx.enqueue("checkin", 1, {"v": 2}, T0, dedupe_key="checkin:1:w2")
    await enqueue(store, 1, T0, dedupe_key="checkin:1:w2")
    items = await store.claim_due(minutes(1), 10, LEASE)
    assert [i.payload for i in items] == [{"v": 1}]
    # A sent row still holds its key: the same message is not sent twice.
    await store.mark_sent(items[0].id, minutes(1))
    await enqueue(store, 1, T0, dedupe_key="checkin:1:w2")
    assert await store.claim_due(minutes(20), 10, LEASE) == []


async def test_a_cancelled_row_frees_its_dedupe_key(store: Store) -> None:
    await enqueue(store, 1, T0, dedupe_key="k")
    async with store.transaction(1, T0) as tx:
        assert await tx.cancel(1) == 1
        await tx.enqueue("reminder", 1, {"again": True}, T0, dedupe_key="k")
    [item] = await store.claim_due(minutes(1), 10, LEASE)
    assert item.payload == {"again": True}


async def test_claim_due_orders_by_due_time_and_limits(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.enqueue("r", 1, {"name": "second"}, minutes(2))
        await tx.enqueue("r", 1, {"name": "first"}, minutes(1))
        await tx.enqueue("r", 2, {"name": "third"}, minutes(2))
        await tx.enqueue("r", 1, {"name": "future"}, minutes(60))
    first = await store.claim_due(minutes(3), 2, LEASE)
    assert [i.payload["name"] for i in first] == ["first", "second"]
    rest = await store.claim_due(minutes(3), 2, LEASE)
    assert [i.payload["name"] for i in rest] == ["third"]
    assert await store.claim_due(minutes(3), 2, LEASE) == []
    assert await store.claim_due(minutes(3), 0, LEASE) == []


async def test_a_leased_row_is_reclaimed_only_after_its_lease(store: Store) -> None:
    await enqueue(store, 1, T0)
    [item] = await store.claim_due(T0, 10, LEASE)
    assert await store.claim_due(T0 + LEASE - timedelta(microseconds=1), 10, LEASE) == []
    [again] = await store.claim_due(T0 + LEASE, 10, LEASE)
    assert again.id == item.id
    assert again.attempts == 2


async def test_only_the_latest_claim_may_renew_its_lease(store: Store) -> None:
    await enqueue(store, 1, T0)
    [first] = await store.claim_due(T0, 10, LEASE)
    assert await store.renew(first, T0 + LEASE + timedelta(seconds=5))
    # The renewed lease holds the row past the first lease's end.
    assert await store.claim_due(T0 + LEASE, 10, LEASE) == []
    [second] = await store.claim_due(T0 + LEASE + timedelta(seconds=5), 10, LEASE)
    assert second.id == first.id
    # The first claim's lease ran out and the row was claimed again: the fence shuts it out.
    assert not await store.renew(first, minutes(5))
    assert await store.renew(second, minutes(5))
    await store.mark_sent(second.id, minutes(2))
    assert not await store.renew(second, minutes(10))


async def test_a_transaction_that_enqueued_calls_the_listener_after_commit(store: Store) -> None:
    calls: list[str] = []
    store.on_enqueued(lambda: calls.append("woken"))
    async with store.transaction(1, T0) as tx:
        await tx.first_time(501)
    assert calls == []  # nothing queued: nothing to wake
    async with store.transaction(1, T0) as tx:
        await tx.enqueue("checkin", 1, {"n": 1}, T0)
        assert calls == []  # not before the row is visible to a claim
    assert calls == ["woken"]
    with pytest.raises(RuntimeError):  # noqa: PT012  # the failure must come after the enqueue
        async with store.transaction(1, T0) as tx:
            await tx.enqueue("checkin", 1, {"n": 2}, T0)
            raise RuntimeError
    assert calls == ["woken"]  # rolled back: nothing was queued


async def test_a_sent_row_is_never_claimed_again(store: Store) -> None:
    await enqueue(store, 1, T0)
    [item] = await store.claim_due(T0, 10, LEASE)
    await store.mark_sent(item.id, minutes(1))
    assert await store.claim_due(minutes(60 * 24 * 365), 10, LEASE) == []
    # A late retry after delivery must not resurrect the row.
    await store.retry_later(item.id, minutes(2), "late failure")
    assert await store.claim_due(minutes(60 * 24 * 365), 10, LEASE) == []


async def test_retry_later_releases_the_row_until_its_new_time(store: Store) -> None:
    await enqueue(store, 1, T0)
    [item] = await store.claim_due(T0, 10, LEASE)
    await store.retry_later(item.id, minutes(30), "429 Too Many Requests " * 500)
    assert await store.claim_due(minutes(29), 10, LEASE) == []
    [again] = await store.claim_due(minutes(30), 10, LEASE)
    assert (again.id, again.due_at, again.attempts) == (item.id, minutes(30), 2)


async def test_a_retired_row_is_never_claimed_again_and_keeps_its_error(
    backend: Backend,
) -> None:
    store = await backend.open()
    await enqueue(store, 1, T0, dedupe_key="k")
    await enqueue(store, 1, T0)
    first, second = await store.claim_due(T0, 10, LEASE)
    await store.retire(first.id, minutes(1), "BadRequest: chat not found " * 100)
    await store.mark_sent(second.id, minutes(1))
    await store.retire(second.id, minutes(2), "a late refusal cannot undo a delivery")
    assert await store.claim_due(minutes(60 * 24 * 365), 10, LEASE) == []
    rows = await backend.sql(
        "SELECT id, sent_at IS NOT NULL, cancelled_at IS NOT NULL, length(last_error) "
        "FROM outbox ORDER BY id"
    )
    assert [(r[0], bool(r[1]), bool(r[2]), r[3]) for r in rows] == [
        (first.id, False, True, 1000),
        (second.id, True, False, None),
    ]
    # Retired counts as cancelled: the dedupe key is free to schedule the message anew.
    await enqueue(store, 1, T0, dedupe_key="k")
    assert len(await store.claim_due(minutes(3), 10, LEASE)) == 1


async def test_cancel_by_kind_counts_rows(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.enqueue("checkin", 1, {}, T0)
        await tx.enqueue("checkin", 1, {}, T0)
        await tx.enqueue("clinic", 1, {}, T0)
        await tx.enqueue("checkin", 2, {}, T0)
    async with store.transaction(1, T0) as tx:
        await tx.enqueue("checkin", 1, {}, T0)
        assert await tx.cancel(1, ["checkin"]) == 3
        assert await tx.cancel(1, ["checkin"]) == 0
        assert await tx.cancel(1, []) == 0
    items = await store.claim_due(minutes(1), 10, LEASE)
    assert sorted((i.kind, i.chat_id) for i in items) == [("checkin", 2), ("clinic", 1)]


async def test_deactivate_marks_inactive_and_cancels_unsent(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {"s": 1}))
        await tx.enqueue("checkin", 1, {"n": "sent"}, T0)
    [sent] = await store.claim_due(T0, 10, LEASE)
    await store.mark_sent(sent.id, T0)
    await enqueue(store, 1, minutes(1))
    await enqueue(store, 2, minutes(1))
    await store.deactivate(1, minutes(2))
    await store.deactivate(3, minutes(2))  # nobody there: harmless, creates nothing
    async with store.transaction(1, T0) as tx:
        patient = await tx.load()
    assert patient is not None
    assert not patient.active
    assert patient.updated_at == minutes(2)
    assert [i.chat_id for i in await store.claim_due(minutes(5), 10, LEASE)] == [2]
    assert [p.chat_id for p in await store.patients(10, 0)] == [1]


async def test_forget_deletes_everything_about_the_chat(store: Store) -> None:
    for chat in (1, 2):
        async with store.transaction(chat, T0) as tx:
            await tx.save(Patient(chat, "en", {"chat": chat}))
            await tx.enqueue("checkin", chat, {}, T0, dedupe_key=f"k{chat}")
            await tx.record_event("answer", {"chat": chat})
    async with store.transaction(1, minutes(1)) as tx:
        await tx.forget()
        assert await tx.load() is None
    async with store.transaction(1, minutes(1)) as tx:
        assert await tx.load() is None
    assert await store.events(1) == []
    assert [p.chat_id for p in await store.patients(10, 0)] == [2]
    assert [i.chat_id for i in await store.claim_due(minutes(2), 10, LEASE)] == [2]
    assert len(await store.events(2)) == 1
    await enqueue(store, 1, T0, dedupe_key="k1")  # the forgotten row's key is free
    assert [i.chat_id for i in await store.claim_due(minutes(2), 10, LEASE)] == [1]


async def test_events_come_back_in_order(store: Store) -> None:
    async with store.transaction(5, T0) as tx:
        await tx.record_event("answer", {"q": "leg_pain", "a": 7})
        await tx.record_event("recommendation", {"step": "physio"})
    async with store.transaction(5, minutes(3)) as tx:
        await tx.record_event("checkin", {"better": "yes", "text": "好多了"})
    events = await store.events(5)
    assert [(e.kind, e.data, e.at, e.chat_id) for e in events] == [
        ("answer", {"q": "leg_pain", "a": 7}, T0, 5),
        ("recommendation", {"step": "physio"}, T0, 5),
        ("checkin", {"better": "yes", "text": "好多了"}, minutes(3), 5),
    ]
    assert events[0].id < events[1].id < events[2].id
    assert await store.events(6) == []


async def test_entries_around_a_save_keep_their_order_and_their_words(store: Store) -> None:
    async with store.transaction(5, T0) as tx:
        first = {"q": "bladder", "typed": "no?"}
        await tx.record_event("unread_answer", first)
        first["typed"] = "changed after recording"
        await tx.record_event("answer", {"q": "bladder", "a": "not_sure"})
        await tx.save(Patient(5, "en", {"state": "q_saddle"}))
        await tx.record_event("answer", {"q": "saddle", "a": "no"})
    assert [(e.kind, e.data) for e in await store.events(5)] == [
        ("unread_answer", {"q": "bladder", "typed": "no?"}),
        ("answer", {"q": "bladder", "a": "not_sure"}),
        ("answer", {"q": "saddle", "a": "no"}),
    ]


async def test_an_update_that_saves_nobody_leaves_no_row(backend: Backend) -> None:
    store = await backend.open()
    async with store.transaction(1, T0) as tx:
        assert await tx.first_time(1)
        assert await tx.load() is None
    await store.deactivate(2, T0)
    assert await backend.sql("SELECT count(*) FROM patients") == [(0,)]


async def test_patients_come_in_pages(store: Store) -> None:
    for chat in (5, 3, 1, 4, 2):
        async with store.transaction(chat, T0) as tx:
            await tx.save(Patient(chat, "en", {"chat": chat}))
    async with store.transaction(99, T0) as tx:
        assert await tx.first_time(1)  # an update that saved no patient adds no patient
    pages = [await store.patients(2, offset) for offset in (0, 2, 4, 6)]
    assert [[p.chat_id for p in page] for page in pages] == [[1, 2], [3, 4], [5], []]
    assert pages[0][0].session == {"chat": 1}


async def test_prune_updates_forgets_old_update_ids(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.first_time(1)
    async with store.transaction(1, minutes(10)) as tx:
        await tx.first_time(2)
    assert await store.prune_updates(minutes(5)) == 1
    async with store.transaction(1, minutes(11)) as tx:
        assert await tx.first_time(1)
        assert not await tx.first_time(2)


async def test_times_must_carry_a_zone(store: Store) -> None:
    naive = datetime(2025, 1, 1, 9, 0)  # noqa: DTZ001 -- the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        async with store.transaction(1, naive):
            pass
    async with store.transaction(1, T0) as tx:
        with pytest.raises(ValueError, match="timezone-aware"):
            await tx.enqueue("r", 1, {}, naive)


async def test_times_in_other_zones_come_back_as_utc(store: Store) -> None:
    shanghai = timezone(timedelta(hours=8))
    async with store.transaction(1, T0.astimezone(shanghai)) as tx:
        await tx.save(Patient(1, "zh", {}))
        await tx.enqueue("r", 1, {}, minutes(1).astimezone(shanghai))
    [item] = await store.claim_due(minutes(1), 1, LEASE)
    assert item.due_at == minutes(1)
    assert item.due_at.utcoffset() == timedelta(0)
    assert item.due_at.tzinfo is not None
    assert item.due_at.astimezone(UTC) == item.due_at


async def test_a_finished_transaction_cannot_be_used(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        pass
    with pytest.raises(StorageError, match="transaction is over"):
        await tx.load()


async def test_pending_lists_a_chats_unsent_rows_soonest_first(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.enqueue("checkin", 1, {"week": 6}, minutes(60))
        await tx.enqueue("checkin", 1, {"week": 2}, minutes(20))
        await tx.enqueue("checkin", 1, {"week": 0}, T0)
        await tx.enqueue("checkin", 2, {"other": True}, minutes(1))
    [now] = await store.claim_due(T0, 1, LEASE)
    await store.mark_sent(now.id, T0)
    async with store.transaction(1, T0) as tx:
        await tx.cancel(1, ["nothing-of-this-kind"])
    assert [i.payload["week"] for i in await store.pending(1)] == [2, 6]
    async with store.transaction(1, T0) as tx:
        await tx.cancel(1)
    assert await store.pending(1) == []


async def test_a_transaction_reads_its_chat_history_and_pending_rows(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.record_event("answer", {"a": 1})
        await tx.enqueue("checkin", 1, {"week": 6}, minutes(60))
        await tx.enqueue("checkin", 2, {"other": True}, minutes(1))
    async with store.transaction(1, minutes(1)) as tx:
        await tx.record_event("checkin", {"week": 2})
        await tx.enqueue("checkin", 1, {"week": 2}, minutes(20))
        # Its own writes are seen before they commit, the other chat's rows never.
        assert [(e.kind, e.data, e.at) for e in await tx.events()] == [
            ("answer", {"a": 1}, T0),
            ("checkin", {"week": 2}, minutes(1)),
        ]
        assert [i.payload for i in await tx.pending()] == [{"week": 2}, {"week": 6}]
        assert await tx.cancel(1, ["checkin"]) == 2
        assert await tx.pending() == []


async def test_inside_a_transaction_the_store_lends_nothing_else(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        # Each of these would want a second pooled connection, or wait for this very update.
        with pytest.raises(NestedUseError, match="read it through the transaction"):
            await store.pending(1)
        with pytest.raises(NestedUseError):
            await store.events(2)
        with pytest.raises(NestedUseError):
            await store.claim_due(T0, 1, LEASE)
        with pytest.raises(NestedUseError):
            async with store.transaction(2, T0):
                pass
        await tx.save(Patient(1, "en", {"kept": True}))
    # Once it is over, everything is open again, and the refused calls left no trace.
    assert await store.pending(1) == []
    assert [p.session for p in await store.patients(10, 0)] == [{"kept": True}]


async def test_other_tasks_use_the_store_while_one_holds_a_transaction(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {}))
        # A task started elsewhere (not inside the transaction) is another update.
        other = asyncio.get_running_loop().create_task(store.pending(2), context=Context())
        assert await other == []


async def test_forget_deletes_what_names_the_patient_and_says_what(
    store: Store, backend: Backend
) -> None:
    clinic = -500
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {"s": 1}))
        await tx.record_event("notify_clinic", {"disposition": "emergency"})
        await tx.enqueue("clinic_notification", clinic, {"about": "red flag"}, T0)
        await tx.enqueue("checkin", 1, {"week": 2}, T0)
        await tx.enqueue("checkin", 1, {"week": 6}, minutes(60))
    async with store.transaction(2, T0) as tx:  # another patient, told to the same clinic
        await tx.save(Patient(2, "en", {"s": 2}))
        await tx.enqueue("clinic_notification", clinic, {"about": "other"}, T0)
    for item in await store.claim_due(T0, 10, LEASE):  # sent rows are deleted as well
        await store.mark_sent(item.id, T0)

    async with store.transaction(1, minutes(1)) as tx:
        forgotten = await tx.forget()

    assert forgotten == Forgotten(patient=True, events=1, outbox=2, notifications=1)
    assert forgotten.anything
    assert await backend.sql("SELECT chat_id, about FROM outbox") == [(clinic, 2)]
    assert await backend.sql("SELECT count(*) FROM events") == [(0,)]
    async with store.transaction(3, T0) as tx:
        assert await tx.forget() == Forgotten()
    assert not Forgotten().anything


async def test_a_claim_marks_the_rows_sent_since_in_the_same_call(store: Store) -> None:
    for chat in (1, 2, 3):
        await enqueue(store, chat, T0)
    first, second = await store.claim_due(minutes(1), 2, LEASE)
    [third] = await store.claim_due(minutes(2), 10, LEASE, sent=[first.id, second.id])
    assert third.chat_id == 3
    # Sent rows are never claimed again, even after their lease would have run out.
    assert await store.claim_due(minutes(60), 10, LEASE, sent=[third.id]) == []
    assert await store.pending(1) == []
    assert await store.pending(3) == []


async def test_marking_alone_asks_for_no_rows(store: Store) -> None:
    await enqueue(store, 1, T0)
    await enqueue(store, 2, T0)
    [item] = await store.claim_due(minutes(1), 1, LEASE)
    assert await store.claim_due(minutes(1), 0, LEASE, sent=[item.id]) == []
    # The other row was left due, not claimed by the marking call.
    [other] = await store.claim_due(minutes(1), 10, LEASE)
    assert other.chat_id == 2
    assert await store.pending(item.chat_id) == []
