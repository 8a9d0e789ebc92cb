"""The stored form of passage and document records, and the Whoosh fields of each.

One module writes and reads both, so the format cannot drift between the two
sides. A passage's displayed fields are one compressed value (field names are
not repeated per passage); a document's record is stored once.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Iterable

from ...models import Document, Passage, PassageId
from ...text import normalize
from ...text.dates import date_bounds
from ..base import DocumentRecord, PassageRecord

__all__ = ["passage_fields", "document_fields", "passage_record", "document_record"]

_PACKED = ("text", "section", "paragraph", "part", "seq", "start", "end", "topics", "page")


def passage_fields(doc: Document, p: Passage, topics: Iterable[str] = ()) -> dict[str, Any]:
    """The Whoosh fields of one passage."""
    topics = list(topics)
    row = [p.text, p.section, p.paragraph, p.part, p.seq, p.start, p.end, topics, p.page]
    f = {
        "id": p.id,
        "doc_id": doc.id,
        "section": p.section,
        "section_key": normalize(p.section),
        "text": p.text,
        "topics": ",".join(topics),
        "p": zlib.compress(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8")),
    }
    if doc.date:
        f["date_lo"], f["date_hi"] = date_bounds(doc.date)
    return f


def document_fields(doc: Document, passage_ids: list[str]) -> dict[str, Any]:
    """The Whoosh fields of a document's own record (its metadata and passage ids, stored once)."""
    return {
        "docrec": doc.id,
        "title": doc.title,
        "title_key": normalize(doc.title),
        "doc": {
            "title": doc.title,
            "date": doc.date,
            "source": doc.source,
            "editor": doc.editor,
            "path": doc.path,
            "rel": doc.rel,
            "metadata": doc.metadata or {},
            "passages": passage_ids,
        },
    }


def passage_record(stored: dict[str, Any]) -> PassageRecord:
    """A passage record from its stored fields."""
    pid = stored.get("id", "")
    values = dict(zip(_PACKED, json.loads(zlib.decompress(stored["p"]).decode("utf-8")))) if stored.get("p") else {}
    parsed = PassageId.parse(pid)
    return PassageRecord(
        id=pid,
        doc_id=parsed.doc_id if parsed else pid.rsplit("#", 1)[0],
        text=values.get("text", ""),
        section=values.get("section", ""),
        paragraph=int(values.get("paragraph", 0)),
        part=int(values.get("part", 0)),
        seq=int(values.get("seq", 0)),
        start=int(values.get("start", 0)),
        end=int(values.get("end", len(values.get("text", "")))),
        topics=tuple(values.get("topics", ())),
        page=int(values.get("page") or 0),
    )


def document_record(stored: dict[str, Any]) -> DocumentRecord:
    """A document record from its stored fields."""
    d = stored.get("doc") or {}
    return DocumentRecord(
        id=stored.get("docrec", ""),
        title=d.get("title", ""),
        date=d.get("date", ""),
        source=d.get("source", ""),
        editor=d.get("editor", ""),
        path=d.get("path", ""),
        metadata=d.get("metadata") or {},
        passages=tuple(d.get("passages") or ()),
        rel=d.get("rel", ""),
    )
