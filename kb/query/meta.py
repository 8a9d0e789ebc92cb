"""Metadata conditions: ``province=云南``, ``province~云``, ``year>=2020``, ``date<2025-06``.

A condition names a field of a document and compares it with a value:

* ``=``  equal (after normalisation: case, full-width, traditional → simplified;
  numbers compare as numbers, so ``year=2020`` matches 2020 and "2020");
* ``~``  the value occurs in the field (normalised substring);
* ``>=``, ``<=``, ``>``, ``<``  order. When both sides are numbers they compare
  as numbers; otherwise, when both are dates (ISO, partial allowed: ``2020``,
  ``2020-06``, ``2020-06-30``), as the day ranges they cover: ``>=V`` holds when
  the field reaches V's first day (like ``since``), ``<=V`` when it starts by
  V's last day (like ``until``), ``>V`` when it starts after V, ``<V`` when it
  ends before V. Values of other or mixed types (text against a number, a
  date against text, a JSON number against a date) never satisfy an order
  condition. Text such as "2025" is both a number and a date, so it compares
  with either.

A field that holds a list matches when any element does. The fields are the
document's metadata (what a ``manifest.jsonl`` or a JSONL line adds), then
the document's own ``id``, ``title``, ``date``, ``source`` and ``path``, and
``year`` (from the date); a metadata field of the same name wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..errors import QueryError
from ..text import normalize
from ..text.dates import date_bounds, parse_date

__all__ = ["Condition", "OPERATORS", "parse_where", "split_operator", "field_values", "CORE_FIELDS", "value_text"]

OPERATORS = (">=", "<=", "=", "~", ">", "<")
CORE_FIELDS = ("id", "title", "date", "source", "path", "year")
_WHERE = re.compile(r"^\s*([^=~<>\s][^=~<>]*?)\s*(>=|<=|=|~|>|<)\s*(.*?)\s*$", re.S)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class Condition:
    """A comparison of one document field with a value (see the module docstring)."""

    key: str
    op: str
    value: str

    def holds(self, values: Iterable[Any]) -> bool:
        """True when any of the field's ``values`` satisfies the condition."""
        return any(_compare(v, self.op, self.value) for v in values)


def split_operator(value: str) -> tuple[str, str]:
    """(operator, operand) of a ``meta.FIELD:`` value: ``>=2020`` → (">=", "2020"); no operator means ``=``."""
    v = value.strip()
    for op in OPERATORS:
        if v.startswith(op):
            return op, v[len(op):].strip()
    return "=", v


def parse_where(text: str) -> Condition:
    """A condition from ``FIELD OP VALUE`` text; raises ``QueryError`` (param ``where``) when it is not one."""
    m = _WHERE.match(str(text or ""))
    if not m or not m.group(3):
        raise QueryError(f"The condition {text!r} is not FIELD=VALUE, FIELD~TEXT or FIELD>=VALUE "
                         f"(operators: {', '.join(OPERATORS)}).", param="where")
    return Condition(m.group(1).strip(), m.group(2), m.group(3))


def field_values(key: str, *, metadata: Mapping[str, Any], id: str = "", title: str = "", date: str = "",
                 source: str = "", path: str = "") -> list[Any]:
    """The values of field ``key`` of a document ([] when it has none); a list field gives its elements."""
    if key in metadata:
        v = metadata[key]
    elif key == "year":
        v = date[:4] if date else None
    else:
        v = {"id": id, "title": title, "date": date, "source": source, "path": path}.get(key)
    if v is None or v == "":
        return []
    if isinstance(v, (list, tuple, set)):
        return [x for x in v if x is not None and not isinstance(x, (dict, list))]
    if isinstance(v, dict):
        return []
    return [v]


def value_text(v: Any) -> str:
    """A field value as text (facet values, exports): numbers without a trailing ``.0``, booleans in lower case."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip()
    return float(s) if _NUMBER.match(s) else None


def _date(v: Any) -> tuple[str, str] | None:
    if isinstance(v, (bool, int, float)):
        return None  # a JSON number is a number, never a date (a year is text: "2025")
    try:
        return date_bounds(parse_date(str(v)))
    except ValueError:
        return None


def _compare(field: Any, op: str, value: str) -> bool:
    if op in ("=", "~"):
        if op == "=":
            a, b = _number(field), _number(value)
            if a is not None and b is not None:
                return a == b
        f = normalize(value_text(field)).strip()
        v = normalize(value).strip()
        return f == v if op == "=" else v in f
    a, b = _number(field), _number(value)
    if a is not None and b is not None:
        return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]
    fd, vd = _date(field), _date(value)
    if fd is None or vd is None:
        return False
    (flo, fhi), (vlo, vhi) = fd, vd
    return {">=": fhi >= vlo, "<=": flo <= vhi, ">": flo > vhi, "<": fhi < vlo}[op]
