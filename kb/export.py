"""Export: hits, document groups and documents as CSV, Markdown citations or JSON Lines.

Every writer takes an iterable and writes as it goes, so an export of every
match (``KnowledgeBase.iter_search``) never holds more than one row.

* CSV is UTF-8 with a byte-order mark (so that Excel reads it as UTF-8),
  ``\\r\\n`` line ends, one row per hit (or per document), with the citation
  columns first and then one column per metadata field.
* Markdown is a numbered citation list for a draft: title, date, section,
  the quote with its highlights in bold, and the passage id.
* JSON Lines is one ``kb.serialize`` object per line.

``write(items, fmt, out, metadata_keys=...)`` picks the writer by the kind of
item; ``lines(...)`` gives the same text piece by piece (for an HTTP
response).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from typing import Any, Iterable, Iterator, Sequence, TextIO

from . import serialize
from .models import DocumentGroup, DocumentInfo, Hit
from .query.meta import value_text

__all__ = ["FORMATS", "lines", "write", "BOM"]

FORMATS = ("csv", "md", "jsonl")
BOM = "\ufeff"

HIT_COLUMNS = ("id", "doc_id", "title", "date", "source", "section", "paragraph", "page", "quote", "text", "score",
               "path", "topics")
GROUP_COLUMNS = ("doc_id", "title", "date", "source", "matches", "sections", "best_id", "best_section", "quote",
                 "score", "path")
DOCUMENT_COLUMNS = ("id", "title", "date", "source", "passages", "path")


def _plain_quote(snippet: str) -> str:
    return snippet.replace("<mark>", "【").replace("</mark>", "】")


def _meta_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return "; ".join(value_text(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    return value_text(v)


def _columns(base: Sequence[str], metadata_keys: Sequence[str]) -> list[str]:
    # A metadata field named like a citation column keeps its value under "meta.<name>".
    return [*base, *(k if k not in base else f"meta.{k}" for k in metadata_keys)]


def _hit_row(h: Hit, metadata_keys) -> list[str]:
    row = [h.id, h.doc_id, h.title, h.date, h.source, h.section, str(h.paragraph),
           "" if h.page is None else str(h.page), _plain_quote(h.snippet), h.text, f"{h.score:g}", h.path,
           "; ".join(h.topics)]
    return row + [_meta_cell(h.metadata.get(k)) for k in metadata_keys]


def _group_row(g: DocumentGroup, metadata_keys) -> list[str]:
    d = g.document
    row = [d.id, d.title, d.date, d.source, str(g.matches), "; ".join(e.section for e in g.sections), g.best.id,
           g.best.section, _plain_quote(g.best.snippet), f"{g.score:g}", d.path]
    return row + [_meta_cell(d.metadata.get(k)) for k in metadata_keys]


def _document_row(d: DocumentInfo, metadata_keys) -> list[str]:
    row = [d.id, d.title, d.date, d.source, str(d.passages), d.path]
    return row + [_meta_cell(d.metadata.get(k)) for k in metadata_keys]


def _csv_line(row: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(row)
    return buf.getvalue()


def _md(text: str) -> str:
    """Text safe inside Markdown: characters that would start emphasis, code or links are escaped."""
    out = []
    for ch in text:
        if ch in "\\`*_[]<|":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out).replace("\n", " ")


def _md_quote(snippet: str) -> str:
    parts = []
    rest = snippet
    while "<mark>" in rest:
        before, _, after = rest.partition("<mark>")
        inner, _, rest = after.partition("</mark>")
        parts.append(_md(before) + "**" + _md(inner) + "**")
    parts.append(_md(rest))
    return "".join(parts)


def _md_head(title: str, date: str, source: str) -> str:
    meta = ", ".join(x for x in (date, source) if x)
    return f"**{_md(title)}**" + (f" ({_md(meta)})" if meta else "")


def _md_hit(n: int, h: Hit) -> str:
    where = f" — § {_md(h.section)}" if h.section else ""
    return f"{n}. {_md_head(h.title, h.date, h.source)}{where}\n   > {_md_quote(h.snippet)}\n   `{h.id}`\n\n"


def _md_group(n: int, g: DocumentGroup) -> str:
    d = g.document
    sections = "; ".join(_md(e.section) for e in g.sections)
    count = f"{g.matches} matching passage" + ("" if g.matches == 1 else "s")
    return (f"{n}. {_md_head(d.title, d.date, d.source)} — {count}: {sections}\n"
            f"   > {_md_quote(g.best.snippet)}\n   `{g.best.id}` — § {_md(g.best.section)}\n\n")


def _md_document(n: int, d: DocumentInfo) -> str:
    count = f"{d.passages} passage" + ("" if d.passages == 1 else "s")
    return f"{n}. {_md_head(d.title, d.date, d.source)} — {count} — `{d.id}`\n"


_KINDS = {"hit": Hit, "group": DocumentGroup, "document": DocumentInfo}


def lines(items: Iterable[Hit | DocumentGroup | DocumentInfo], fmt: str, *, metadata_keys: Sequence[str] = (),
          kind: str | None = None) -> Iterator[str]:
    """The export of ``items`` in ``fmt`` ("csv", "md" or "jsonl"), piece by piece.

    ``kind`` ("hit", "group" or "document") names what the items are, so that
    an empty export still has the right CSV header (default: the first
    item's type). Raises ``ValueError`` for another format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    it = iter(items)
    first = next(it, None)
    kind = _KINDS[kind] if kind else type(first)
    if fmt == "csv":
        yield BOM
        base = GROUP_COLUMNS if kind is DocumentGroup else DOCUMENT_COLUMNS if kind is DocumentInfo else HIT_COLUMNS
        yield _csv_line(_columns(base, metadata_keys))
    if first is None:
        return
    row = _group_row if kind is DocumentGroup else _document_row if kind is DocumentInfo else _hit_row
    md = _md_group if kind is DocumentGroup else _md_document if kind is DocumentInfo else _md_hit
    js = serialize.group if kind is DocumentGroup else serialize.document if kind is DocumentInfo else serialize.hit
    for n, x in enumerate(itertools.chain((first,), it), 1):
        if fmt == "csv":
            yield _csv_line(row(x, metadata_keys))
        elif fmt == "md":
            yield md(n, x)
        else:
            yield serialize.dumps(js(x)) + "\n"


def write(items: Iterable[Hit | DocumentGroup | DocumentInfo], fmt: str, out: TextIO, *,
          metadata_keys: Sequence[str] = (), kind: str | None = None) -> int:
    """Write the export of ``items`` to the text stream ``out``; returns how many items were written."""
    count = 0

    def counted():
        nonlocal count
        for x in items:
            count += 1
            yield x

    for piece in lines(counted(), fmt, metadata_keys=metadata_keys, kind=kind):
        out.write(piece)
    return count
