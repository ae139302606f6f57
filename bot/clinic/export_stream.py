"""Screenings streamed from one store cursor into CSV and FHIR files, a batch of patients at a time.

Nothing here holds more than one batch of patients: each screening is written to every file as
it is read, so memory stays flat however many patients the clinic has.

FHIR is written as one R4 ``Bundle`` of type ``collection`` (not NDJSON): staff send a single
file that any FHIR tool opens and validates as one resource, as the export always did; writing
its entries one by one gives the flat memory NDJSON would.
"""

from __future__ import annotations

import csv
import gzip
import shutil
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, TextIO

from bot.clinic.export import (
    SCREENING_EVENTS,
    Fhir,
    Screening,
    asked_facts,
    compact_json,
    csv_header,
    csv_row,
    screening_of,
)
from bot.storage.base import RecordQuery

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from bot.content import Content
    from bot.storage.base import Store

Counted = Callable[[int], Awaitable[None]]
Sink = Callable[[Screening], None]

PROGRESS_EVERY = 1000  # patients between progress reports; the channel throttles them further
# A screening reads the session's facts and place, never its step history (most of its size).
EVERY_SCREENING = RecordQuery(kinds=SCREENING_EVENTS, session_without=("history",))
COPY_CHUNK = 1 << 20


class CsvSheet:
    """The screenings' CSV, a row at a time."""

    def __init__(self, out: TextIO, facts: Sequence[str]) -> None:
        """Write the header to ``out`` (opened with ``newline=""``) at once."""
        self._writer = csv.writer(out)
        self._facts = list(facts)
        self._writer.writerow(csv_header(self._facts))

    def add(self, row: Screening) -> None:
        """Write one screening's row."""
        self._writer.writerow(csv_row(row, self._facts))


class BundleFile:
    """A FHIR collection Bundle written entry by entry; valid JSON once closed."""

    def __init__(self, out: TextIO, fhir: Fhir, now: datetime) -> None:
        """Write the Bundle's opening to ``out``."""
        self._out = out
        self._fhir = fhir
        self._entries = 0
        head = compact_json(fhir.bundle_head(now))
        self._out.write(head[:-1])  # left open for the entries

    def add(self, row: Screening) -> None:
        """Write one screening's QuestionnaireResponse as the next entry."""
        # FHIR forbids an empty array, so "entry" opens only with the first response.
        self._out.write(',"entry":[\n' if self._entries == 0 else ",\n")
        self._out.write(f'{{"resource":{self._fhir.response_json(row)}}}')
        self._entries += 1

    def close(self) -> None:
        """End the entries and the Bundle."""
        self._out.write("\n]}\n" if self._entries else "}\n")


def within(path: Path, filename: str, limit: int) -> tuple[Path, str]:
    """The file as it can be sent: gzip-compressed (``name.gz``) when larger than ``limit``."""
    if path.stat().st_size <= limit:
        return path, filename
    packed = path.with_name(f"{path.name}.gz")
    # Level 1: an export's repeated codes shrink many times over even at the fastest level.
    with path.open("rb") as source, gzip.open(packed, "wb", compresslevel=1) as target:
        shutil.copyfileobj(source, target, COPY_CHUNK)
    packed.chmod(0o600)
    path.unlink()
    return packed, f"{filename}.gz"


async def stream_screenings(
    store: Store,
    content: Content,
    sinks: Sequence[Sink],
    *,
    query: RecordQuery = EVERY_SCREENING,
    progress: Counted | None = None,
) -> int:
    """Hand every screening ``query`` reads to each sink in turn; return how many there were."""
    count = 0
    wanted = frozenset(asked_facts(content))
    async with aclosing(store.records(query)) as records:
        async for record in records:
            screening = screening_of(content, record, wanted)
            for sink in sinks:
                sink(screening)
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                await progress(count)
    return count
