"""A patient's pain over the weeks of a course, as a small PNG line chart.

The image carries numbers only (weeks across, pain 0-10 up): captions in the reader's
language go beside it, in the Telegram caption, so no font needs Chinese glyphs.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeGuard

from bot.audit import ANSWER, recorded_facts

PAIN_MIN, PAIN_MAX = 0, 10
# 600 x 330 pixels: readable on a phone, a few tens of kilobytes.
WIDTH_IN, HEIGHT_IN, DPI = 6.0, 3.3, 100
LINE_COLOUR = "#1f77b4"
BASELINE_COLOUR = "#7f7f7f"

Point = tuple[float, int]


class Recorded(Protocol):
    """An entry of a patient's history as the chart reads it (a stored event is one)."""

    # Read-only, so a frozen record matches; declared here so clinical logic needs no store.
    @property
    def kind(self) -> str:
        """What happened: ``answer``, ``checkin``, ..."""
        ...

    @property
    def data(self) -> Mapping[str, Any]:
        """What was recorded with it."""
        ...


def pain_chart(points: Sequence[Point], *, baseline: int | None = None) -> bytes:
    """PNG bytes of pain (0-10) by week; ``baseline`` is drawn as a dashed reference line."""
    # Imported here, not at the top: matplotlib is almost half of the bot's start-up, and a
    # chart is drawn only at a check-in.
    from matplotlib.figure import Figure  # noqa: PLC0415  # see above
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415  # see above

    # Figure without pyplot: no global state, so charts may be drawn on several threads.
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    axes = figure.add_subplot()
    weeks = [week for week, _ in points]
    pains = [pain for _, pain in points]
    if baseline is not None:
        axes.axhline(baseline, color=BASELINE_COLOUR, linestyle="--", linewidth=1)
    axes.plot(weeks, pains, color=LINE_COLOUR, marker="o", linewidth=2)
    for week, pain in points:
        axes.annotate(str(pain), (week, pain), textcoords="offset points", xytext=(0, 7),
                      ha="center", fontsize=9)
    axes.set_ylim(PAIN_MIN - 0.5, PAIN_MAX + 1)
    axes.set_yticks(range(PAIN_MIN, PAIN_MAX + 1, 2))
    last_week = max(weeks, default=0.0)
    axes.set_xlim(-0.5, max(last_week, 1.0) + 0.5)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(visible=True, alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def pain_points(events: Iterable[Recorded]) -> list[Point]:
    """Week and pain of the latest course: the screening's pain at week 0, then each check-in.

    A screening ``answer`` with ``pain_score`` starts a course (a /restart starts a new one);
    ``checkin`` events with ``week`` and ``pain_score`` follow it.
    """
    points: list[Point] = []
    for event in events:
        data = recorded_facts(event.data) if event.kind == ANSWER else event.data
        score = data.get("pain_score")
        if not _is_pain(score):
            continue
        if event.kind == ANSWER:
            points = [(0.0, score)]
        elif event.kind == "checkin" and points and _is_week(week := event.data.get("week")):
            points.append((float(week), score))
    return sorted(points, key=lambda point: point[0])


def _is_pain(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and PAIN_MIN <= value <= PAIN_MAX


def _is_week(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
