"""The JSON contract: one serializer for every result type, used by the CLI and every other front end.

Values are plain dicts and lists ready for ``json.dumps(..., ensure_ascii=False)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .errors import KBError
from .models import (DocumentGroup, DocumentInfo, Expansion, Facet, FieldInfo, FileChange, Hit, IndexSummary,
                     LexiconReport, RemoveSummary, SearchResult, Skipped, Stats, TopicCount)

__all__ = ["hit", "search_result", "index_summary", "stats", "topics", "skipped", "expansion", "document",
           "documents", "group", "facet", "facets", "fields", "remove_summary", "lexicon_report", "file_change",
           "error", "dumps"]


def dumps(value: Any) -> str:
    """Compact JSON, UTF-8 text not escaped."""
    return json.dumps(value, ensure_ascii=False)


def hit(h: Hit, *, relative_paths: bool = False) -> dict[str, Any]:
    """A hit: every field of ``Hit``; ``highlights`` as [start, end] pairs; ``context`` only when asked for.

    With ``relative_paths`` (for servers), ``path`` is the path relative to
    the indexed root, as ``rel`` is, so no absolute path of this machine is shown.
    """
    d = asdict(h)
    d["highlights"] = [list(s) for s in h.highlights]
    d["topics"] = list(h.topics)
    d["also_in"] = list(h.also_in)
    if relative_paths:
        d["path"] = h.rel
    if h.context:
        d["context"] = [hit(c, relative_paths=relative_paths) for c in h.context]
    else:
        d.pop("context")
    return d


def expansion(e: Expansion) -> dict[str, str]:
    return {"query": e.query, "term": e.term, "origin": e.origin}


def search_result(r: SearchResult, *, query: str | None = None, relative_paths: bool = False) -> dict[str, Any]:
    """A search: ``query`` is the query as typed (``r.query`` is the suggestion's when ``corrected``).

    ``groups`` (one per document, when grouped), ``facets`` (when asked for)
    and ``total_documents`` (when computed) are present only then;
    ``lexicon_outdated`` only when true.
    """
    out = {
        "query": query if query is not None else r.query,
        "total": r.total,
        "hits": [hit(h, relative_paths=relative_paths) for h in r],
        "expanded": [expansion(e) for e in r.expanded],
        "suggestion": r.suggestion or None,
        "corrected": r.corrected,
        "relaxed": r.relaxed,
    }
    if r.total_documents is not None:
        out["total_documents"] = r.total_documents
    if r.groups:
        out["groups"] = [group(g, relative_paths=relative_paths) for g in r.groups]
    if r.facets:
        out["facets"] = facets(r.facets)
    if r.lexicon_outdated:
        out["lexicon_outdated"] = True
    return out


def group(g: DocumentGroup, *, relative_paths: bool = False) -> dict[str, Any]:
    """A matching document: its fields, ``matches``, ``score``, ``sections`` [{section, passages}], ``best`` (a hit)."""
    out = document(g.document)
    out.update(matches=g.matches, score=g.score,
               sections=[{"section": e.section, "passages": list(e.passages)} for e in g.sections], best=hit(g.best, relative_paths=relative_paths))
    return out


def facet(f: Facet) -> list[dict[str, Any]]:
    return [{"value": v.value, "passages": v.passages, "documents": v.documents} for v in f.values]


def facets(fs) -> dict[str, Any]:
    """Facets as {field: [{value, passages, documents}, …]}, in the order they were asked for."""
    return {f.field: facet(f) for f in fs}


def fields(fs: tuple[FieldInfo, ...]) -> dict[str, Any]:
    """Fields as {"fields": [{name, documents, values, examples, metadata}, …]}."""
    return {"fields": [{**asdict(f), "examples": list(f.examples)} for f in fs]}


def skipped(s: Skipped) -> dict[str, Any]:
    d: dict[str, Any] = {"path": s.path, "reason": s.reason, "kind": s.kind}
    if s.line:
        d["line"] = s.line
    return d


def file_change(c: FileChange) -> dict[str, Any]:
    d: dict[str, Any] = {"path": c.path, "action": c.action, "documents": c.documents, "passages": c.passages}
    if c.reason:
        d["reason"] = c.reason
    return d


def index_summary(s: IndexSummary) -> dict[str, Any]:
    d = asdict(s)
    d["skipped"] = [skipped(x) for x in s.skipped]
    d["changes"] = [file_change(c) for c in s.changes]
    return d


def remove_summary(s: RemoveSummary) -> dict[str, Any]:
    d = asdict(s)
    d["documents"], d["files"] = list(s.documents), list(s.files)
    return d


def lexicon_report(r: LexiconReport) -> dict[str, Any]:
    return {"ok": r.ok, "folders": list(r.folders), "files": [asdict(f) for f in r.files],
            "problems": [asdict(p) for p in r.problems], "pending_words": list(r.pending_words)}


def stats(s: Stats) -> dict[str, Any]:
    d = asdict(s)
    d["sources"] = list(s.sources)
    return d


def topics(ts: tuple[TopicCount, ...]) -> dict[str, Any]:
    return {"topics": [asdict(t) for t in ts]}


def document(d: DocumentInfo) -> dict[str, Any]:
    """A document: metadata and passage count; ``outline`` and ``text`` only when they were asked for."""
    out = {"id": d.id, "title": d.title, "date": d.date, "source": d.source, "path": d.path,
           "passages": d.passages, "metadata": d.metadata}
    if d.outline:
        out["outline"] = [{"section": e.section, "passages": list(e.passages)} for e in d.outline]
    if d.text:
        out["text"] = d.text
    return out


def documents(ds) -> dict[str, Any]:
    return {"documents": [document(d) for d in ds]}


def error(e: KBError) -> dict[str, Any]:
    """An error: its stable code, its sentence, and the argument at fault (or null)."""
    return {"error": {"code": e.code, "message": str(e), "param": e.param}}
