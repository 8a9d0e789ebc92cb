"""Dates: ISO spellings from the many ways documents and users write them."""

from __future__ import annotations

import calendar
import re
from typing import Any

__all__ = ["normalize_date", "date_bounds", "parse_date", "date_range"]

_DATE_PATTERNS = (
    (re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"), "ymd"),
    (re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})"), "dmy"),
    (re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?"), "ym"),
    (re.compile(r"(\d{4})\s*年?"), "y"),
)


def normalize_date(value: Any) -> str:
    """ISO ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` from common date spellings; "" when none."""
    if value is None:
        return ""
    s = str(value).strip()
    if not s:
        return ""
    for pattern, kind in _DATE_PATTERNS:
        m = pattern.fullmatch(s) or pattern.match(s)
        if not m:
            continue
        g = [int(x) for x in m.groups()]
        if kind == "dmy":
            d, mo, y = g
            return _iso(y, mo, d)
        if kind == "ymd":
            return _iso(*g)
        if kind == "ym":
            return _iso(g[0], g[1], None)
        return _iso(g[0], None, None)
    return ""


def _iso(y: int, m: int | None, d: int | None) -> str:
    if not 1 <= y <= 9999:
        return ""
    if m is None:
        return f"{y:04d}"
    if not 1 <= m <= 12:
        return f"{y:04d}"
    if d is None:
        return f"{y:04d}-{m:02d}"
    if not 1 <= d <= 31:
        return f"{y:04d}-{m:02d}"
    return f"{y:04d}-{m:02d}-{d:02d}"


def date_bounds(iso: str) -> tuple[str, str]:
    """First and last day covered by an ISO date that may be partial."""
    if len(iso) == 4:
        return f"{iso}-01-01", f"{iso}-12-31"
    if len(iso) == 7:
        return f"{iso}-01", f"{iso}-31"
    return iso, iso


_QUERY_DATE = re.compile(r"(\d{4})(?:\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*(\d{1,2})\s*日?)?\s*月?)?\s*年?")


def parse_date(value: str) -> str:
    """A date a user typed, as ISO ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; raises ``ValueError`` if it is no date.

    Unlike ``normalize_date`` (lenient, for dates found in documents) this
    refuses a month or day that does not exist: 2020-13, 2020-02-30.
    """
    m = _QUERY_DATE.fullmatch(str(value).strip())
    if not m:
        raise ValueError(value)
    y, mo, d = m.group(1), m.group(2), m.group(3)
    year = int(y)
    if not 1 <= year <= 9999:
        raise ValueError(value)
    if mo is None:
        return f"{year:04d}"
    month = int(mo)
    if not 1 <= month <= 12:
        raise ValueError(value)
    if d is None:
        return f"{year:04d}-{month:02d}"
    day = int(d)
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise ValueError(value)
    return f"{year:04d}-{month:02d}-{day:02d}"


def date_range(since: str | None, until: str | None) -> tuple[str, str] | None:
    """The (first, last) days a search is restricted to, or None; partial dates widen.

    Raises ``ValueError`` naming the bad bound ("since" or "until").
    """
    lo = hi = None
    if since:
        try:
            lo = date_bounds(parse_date(since))[0]
        except ValueError:
            raise ValueError("since") from None
    if until:
        try:
            hi = date_bounds(parse_date(until))[1]
        except ValueError:
            raise ValueError("until") from None
    if lo is None and hi is None:
        return None
    return lo or "0000-00-00", hi or "9999-99-99"
