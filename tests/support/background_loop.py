"""An asyncio loop on a thread of its own, so a blocking browser can talk to a server in-process."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

# Long enough for a store to open and a server to bind on a busy machine; short enough that a
# server that never answers fails the test instead of hanging the suite.
DEFAULT_TIMEOUT_S = 30.0


class BackgroundLoop:
    """Runs coroutines on a loop that keeps serving while the test's thread waits on selenium."""

    def __init__(self) -> None:
        """Start the loop's thread."""
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="background-loop", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = DEFAULT_TIMEOUT_S) -> T:
        """Run ``coroutine`` on the loop and return its result (or raise what it raised)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        """Cancel what is left on the loop, stop it and join its thread."""
        if self.loop.is_closed():
            return
        self.run(_cancel_pending())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(DEFAULT_TIMEOUT_S)
        self.loop.close()


async def _cancel_pending() -> None:
    """Cancel every task but this one, so closing the loop leaves nothing half-run."""
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


@contextmanager
def background_loop() -> Iterator[BackgroundLoop]:
    """A background loop for the length of a ``with`` block."""
    loop = BackgroundLoop()
    try:
        yield loop
    finally:
        loop.close()
