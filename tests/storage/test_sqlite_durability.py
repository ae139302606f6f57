"""A SQLite store killed with SIGKILL keeps every commit it acknowledged."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from durability_child import CHATS
from support.storage_backends import T0

from bot.storage import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("durability_child.py")
KILL_AFTER = 150
DEADLINE = 60


async def run_and_kill(url: str) -> list[int]:
    """Start the child, SIGKILL it mid-stream, return the numbers it acknowledged."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(CHILD.parent)])}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        url,
        "1000000",
        stdout=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert child.stdout is not None
    acknowledged: list[int] = []
    try:
        async with asyncio.timeout(DEADLINE):
            while len(acknowledged) < KILL_AFTER:
                line = await child.stdout.readline()
                assert line, f"the child ended early with {await child.wait()}"
                acknowledged.append(int(line))
            child.send_signal(signal.SIGKILL)
            # Lines already in the pipe were printed after their commits too.
            rest = await child.stdout.read()
            assert await child.wait() == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    acknowledged += [
        int(line) for line in rest.decode().splitlines(keepends=True) if line.endswith("\n")
    ]
    return acknowledged


async def test_sigkill_loses_no_acknowledged_commit(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    acknowledged = await run_and_kill(f"sqlite:///{path}")
    assert acknowledged == list(range(len(acknowledged)))
    last = acknowledged[-1]

    store = SqliteStore(path)
    await store.open()
    try:
        seen = {e.data["n"] for chat in range(CHATS) for e in await store.events(chat)}
        assert set(acknowledged) <= seen
        assert seen <= set(range(last + 2))  # at most the one commit in flight beyond
        for chat in range(CHATS):
            async with store.transaction(chat, T0) as tx:
                patient = await tx.load()
                assert patient is not None
                assert patient.session["last"] >= max(n for n in acknowledged if n % CHATS == chat)
        async with store.transaction(0, T0) as tx:
            assert not any([await tx.first_time(n) for n in acknowledged])
        due = await store.claim_due(T0, len(seen) + 10, timedelta(days=1))
        assert {item.payload["n"] for item in due} == seen
    finally:
        await store.close()
