"""The pain chart: a valid, small PNG for any number of points; points from stored history."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from bot.clinical.chart import pain_chart, pain_points
from bot.storage import Event

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has first."""
    assert data.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_chunks(data: bytes) -> list[bytes]:
    """Every chunk type in order; walking them checks the lengths add up to the file."""
    kinds, at = [], len(PNG_SIGNATURE)
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        kinds.append(kind)
        at += 12 + length
    assert at == len(data)
    return kinds


@pytest.mark.parametrize(
    ("points", "baseline"),
    [
        ([(0.0, 7), (2.0, 5), (6.0, 4), (12.0, 2)], 7),
        ([(0.0, 3)], 3),
        ([], None),
        ([(0.0, 0), (2.0, 10), (6.0, 10)], None),
    ],
    ids=["course", "one point", "empty", "extremes"],
)
def test_the_chart_is_a_small_valid_png(points: list[tuple[float, int]],
                                        baseline: int | None) -> None:
    data = pain_chart(points, baseline=baseline)
    width, height = png_size(data)
    assert (width, height) == (600, 330)
    kinds = png_chunks(data)
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert b"IDAT" in kinds
    assert 1_000 < len(data) < 100_000  # a photo Telegram takes at once, not a poster


def test_more_points_draw_more_ink() -> None:
    empty = pain_chart([])
    course = pain_chart([(0.0, 7), (2.0, 5), (6.0, 4)], baseline=7)
    assert empty != course


def event(kind: str, data: dict[str, object], days: int = 0, number: int = 1) -> Event:
    return Event(number, 1, kind, dict(data), T0 + timedelta(days=days))


def test_points_start_at_the_screening_pain_and_follow_the_checkins() -> None:
    history = [
        event("answer", {"age": 45}),
        event("answer", {"pain_score": 7}),
        event("recommendation", {"recommendation": {"step": "conservative"}}),
        event("answer", {"pain_today": 5}, days=14),  # the check-in's own answer: not a baseline
        event("checkin", {"week": 2, "pain_score": 5, "response": "partial"}, days=14),
        event("checkin", {"week": 6, "pain_score": 3, "response": "good"}, days=42),
    ]
    assert pain_points(history) == [(0.0, 7), (2.0, 5), (6.0, 3)]


def test_a_new_screening_starts_a_new_course() -> None:
    history = [
        event("answer", {"pain_score": 7}),
        event("checkin", {"week": 2, "pain_score": 5, "response": "partial"}, days=14),
        event("answer", {"pain_score": 4}, days=20),  # /restart and a new screening
        event("checkin", {"week": 2, "pain_score": 2, "response": "good"}, days=34),
    ]
    assert pain_points(history) == [(0.0, 4), (2.0, 2)]


def test_malformed_or_early_entries_are_left_out() -> None:
    history = [
        event("checkin", {"week": 2, "pain_score": 5}),  # no screening yet to compare with
        event("answer", {"pain_score": True}),
        event("answer", {"pain_score": 11}),
        event("answer", {"pain_score": 6}),
        event("checkin", {"week": "two", "pain_score": 5}),
        event("checkin", {"week": 6, "pain_score": None}),
        event("checkin", {"week": -1, "pain_score": 4}),
    ]
    assert pain_points(history) == [(0.0, 6)]
    assert pain_points([]) == []
