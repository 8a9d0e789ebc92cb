"""Facets: counts per value of a field over every match of a search, not only the shown hits.

Fields: ``topic`` (each passage's topic tags), any metadata field of the
documents, the documents' own ``id``, ``title``, ``date``, ``source``,
``path``, and ``year`` (derived from the date). Each value counts the
matching passages that have it and the matching documents that have it.
A document with no value for a field is not counted under that field; a
list value counts once per distinct element.

Counting needs only the match set as engine refs, the document each ref
belongs to and the documents' records (read once per commit), plus the
postings of each topic: no passage record is read, so counting a match set
of 50,000 passages stays cheap.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from .errors import QueryError
from .models import Facet, FacetValue
from .query.meta import CORE_FIELDS, field_values, value_text

__all__ = ["parse_fields", "count", "FACET_FIELDS"]

FACET_FIELDS = ("topic", *CORE_FIELDS)


def parse_fields(fields: str | Iterable[str] | None) -> tuple[str, ...]:
    """Facet field names from ``"topic,province"`` or a list of names (duplicates and blanks dropped)."""
    if not fields:
        return ()
    if isinstance(fields, str):
        fields = fields.split(",")
    out = []
    for f in fields:
        for part in str(f).split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return tuple(out)


def check_fields(fields: Sequence[str], metadata_keys: Sequence[str]) -> None:
    """Raise ``QueryError`` (param ``facets``) for a field no document has."""
    for f in fields:
        if f not in FACET_FIELDS and f not in metadata_keys:
            known = ", ".join(dict.fromkeys((*FACET_FIELDS, *metadata_keys)))
            raise QueryError(f"Cannot count by {f!r}: no document has that field; the fields are: {known}.",
                             param="facets")


def count(reader, refs: Sequence, fields: Sequence[str], topics, *, by: str = "passages") -> tuple[Facet, ...]:
    """Facets of the match set ``refs`` (engine refs); values sorted by ``by`` ("passages" or "documents")."""
    check_fields(fields, reader.metadata_keys())
    by_doc = reader.group_refs(refs)
    out = []
    for f in fields:
        passages: Counter = Counter()
        documents: Counter = Counter()
        if f == "topic":
            matched = frozenset(refs)
            for t in topics:
                tagged = reader.topic_refs(t.slug) & matched
                if tagged:
                    passages[t.slug] = len(tagged)
                    documents[t.slug] = len(reader.group_refs(tagged))
        else:
            for doc_id, doc_refs in by_doc.items():
                rec = reader.document(doc_id)
                if rec is None:
                    continue
                values = field_values(f, metadata=rec.metadata, id=rec.id, title=rec.title, date=rec.date,
                                      source=rec.source, path=rec.rel)
                for v in dict.fromkeys(value_text(v) for v in values):
                    passages[v] += len(doc_refs)
                    documents[v] += 1
        first, second = (passages, documents) if by == "passages" else (documents, passages)
        order = sorted(passages, key=lambda v: (-first[v], -second[v], v))
        out.append(Facet(f, tuple(FacetValue(v, passages[v], documents[v]) for v in order)))
    return tuple(out)
