"""The stored form of passage and document records, and the Whoosh fields of each.

One module writes and reads both, so the format cannot drift between the two
sides. A passage's displayed fields are one stored row, a plain list (field
names are not repeated per passage, and the segment's stored fields are
compressed in blocks of many records: ``kb.engine.whoosh.storedblocks``); a
document's record is stored once.

A passage's id is in its row, and is not an indexed field: a passage is found
by id through its document's ``doc_id`` postings and the order of the
document record's passage ids (``kb.engine.whoosh.reader``). An indexed id
field took two-thirds of the corpus's size in term-table entries of one
posting each.
"""

from __future__ import annotations

from typing import Any, Iterable

from ...models import Document, Passage, PassageId
from ...text import normalize
from ...text.dates import date_bounds
from ..base import DocumentRecord, PassageRecord

__all__ = ["passage_fields", "document_fields", "passage_record", "document_record", "stored_passage_id"]

_PACKED = ("id", "text", "section", "paragraph", "part", "seq", "start", "end", "topics", "page")


def passage_fields(doc: Document, p: Passage, topics: Iterable[str] = ()) -> dict[str, Any]:
    """The Whoosh fields of one passage."""
    topics = list(topics)
    f = {
        "doc_id": doc.id,
        "section": p.section,
        "section_key": normalize(p.section),
        "text": p.text,
        "topics": ",".join(topics),
        "p": [p.id, p.text, p.section, p.paragraph, p.part, p.seq, p.start, p.end, topics, p.page],
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
    values = dict(zip(_PACKED, stored.get("p") or ()))
    pid = values.get("id", "")
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


def stored_passage_id(stored: dict[str, Any]) -> str:
    """The id in a passage's stored fields ("" for anything else)."""
    row = stored.get("p")
    return row[0] if row else ""


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
