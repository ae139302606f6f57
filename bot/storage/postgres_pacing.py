"""The shared pacer's tables and functions in PostgreSQL, made by the path that migrates the store.

They are not versioned migrations: every statement is idempotent (``IF NOT EXISTS``, ``OR
REPLACE``) and runs each time the store migrates, so a database re-created under a running bot
gets them back with the store's own tables, and a changed function replaces the old one. The
tables are UNLOGGED: pacing state is worthless after a crash.
"""

from __future__ import annotations

PACER_OBJECTS: tuple[str, ...] = (
    """CREATE UNLOGGED TABLE IF NOT EXISTS pacer_slots (slot BIGINT PRIMARY KEY)""",
    """CREATE UNLOGGED TABLE IF NOT EXISTS pacer_chats (
        chat_id BIGINT PRIMARY KEY,
        next_at DOUBLE PRECISION NOT NULL
    )""",
    # One round trip per message: lock the chat's row, book the first free slot from the
    # chat's next moment less its burst allowance (a reminder only within the horizon), move
    # the chat's even-pace moment on. Returns the seconds to wait, or NULL when a reminder
    # finds nothing near (it asks again shortly).
    """CREATE OR REPLACE FUNCTION ldh_pace_book(
        p_chat BIGINT, p_rate DOUBLE PRECISION, p_gap DOUBLE PRECISION, p_allow DOUBLE PRECISION,
        p_horizon DOUBLE PRECISION, p_search INTEGER, p_prune BOOLEAN
    ) RETURNS DOUBLE PRECISION LANGUAGE plpgsql AS $$
    DECLARE
        now_s DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
        ready DOUBLE PRECISION;
        first_slot BIGINT;
        chosen BIGINT;
    BEGIN
        IF p_prune THEN
            DELETE FROM pacer_slots WHERE slot < floor((now_s - 5) * p_rate);
            DELETE FROM pacer_chats WHERE next_at < now_s - 60;
        END IF;
        INSERT INTO pacer_chats (chat_id, next_at) VALUES (p_chat, 0)
            ON CONFLICT (chat_id) DO NOTHING;
        SELECT greatest(next_at - p_allow, now_s) INTO ready FROM pacer_chats
            WHERE chat_id = p_chat FOR UPDATE;
        IF p_horizon IS NOT NULL AND ready > now_s + p_horizon THEN
            RETURN NULL;
        END IF;
        first_slot := ceil(ready * p_rate)::BIGINT;
        LOOP
            SELECT s INTO chosen FROM generate_series(first_slot, first_slot + p_search) AS s
                WHERE NOT EXISTS (SELECT 1 FROM pacer_slots WHERE slot = s)
                ORDER BY s LIMIT 1;
            IF chosen IS NULL THEN
                first_slot := first_slot + p_search;
                CONTINUE;
            END IF;
            IF p_horizon IS NOT NULL AND chosen / p_rate > now_s + p_horizon THEN
                RETURN NULL;
            END IF;
            INSERT INTO pacer_slots (slot) VALUES (chosen) ON CONFLICT (slot) DO NOTHING;
            EXIT WHEN FOUND;  -- else another process took it in between: look again
        END LOOP;
        UPDATE pacer_chats SET next_at = greatest(next_at, chosen / p_rate) + p_gap
            WHERE chat_id = p_chat;
        RETURN greatest(0, chosen / p_rate - now_s);
    END $$""",
    """CREATE OR REPLACE FUNCTION ldh_pace_hold(
        p_chat BIGINT, p_seconds DOUBLE PRECISION, p_allow DOUBLE PRECISION
    ) RETURNS VOID LANGUAGE sql AS $$
        INSERT INTO pacer_chats (chat_id, next_at)
        VALUES (p_chat, extract(epoch FROM clock_timestamp()) + p_seconds + p_allow)
        ON CONFLICT (chat_id)
            DO UPDATE SET next_at = greatest(pacer_chats.next_at, EXCLUDED.next_at)
    $$""",
)
