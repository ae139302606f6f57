"""The PostgreSQL store, one module per thing it keeps; ``PostgresStore`` is the way in.

- ``connection``: pools, the connection type, driver errors made ours, one statement's run.
- ``schema``: migrations, applied once however many processes start together.
- ``sessions``: patients' sessions, the update ids seen, and each chat's history (events).
- ``outbox``: messages waiting to be sent, from enqueue to sent, retried or retired.
- ``exports``: patients with their events streamed from one server-side cursor.
- ``housekeeping``: retention and erasure (pruning, idle chats, a patient's forget).
- ``transaction``: one update's work on a chat, holding its row lock.
- ``store``: the pool, the per-chat locks and the calls made outside a transaction.
"""

from __future__ import annotations

from bot.storage.postgres.connection import describe, open_pool
from bot.storage.postgres.schema import migrate
from bot.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore", "describe", "migrate", "open_pool"]
