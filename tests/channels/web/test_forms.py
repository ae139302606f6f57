"""Form and query values the dashboard reads: refused as None, never guessed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.channels.web.forms import local_moment, whole_number

LONDON = ZoneInfo("Europe/London")


def test_a_whole_number_is_read_and_anything_else_is_none() -> None:
    assert whole_number("123456789") == 123456789
    assert whole_number("-1001") == -1001
    assert [whole_number(raw) for raw in ("", "12a", "1.5", "1e3")] == [None] * 4


def test_a_date_and_time_is_read_in_the_clinic_zone() -> None:
    assert local_moment("2026-12-09", "14:30", LONDON) == datetime(2026, 12, 9, 14, 30,
                                                                   tzinfo=LONDON)
    assert local_moment("2026-02-30", "14:30", LONDON) is None
    assert local_moment("2026-12-09", "25:00", LONDON) is None
    assert local_moment("", "", LONDON) is None


def test_a_time_skipped_by_the_clocks_going_forward_is_refused_not_moved() -> None:
    # 29 March 2026, 01:00-02:00 does not exist in London.
    assert local_moment("2026-03-29", "01:30", LONDON) is None
    assert local_moment("2026-03-29", "02:30", LONDON) is not None
