"""Is this process serving? The database takes a write and the outbox dispatcher delivers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.ops import metrics

Probe = Callable[[], Awaitable[object]]
PROBE_TIMEOUT = 3.0  # seconds: a database slower than this is as good as down to a patient
FAILING_LIMIT = 60.0  # seconds of nothing but failed attempts before the dispatcher is unhealthy


class Runs(Protocol):
    """Something that runs in the background, such as the outbox dispatcher."""

    @property
    def running(self) -> bool:
        """True while it runs."""
        ...

    def failing_for(self) -> float:
        """Seconds every attempt has failed, while failures go on; 0 when it is not failing."""
        ...


@dataclass(frozen=True)
class Report:
    """The answer of /healthz: each part's state in a word or two, and whether all is well."""

    ok: bool
    database: str
    dispatcher: str

    def as_json(self) -> dict[str, str]:
        """The short JSON body an orchestrator or an operator reads."""
        status = "ok" if self.ok else "unavailable"
        return {"status": status, "database": self.database, "dispatcher": self.dispatcher}


class Health:
    """Checks the parts of a running bot; the dispatcher is tracked once it has started."""

    def __init__(self, probe: Probe, timeout: float = PROBE_TIMEOUT) -> None:
        """``probe`` writes as an update would, rolled back, and raises if it cannot."""
        self._probe = probe
        self._timeout = timeout
        self._dispatcher: Runs | None = None

    def track(self, dispatcher: Runs) -> None:
        """From now on ``dispatcher`` counts: healthy only while it runs and delivers."""
        self._dispatcher = dispatcher

    async def check(self) -> Report:
        """Probe the database and look at the dispatcher; nothing here raises."""
        if self._dispatcher is None:
            # Before start-up is done the store may not be open: not serving yet, say so.
            return Report(ok=False, database="not checked", dispatcher="starting")
        dispatcher = self._dispatcher_state(self._dispatcher)
        try:
            await asyncio.wait_for(self._probe(), self._timeout)
        except TimeoutError:
            database = f"no answer within {self._timeout:g} s"
            metrics.error("storage")
        except Exception as error:  # noqa: BLE001  # any fault means unusable; its type says why
            database = f"unwritable ({type(error).__name__})"
            metrics.error("storage")
        else:
            database = "ok"
        return Report(ok=database == "ok" and dispatcher == "running", database=database,
                      dispatcher=dispatcher)

    @staticmethod
    def _dispatcher_state(dispatcher: Runs) -> str:
        if not dispatcher.running:
            return "stopped"
        failing = dispatcher.failing_for()
        if failing >= FAILING_LIMIT:
            return f"failing for {failing:.0f} s"
        return "running"
