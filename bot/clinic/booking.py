"""``/appointment ID YYYY-MM-DD HH:MM PLACE [; NOTE]``: the line parsed, or why it cannot be."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.clinic.appointments import when
from bot.dialogue.turn import Text

PLACE_MAX = 200  # characters; a place is a name and an address, not a letter
NOTE_MAX = 500
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{1,2}:\d{2}")
_NOTE_SEPARATORS = re.compile("[;\uff1b]")  # Chinese keyboards type the full-width one


@dataclass(frozen=True)
class Booking:
    """A well-formed request: the patient, the visit's time in clinic time, place and note."""

    patient: int
    at: datetime
    place: str
    note: str


def usage(zone: str) -> Text:
    """The command's usage, shown for any malformed line."""
    return Text("staff.usage.appointment", {"zone": zone})


def parse_booking(args: str, zone: ZoneInfo, now: datetime) -> Booking | Text:
    """The booking ``args`` ask for, or the text that says what is wrong with them."""
    parts = args.split(maxsplit=3)
    if len(parts) < 4:  # noqa: PLR2004  # ID, date, time and place are all required
        return usage(zone.key)
    raw_id, raw_date, raw_time, rest = parts
    place, _, note = (piece.strip() for piece in _split_note(rest))
    day, clock = _date(raw_date), _time(raw_time)
    if not re.fullmatch(r"-?\d{1,20}", raw_id) or day is None or clock is None or not place:
        return usage(zone.key)
    if len(place) > PLACE_MAX or len(note) > NOTE_MAX:
        return Text("staff.appointment.too_long", {"place": PLACE_MAX, "note": NOTE_MAX})
    at = datetime.combine(day, clock, tzinfo=zone)
    if _skipped(at):
        return Text("staff.appointment.no_such_time",
                    {"date": raw_date, "time": clock.strftime("%H:%M"), "zone": zone.key})
    if at <= now:
        return Text("staff.appointment.past", {"when": when(at)})
    return Booking(int(raw_id), at, place, note)


def _split_note(rest: str) -> tuple[str, str, str]:
    match = _NOTE_SEPARATORS.search(rest)
    if match is None:
        return rest, "", ""
    return rest[: match.start()], match.group(), rest[match.end() :]


def _date(raw: str) -> date | None:
    if not _DATE.fullmatch(raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _time(raw: str) -> time | None:
    if not _TIME.fullmatch(raw):
        return None
    hours, minutes = (int(part) for part in raw.split(":"))
    if hours > 23 or minutes > 59:  # noqa: PLR2004  # the 24-hour clock
        return None
    return time(hours, minutes)


def _skipped(at: datetime) -> bool:
    """Whether a wall-clock time falls in a DST gap (clocks jump over it; it never happens)."""
    zone = at.tzinfo
    return datetime.fromtimestamp(at.timestamp(), zone).replace(tzinfo=None) != at.replace(
        tzinfo=None)
