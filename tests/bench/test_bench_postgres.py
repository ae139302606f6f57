"""The bench on PostgreSQL: the same update path served from a database, alone and as two."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from support.storage_backends import PG_URL

from bot.bench import (
    _postgres_figures,
    _postgres_pairs,
    _postgres_session,
    _together,
    _trips,
    postgres_fill,
)
from bot.bench.counting import CountingPostgresStore, CountingSqliteStore
from bot.bench.serve import chat_ids
from bot.cli import main
from bot.content import load_content

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _bench_schemas() -> set[str]:
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace"
                            " WHERE nspname LIKE 'ldh_bench_%'").fetchall()
    return {r[0] for r in rows}


def test_postgres_sessions_report_every_pg_key_and_leave_no_schema_behind() -> None:
    before = _bench_schemas()
    content = load_content()
    alone = [_postgres_session(PG_URL, 60, 4, content)]
    pair = _postgres_pairs(PG_URL, 60, 4, 1, content)

    figures = _postgres_figures(alone, pair, sqlite_rate=500.0, sqlite_cost=0.001)

    for key in ("pg_updates_per_s", "pg_ratio_to_sqlite", "pg_store_trips_per_update",
                "pg_update_trips_per_update", "pg_two_instances_updates_per_s",
                "pg_cpu_ms_per_update"):
        value = figures[key]
        assert isinstance(value, float), key
        assert value > 0, key
    assert len(pair) == 2
    assert all(session["updates"] > 0 for session in pair)
    # An update is at least its write, a statement the server answers; the first of each
    # conversation reads its chat first, the others start from what this process wrote.
    assert 1 < figures["pg_update_trips_per_update"] < 2  # type: ignore[operator]
    assert _bench_schemas() <= before


def test_two_instances_never_serve_the_same_chat() -> None:
    first = set(chat_ids(1000, 60, 1, instance=0, instances=2))
    second = set(chat_ids(1000, 60, 1, instance=1, instances=2))

    assert len(first) == len(second) == 60
    assert not first & second
    # Both serve returning patients too, each from the stored ones of its own.
    assert {c for c in first if c <= 1000}
    assert {c for c in second if c <= 1000}


def test_instances_together_count_over_the_span_they_served() -> None:
    sessions = [{"updates": 100, "started_at": 10.0, "ended_at": 12.0},
                {"updates": 100, "started_at": 11.0, "ended_at": 14.0}]

    assert _together(sessions) == pytest.approx(200 / 4.0)


def test_trips_are_told_apart_per_update_and_per_message() -> None:
    trips = _trips({"updates": 100, "update_trips": 200, "dispatcher_trips": 5, "messages": 10})

    assert trips == {"update": 2.0, "store": 2.05, "message": 0.5, "messages": 0.1}
    assert _trips({"updates": 10, "update_trips": 20, "dispatcher_trips": 0,
                   "messages": 0})["message"] is None


async def test_an_update_and_the_dispatcher_are_counted_apart(tmp_path: object) -> None:
    store = CountingSqliteStore(f"{tmp_path}/bench.db")
    await store.open()
    try:
        async with store.transaction(1, T0) as tx:
            await tx.first_time_and_load(7)
            await tx.enqueue("clinic_notification", -1, {"n": 1}, T0)
        # No hand-off: the read ran at once on the loop's reader, the commit on its writer.
        assert (store.trips.updates, store.trips.dispatcher) == (0, 0)
        [item] = await store.claim_due(T0, 10, timedelta(minutes=1))
        assert await store.claim_due(T0, 10, timedelta(minutes=1), sent=[item.id]) == []
        assert (store.trips.updates, store.trips.dispatcher, store.trips.messages) == (0, 2, 1)
    finally:
        await store.close()


async def test_postgres_statements_are_counted_as_trips() -> None:
    schema = postgres_fill.create_schema(PG_URL)  # never the database's shared schema
    store = CountingPostgresStore(postgres_fill.schema_url(PG_URL, schema))
    try:
        await store.open()
        counted = store.trips.updates
        assert await store.patients(1, 0) == []
        # The statement alone: one statement is atomic without BEGIN and COMMIT, and a pooled
        # connection whose socket is quiet is lent without asking the server first.
        assert store.trips.updates - counted == 1
    finally:
        await store.close()
        postgres_fill.drop_schema(PG_URL, schema)


def test_bench_database_must_be_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--database", "sqlite:///bench.db"]) == 2

    error = capsys.readouterr().err
    assert error.startswith("ldh-bot bench: --database takes a PostgreSQL URL")
    assert len(error.strip().splitlines()) == 1


def test_an_unreachable_database_is_one_line_before_any_measuring(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2"

    assert main(["bench", "--patients", "10", "--database", url]) == 1

    error = capsys.readouterr().err
    assert error.startswith("ldh-bot bench: cannot use PostgreSQL at nobody@127.0.0.1:1/none")
    assert "secret" not in error
    assert len(error.strip().splitlines()) == 1
