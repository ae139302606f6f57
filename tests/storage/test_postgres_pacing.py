"""The pacer's objects in PostgreSQL: made by the store's migration, and cleared by forget."""

from __future__ import annotations

from datetime import UTC, datetime

from support.storage_backends import PostgresBackend

from bot.reminders.postgres_pacer import PostgresPacer


async def test_the_store_makes_the_pacing_objects_when_it_migrates(
    postgres: PostgresBackend,
) -> None:
    await postgres.open()
    tables = await postgres.sql("SELECT to_regclass('pacer_chats'), to_regclass('pacer_slots')")
    assert all(name is not None for name in tables[0])
    functions = await postgres.sql(
        "SELECT p.proname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
        " WHERE n.nspname = current_schema() AND p.proname LIKE 'ldh_pace%%' ORDER BY p.proname")
    assert functions == [("ldh_pace_book",), ("ldh_pace_hold",)]


async def test_forget_leaves_nothing_naming_the_chat_in_the_pacer(
    postgres: PostgresBackend,
) -> None:
    store = await postgres.open()
    pacer = PostgresPacer(postgres.url)
    await pacer.open()
    try:
        for chat in (7, 8):
            await pacer.book(chat, urgent=True)
        async with store.transaction(7, datetime.now(UTC)) as tx:
            await tx.forget()
    finally:
        await pacer.close()
    assert await postgres.sql("SELECT chat_id FROM pacer_chats ORDER BY chat_id") == [(8,)]
