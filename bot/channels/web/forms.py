"""Reading the dashboard's form and query values: refused as None, never guessed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def whole_number(raw: str) -> int | None:
    """A form's whole number, None when it is not one."""
    try:
        return int(raw)
    except ValueError:
        return None


def local_moment(day: str, clock: str, zone: ZoneInfo) -> datetime | None:
    """A form's date and time in ``zone``; None when either is not one, or does not exist there."""
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=zone)
    except ValueError:
        return None
    # A wall-clock time skipped by a DST change does not exist: refused, not guessed.
    if datetime.fromtimestamp(moment.timestamp(), zone).replace(tzinfo=None) != moment.replace(
            tzinfo=None):
        return None
    return moment
