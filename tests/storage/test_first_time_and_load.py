"""One trip for the start of every update: the update id checked and the patient loaded together."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.storage_backends import T0

from bot.storage import Patient, Store


async def test_a_new_update_of_an_unknown_chat_is_fresh_and_finds_no_patient(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        assert await tx.first_time_and_load(500) == (True, None)
    async with store.transaction(1, T0) as tx:
        assert await tx.first_time_and_load(500) == (False, None)
        assert not await tx.first_time(500)


async def test_the_patient_is_loaded_for_a_fresh_and_for_a_repeated_update(store: Store) -> None:
    async with store.transaction(2, T0) as tx:
        await tx.save(Patient(2, "zh", {"state": "fever"}))
    async with store.transaction(2, T0 + timedelta(minutes=1)) as tx:
        fresh, patient = await tx.first_time_and_load(600)
        assert fresh
        assert patient == await tx.load()
        assert patient is not None
        assert patient.session == {"state": "fever"}
        patient.session["state"] = "age"
        await tx.save(patient)
    async with store.transaction(2, T0 + timedelta(minutes=2)) as tx:
        fresh, patient = await tx.first_time_and_load(600)
        assert not fresh
        assert patient is not None
        assert patient.session == {"state": "age"}


async def test_without_an_update_id_the_update_is_fresh_and_nothing_is_recorded(
    store: Store,
) -> None:
    async with store.transaction(3, T0) as tx:
        assert await tx.first_time_and_load(None) == (True, None)
        await tx.save(Patient(3, "en", {"state": "x"}))
    async with store.transaction(3, T0) as tx:
        fresh, patient = await tx.first_time_and_load(None)
        assert fresh
        assert patient is not None


async def test_a_failed_update_leaves_its_id_unrecorded(store: Store) -> None:
    async def failing() -> None:
        async with store.transaction(4, T0) as tx:
            assert (await tx.first_time_and_load(700))[0]
            await tx.save(Patient(4, "en", {"state": "after"}))
            msg = "step failed"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="step failed"):
        await failing()
    async with store.transaction(4, T0) as tx:
        assert await tx.first_time_and_load(700) == (True, None)


async def test_an_update_id_given_when_opening_is_answered_as_if_asked_then(store: Store) -> None:
    async with store.transaction(5, T0, update_id=800) as tx:
        assert await tx.first_time_and_load(800) == (True, None)
        await tx.save(Patient(5, "en", {"state": "q_age"}))
    async with store.transaction(5, T0, update_id=800) as tx:
        fresh, patient = await tx.first_time_and_load(800)
        assert not fresh
        assert patient is not None
        assert patient.session == {"state": "q_age"}
    async with store.transaction(5, T0, update_id=801) as tx:
        fresh, patient = await tx.first_time_and_load(801)
        assert fresh
        assert patient is not None
    async with store.transaction(5, T0) as tx:
        assert not await tx.first_time(800)
        assert not await tx.first_time(801)


async def test_an_update_id_given_when_opening_a_failed_update_stays_unrecorded(
    store: Store,
) -> None:
    async def failing() -> None:
        async with store.transaction(6, T0, update_id=900) as tx:
            assert (await tx.first_time_and_load(900))[0]
            await tx.save(Patient(6, "en", {"state": "after"}))
            msg = "step failed"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="step failed"):
        await failing()
    async with store.transaction(6, T0, update_id=900) as tx:
        assert await tx.first_time_and_load(900) == (True, None)
