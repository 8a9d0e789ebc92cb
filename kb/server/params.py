"""Query parameters of the HTTP API: one table per endpoint, read by the parser and by the OpenAPI description.

Parsing is strict, so a typo is an error rather than a silently ignored
option: every value must be valid UTF-8, known to the endpoint, given once,
of its type and within its bounds. Every refusal is a ``QueryError`` whose
``param`` names the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from .. import config
from ..errors import QueryError

__all__ = ["Param", "Values", "parse", "SEARCH", "PASSAGE", "DOCUMENTS", "DOCUMENT", "MAX_LIMIT", "MAX_WINDOW",
           "MAX_CONTEXT", "MAX_EXPORT", "EXPORT_FORMATS"]

MAX_LIMIT = 100  # hits or documents in one response
# Rows in one export (format=csv|md|jsonl). It streams, so memory does not grow with it; the bound is on
# the time and size of one answer: on the whole corpus (166,681 passages) rows are made at about 4,400/s
# (16,695 hits of 发展 as CSV: 3.8 s, 18 MB, after 3.3 s for the match set), so 50,000 take ~12 s, ~55 MB.
MAX_EXPORT = 50_000
EXPORT_FORMATS = ("csv", "md", "jsonl")
MAX_WINDOW = 1000  # offset + limit: how deep a client may page into one search
MAX_CONTEXT = 10  # neighbouring passages on each side
MAX_TEXT_CHARS = 500  # any text parameter but the query
MAX_FIELDS = 40  # parameters in one query string

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One query parameter: its type (``str``, ``int`` or ``bool``), default, bounds and description.

    ``multiple``: the parameter may be repeated, and its value is a tuple
    (empty when absent). ``choices``: the values it takes, for the
    description; the library or the endpoint refuses others, with its own
    sentence.
    """

    name: str
    kind: type
    default: Any
    description: str
    minimum: int | None = None
    maximum: int | None = None
    max_chars: int | None = MAX_TEXT_CHARS  # None: the library checks the length, with its own message
    required: bool = False
    multiple: bool = False
    choices: tuple[str, ...] = ()


class Values(dict):
    """Parsed parameters by name (defaults filled in); ``given`` names those the request gave."""

    def __init__(self, values: dict[str, Any], given: frozenset[str]):
        super().__init__(values)
        self.given = given


def _filters() -> list[Param]:
    return [
        Param("section", str, None, "Only passages whose section path contains this text."),
        Param("doc", str, None, "Only documents whose id (or part of it), title or a metadata value contains "
              "this text."),
        Param("topic", str, None, "Only passages tagged with this topic slug (GET /topics lists them)."),
        Param("since", str, None, "Only documents dated on or after this date: YYYY, YYYY-MM or YYYY-MM-DD."),
        Param("until", str, None, "Only documents dated on or before this date: YYYY, YYYY-MM or YYYY-MM-DD."),
        Param("where", str, None, "Only documents whose field satisfies this condition (repeatable; all must "
              "hold): FIELD=VALUE (equal), FIELD~TEXT (contains), FIELD>=VALUE, FIELD<=VALUE, FIELD>VALUE, "
              "FIELD<VALUE (numbers, dates). Fields: any metadata field (GET /fields lists them), id, title, "
              "date, source, path, year.", multiple=True),
    ]


SEARCH = [
    Param("q", str, None, "The query: words, \"exact phrase\", AND/OR/NOT, -word, (…), section:, doc:, topic:; "
          "Chinese, English or toneless pinyin; at most "
          f"{config.MAX_QUERY_CHARS} characters.", max_chars=None, required=True),
    Param("limit", int, 10, f"Most hits (documents, with group_by=doc) to return, at most {MAX_LIMIT}; with "
          f"`format`, the most rows to export (default: every match, at most {MAX_EXPORT:,}).", 1, MAX_EXPORT),
    Param("offset", int, 0, f"Hits (documents, with group_by=doc) to skip (offset + limit is at most "
          f"{MAX_WINDOW}).", 0, MAX_WINDOW - 1),
    Param("page", int, None, "Page number, from 1, of `limit` hits each (instead of offset).", 1, MAX_WINDOW),
    *_filters(),
    Param("group_by", str, None, "`doc`: one entry per matching document (`groups`: its best passage, how many "
          "of its passages match, and the sections holding them); `limit` and `offset` then count documents.",
          choices=("doc",)),
    Param("sort", str, "relevance", "`relevance` (best first) or `date` (document date, newest first; undated "
          "last).", choices=("relevance", "date")),
    Param("facets", str, None, "Count every match per value of these fields (comma-separated): topic, year, "
          "source, date, or any metadata field (GET /fields). Adds `facets` and `total_documents`."),
    Param("format", str, None, f"Export instead of JSON: `csv` (UTF-8 with a byte-order mark, for Excel), `md` "
          f"(a numbered citation list) or `jsonl` (one hit, or document with group_by=doc, per line). Streams "
          f"every match (at most {MAX_EXPORT:,} rows, or `limit`); the headers X-Total-Count and X-Export-Count "
          "say how many match and how many are in the export. Not with offset, page, context, facets or explain.",
          choices=EXPORT_FORMATS),
    Param("context", int, 0, "Neighbouring passages to include on each side of each hit.", 0, MAX_CONTEXT),
    Param("expand", bool, True, "Widen the query with translations, pinyin and synonyms; false searches it as "
          "written."),
    Param("correct", bool, True, "When the query finds nothing, return the results of its \"did you mean\" "
          "suggestion (`corrected` is then true)."),
    Param("explain", bool, False, "Add `explain`: one line per query word listing the terms it was expanded to "
          "and where each came from (the CLI's --explain)."),
]
PASSAGE = [Param("context", int, 0, "Neighbouring passages to include on each side.", 0, MAX_CONTEXT)]
DOCUMENTS = [
    *_filters(),
    Param("limit", int, 100, "Most documents to return.", 1, 1000),
    Param("offset", int, 0, "Documents to skip.", 0, None),
]
DOCUMENT = [Param("text", bool, False, "Include the document's whole text (its passages under section headings).")]


def parse(query_string: bytes, spec: list[Param]) -> Values:
    """The parameters of ``spec`` from a raw query string, with defaults; raises ``QueryError``."""
    known = {p.name: p for p in spec}
    raw: dict[str, list[str]] = {}
    for name, value in _pairs(query_string):
        if name not in known:
            names = ", ".join(known) or "none"
            raise QueryError(f"Unknown parameter {name!r}; this endpoint takes: {names}.", param=name)
        if name in raw and not known[name].multiple:
            raise QueryError(f"The parameter {name!r} is given twice; give it once.", param=name)
        raw.setdefault(name, []).append(value)
    out: dict[str, Any] = {}
    for p in spec:
        if p.multiple:
            # An empty value (a cleared form field) is no condition, as for the other text parameters.
            out[p.name] = tuple(_convert(p, v) for v in raw.get(p.name, ()) if v.strip())
            continue
        value = raw[p.name][0] if p.name in raw else None
        if value is None or (value == "" and (p.kind is not str or p.choices)):
            if p.required:
                raise QueryError(f"The parameter {p.name!r} is required.", param=p.name)
            out[p.name] = p.default
            continue
        out[p.name] = _convert(p, value)
    return Values(out, frozenset(raw))


def _pairs(query_string: bytes) -> list[tuple[str, str]]:
    """Name-value pairs of a raw query string, each percent-decoded as strict UTF-8."""
    fields = [f for f in query_string.split(b"&") if f]
    if len(fields) > MAX_FIELDS:
        raise QueryError(f"The request has more than {MAX_FIELDS} parameters.")
    out = []
    for field in fields:
        name, _, value = field.partition(b"=")
        try:
            out.append((unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8"),
                        unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")))
        except UnicodeDecodeError:
            raise QueryError("The query string is not valid UTF-8; percent-encode UTF-8 text.") from None
    return out


def _convert(p: Param, value: str) -> Any:
    if p.kind is bool:
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise QueryError(f"The parameter {p.name!r} must be true or false.", param=p.name)
    if p.kind is int:
        v = value.strip()
        if not (v.isascii() and v.isdigit()) or len(v) > 9:
            raise QueryError(f"The parameter {p.name!r} must be a whole number{_bounds(p)}.", param=p.name)
        n = int(v)
        if (p.minimum is not None and n < p.minimum) or (p.maximum is not None and n > p.maximum):
            raise QueryError(f"The parameter {p.name!r} must be a whole number{_bounds(p)}.", param=p.name)
        return n
    if p.max_chars is not None and len(value) > p.max_chars:
        raise QueryError(f"The parameter {p.name!r} is {len(value)} characters long; shorten it to at most "
                         f"{p.max_chars}.", param=p.name)
    if "\x00" in value:
        raise QueryError(f"The parameter {p.name!r} contains a NUL character.", param=p.name)
    return value


def _bounds(p: Param) -> str:
    if p.minimum is not None and p.maximum is not None:
        return f" from {p.minimum} to {p.maximum}"
    if p.minimum is not None:
        return f" of at least {p.minimum}"
    return ""
