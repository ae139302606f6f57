"""Pooled PostgreSQL connections: a connection the server dropped while idle is never lent."""

from __future__ import annotations

from support.storage_backends import T0, PostgresBackend

from bot.storage.base import Patient


async def _backends(postgres: PostgresBackend, name: str) -> list[int]:
    rows = await postgres.sql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,))
    return [int(pid) for (pid,) in rows]


async def test_connections_terminated_while_idle_are_replaced_without_a_failed_update(
    postgres: PostgresBackend,
) -> None:
    name = f"{postgres.schema}_idle"
    store = await postgres.open(postgres.named_url(name))
    async with store.transaction(7, T0) as tx:
        await tx.save(Patient(7, "en", {"state": "q_age"}))
    before = await _backends(postgres, name)
    assert before  # the pool keeps its connection open between updates

    # As a server restart or an operator's pg_terminate_backend does to every idle connection;
    # each call waits (up to 5 s) until the backend is gone.
    for pid in before:
        assert await postgres.sql("SELECT pg_terminate_backend(%s, 5000)", (pid,)) == [(True,)]

    async with store.transaction(7, T0) as tx:
        _, patient = await tx.first_time_and_load(1)
        assert patient is not None
        await tx.save(Patient(7, "en", {"state": "q_legs"}))
    async with store.transaction(7, T0) as tx:
        assert (await tx.load()) == Patient(7, "en", {"state": "q_legs"}, active=True,
                                              created_at=T0, updated_at=T0)
    assert not set(before) & set(await _backends(postgres, name))
