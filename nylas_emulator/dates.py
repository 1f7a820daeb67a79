"""Parse RFC 5322 Date header values into Unix seconds without using the local zone."""

from __future__ import annotations

import calendar
import email.utils
import re

_COMMENT = re.compile(r"\([^()]*\)")
_MIN_YEAR = 1971
_MAX_YEAR = 9999


def strip_comments(value: str) -> str:
    """Remove parenthesised comments, including nested ones."""
    previous = None
    while previous != value:
        previous = value
        value = _COMMENT.sub(" ", value)
    return " ".join(value.split())


def parse_date_header(value: str | None) -> int | None:
    """Return the instant as Unix seconds, or None when the value is unreadable.

    A missing zone and "-0000" both mean UTC. A seconds value of 60 rolls into
    the next minute. Years before 1971 are rejected so a bad header can never
    produce the 1970 epoch.
    """
    if value is None:
        return None
    text = strip_comments(value)
    if not text:
        return None

    try:
        parts = email.utils.parsedate_tz(text)
    except (ValueError, IndexError, TypeError, OverflowError):
        return None
    if parts is None:
        return None

    year, month, day, hour, minute, second = parts[:6]
    if not _fields_in_range(year, month, day, hour, minute, second):
        return None

    offset = parts[9] or 0
    fields = (year, month, day, hour, minute, min(second, 60), 0, 1, 0)
    return calendar.timegm(fields) - offset


def _fields_in_range(
    year: int, month: int, day: int, hour: int, minute: int, second: int
) -> bool:
    checks = (
        _MIN_YEAR <= year <= _MAX_YEAR,
        1 <= month <= 12,
        1 <= day <= 31,
        0 <= hour <= 23,
        0 <= minute <= 59,
        0 <= second <= 61,
    )
    return all(checks)


def date_from_received(values: list[str]) -> int | None:
    """Return the date of the first Received header that has a readable one."""
    for value in values:
        _, _, stamp = value.rpartition(";")
        parsed = parse_date_header(stamp)
        if parsed is not None:
            return parsed
    return None
