"""Dates: ISO spellings from the many ways documents and users write them."""

from __future__ import annotations

import calendar
import re
from typing import Any

__all__ = ["normalize_date", "date_bounds", "parse_date", "date_range", "dates_in_text"]

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


# --- dates inside running text ----------------------------------------------------------------------------

_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM = "〇○零一二三四五六七八九十"
_TEXT_DATE = re.compile(
    r"(?<!\d)(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
    r"|[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?!\d))"
    rf"|([{_CN_NUM}]{{4}})\s*年\s*([{_CN_NUM}]{{1,3}})\s*月\s*([{_CN_NUM}]{{1,3}})\s*日"
)


def _cn_small(s: str) -> int | None:
    """十 → 10, 二十三 → 23, 三 → 3 (months and days)."""
    if "十" not in s:
        return _CN_DIGITS.get(s) if len(s) == 1 else None
    tens, _, ones = s.partition("十")
    t = _CN_DIGITS.get(tens, None) if tens else 1
    o = _CN_DIGITS.get(ones, None) if ones else 0
    if t is None or o is None:
        return None
    return t * 10 + o


def dates_in_text(text: str) -> list[str]:
    """Every full date written in ``text`` (2024年3月5日, 2024-03-05, 二〇二四年三月五日), as ISO, in order."""
    out = []
    for m in _TEXT_DATE.finditer(text):
        if m.group(1):
            y = int(m.group(1))
            mo = int(m.group(2) or m.group(4))
            d = int(m.group(3) or m.group(5))
        else:
            digits = [_CN_DIGITS.get(c) for c in m.group(6)]
            if None in digits:
                continue
            y = int("".join(str(x) for x in digits))
            mo = _cn_small(m.group(7)) or 0
            d = _cn_small(m.group(8)) or 0
        if 1 <= mo <= 12 and 1 <= d <= 31 and 1900 <= y <= 2100:
            out.append(f"{y:04d}-{mo:02d}-{d:02d}")
    return out
