"""The bench's figures against the targets of the speed issue: a table, or one JSON object."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Figures = Mapping[str, object]


@dataclass(frozen=True)
class Target:
    """A limit on one key: ``at_most``, ``below`` or ``at_least`` a value."""

    key: str
    limit: float
    kind: str  # "at_most", "below" or "at_least"

    def met(self, value: float) -> bool:
        """Whether ``value`` is within the limit."""
        checks: dict[str, Callable[[float], bool]] = {
            "at_most": lambda v: v <= self.limit,
            "below": lambda v: v < self.limit,
            "at_least": lambda v: v >= self.limit,
        }
        return checks[self.kind](value)

    @property
    def wording(self) -> str:
        """The limit as a reader would say it."""
        sign = {"at_most": "≤", "below": "<", "at_least": "≥"}[self.kind]
        return f"{sign} {self.limit:g}"


TARGETS = (
    Target("throughput_ratio", 0.3, "at_least"),
    Target("update_trips_per_update", 2, "at_most"),
    Target("dispatcher_trips_per_message", 1, "at_most"),
    Target("cost_ratio_100k_vs_1k", 1.15, "at_most"),
    Target("rss_growth_mb_100k_vs_1k", 30, "below"),
    Target("startup_s_100k", 1.5, "below"),
    Target("reminders_per_s", 28.5, "at_least"),
    Target("reminders_429", 0, "at_most"),
    Target("export_s_100k", 20, "at_most"),
    Target("export_peak_mb_100k", 300, "at_most"),
    Target("kb_per_active_conversation", 4, "below"),
    Target("pg_ratio_to_sqlite", 0.5, "at_least"),
    Target("dashboard_queue_ms_100k", 100, "below"),
    Target("dashboard_patient_ms_100k", 100, "below"),
)


def verdicts(figures: Figures) -> dict[str, bool | None]:
    """Each target's outcome: met, missed, or None when the figure was not measured."""
    outcome: dict[str, bool | None] = {}
    for target in TARGETS:
        value = figures.get(target.key)
        ok = isinstance(value, int | float) and math.isfinite(value)
        outcome[target.key] = target.met(float(value)) if ok else None  # type: ignore[arg-type]  # checked just above
    return outcome


def _shown(value: object) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"  # noqa: PLR2004  # whole numbers once large
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return " / ".join(_shown(v) for v in value)
    return str(value)


def table(figures: Figures) -> str:
    """Every figure in a table; targeted ones with their limit and outcome."""
    outcome = verdicts(figures)
    limits = {t.key: t.wording for t in TARGETS}
    rows = [("key", "value", "target", "")]
    notes = []  # descriptions (traffic, machine) go under the table, not into its columns
    for key, value in figures.items():
        if isinstance(value, dict):
            notes.append(f"{key}: {_shown(value)}")
            continue
        met = outcome.get(key)
        mark = "" if key not in outcome else {True: "ok", False: "MISSED", None: "-"}[met]
        rows.append((key, _shown(value), limits.get(key, ""), mark))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    return "\n".join([*lines, *notes])
