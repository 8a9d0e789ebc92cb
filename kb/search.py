"""Read side: parsed queries → Whoosh queries → ``Hit`` values with highlights.

Each query word becomes an OR of
  * exact word matches in text, section and title (phrase when the word
    segments into several words), boosted;
  * all its words anywhere in the passage (when it has several);
  * the verbatim string in the character-bigram field, which finds it even
    inside longer words the segmenter kept whole (guaranteed recall).
so passages with whole-word matches rank first and none is missed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from whoosh import query as wq
from whoosh.scoring import BM25F

from . import query as q
from .analysis import gram_terms, normalize, query_words
from .errors import QueryError
from .ingest import normalize_date
from .models import Hit

__all__ = ["compile_query", "Compiled", "make_hit", "highlight_spans", "make_snippet", "date_filter", "run_search"]

EXACT_BOOST = 3.0
LOOSE_BOOST = 1.0
GRAMS_BOOST = 0.5
_SENT_END = "。！？；!?;"
SNIPPET_CHARS = 160


@dataclass
class Compiled:
    """A Whoosh query plus what to highlight."""

    query: Any
    needles: list[str] = field(default_factory=list)


def _grams_query(value: str):
    runs = [r for r in gram_terms(value) if r]
    if not runs:
        return None
    terms: list[str] = []
    for i, run in enumerate(runs):
        if i < len(runs) - 1:
            terms.extend(run)  # keep the run-end marker: the next run follows a space
        else:
            terms.extend(run[:-1] if len(run) > 1 else [])
    if len(runs) == 1 and len(runs[0]) == 1:
        return wq.Prefix("grams", runs[0][0])
    last = runs[-1]
    if len(last) == 1:  # the query ends with a one-character run
        parts = [wq.Term("grams", t) for t in terms] + [wq.Prefix("grams", last[0])]
        return wq.Sequence(parts)
    if len(terms) == 1:
        return wq.Term("grams", terms[0])
    return wq.Phrase("grams", terms)


def _field_words(fieldname: str, words: list[str]):
    if len(words) == 1:
        return wq.Term(fieldname, words[0])
    return wq.Phrase(fieldname, words)


def text_query(value: str, *, phrase: bool) -> tuple[Any, list[str]]:
    """The Whoosh query for one query word (or quoted phrase) and its highlight needles."""
    words = query_words(value)
    norm = normalize(value).strip()
    grams = _grams_query(value)
    if not words and grams is None:
        return None, []
    alts = []
    if words:
        exact = wq.Or([_field_words(f, words) for f in ("text", "section", "title")], boost=EXACT_BOOST)
        alts.append(exact)
        if len(words) > 1 and not phrase:
            loose = wq.And([wq.Or([wq.Term(f, w) for f in ("text", "section", "title")]) for w in words], boost=LOOSE_BOOST)
            alts.append(loose)
    if grams is not None:
        grams.boost = GRAMS_BOOST
        alts.append(grams)
    needles = [norm] if norm else []
    if not phrase and len(words) > 1:
        needles.extend(w for w in words if len(w) > 1)
    return (alts[0] if len(alts) == 1 else wq.Or(alts)), needles


def _substring_terms(searcher, fieldname: str, value: str) -> list[str]:
    needle = normalize(value).strip()
    if not needle:
        return []
    return [t for t in (b.decode("utf-8") for b in searcher.lexicon(fieldname)) if needle in t]


def _filter_query(searcher, node: q.Filter):
    if node.field == "section":
        terms = _substring_terms(searcher, "section_key", node.value)
        return wq.Or([wq.Term("section_key", t) for t in terms]) if terms else wq.NullQuery
    if node.field == "doc":
        alts = [wq.Term("doc_id", node.value.strip())]
        alts += [wq.Term("title_key", t) for t in _substring_terms(searcher, "title_key", node.value)]
        return wq.Or(alts)
    if node.field == "topic":
        return wq.Term("topics", node.value.strip().lower())
    raise QueryError(f"Unknown field {node.field!r}; use section:, doc: or topic:.")  # pragma: no cover


def compile_query(searcher, node: q.Node) -> Compiled:
    """Translate the parsed tree; raises ``QueryError`` when nothing in it can be searched."""
    needles: list[str] = []

    def walk(n: q.Node, positive: bool):
        if isinstance(n, q.Text):
            wqry, nd = text_query(n.value, phrase=n.phrase)
            if positive:
                needles.extend(nd)
            return wqry
        if isinstance(n, q.Filter):
            return wq.ConstantScoreQuery(_filter_query(searcher, n), 0.0) if positive else _filter_query(searcher, n)
        if isinstance(n, q.Not):
            inner = walk(n.child, not positive)
            return None if inner is None else wq.Not(inner)
        if isinstance(n, (q.And, q.Or)):
            kids = [k for k in (walk(c, positive) for c in n.children) if k is not None]
            if not kids:
                return None
            if isinstance(n, q.Or):
                return kids[0] if len(kids) == 1 else wq.Or(kids)
            pos = [k for k in kids if not isinstance(k, wq.Not)]
            neg = [k.query for k in kids if isinstance(k, wq.Not)]
            if not pos:
                raise QueryError("A query cannot only exclude; add a word to search for besides NOT/-.")
            base = pos[0] if len(pos) == 1 else wq.And(pos)
            return wq.AndNot(base, wq.Or(neg)) if neg else base
        raise AssertionError(n)  # pragma: no cover

    compiled = walk(node, True)
    if compiled is None:
        raise QueryError("The query has no searchable words (only punctuation or spaces); use words or phrases.")
    if isinstance(compiled, wq.Not):
        raise QueryError("A query cannot only exclude; add a word to search for besides NOT/-.")
    return Compiled(compiled, [n for n in dict.fromkeys(needles) if n])


def date_filter(since: str | None, until: str | None):
    """A Whoosh filter for documents dated within [since, until] (partial dates widen)."""
    parts = []
    if since:
        lo = normalize_date(since)
        if not lo:
            raise QueryError(f"--since {since!r} is not a date; use YYYY-MM-DD, YYYY-MM or YYYY.")
        parts.append(wq.TermRange("date_hi", date_bounds(lo)[0], None))
    if until:
        hi = normalize_date(until)
        if not hi:
            raise QueryError(f"--until {until!r} is not a date; use YYYY-MM-DD, YYYY-MM or YYYY.")
        parts.append(wq.TermRange("date_lo", None, date_bounds(hi)[1]))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)


def date_bounds(iso: str) -> tuple[str, str]:
    """First and last day covered by an ISO date that may be partial."""
    if len(iso) == 4:
        return f"{iso}-01-01", f"{iso}-12-31"
    if len(iso) == 7:
        return f"{iso}-01", f"{iso}-31"
    return iso, iso


# --- highlights and snippets ----------------------------------------------------


def highlight_spans(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Merged (start, end) spans of every occurrence of each needle in normalised ``text``."""
    norm = normalize(text)
    spans = []
    for n in needles:
        if not n:
            continue
        start = norm.find(n)
        while start >= 0:
            spans.append((start, start + len(n)))
            start = norm.find(n, start + 1)
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _sentence_start(text: str, i: int, floor: int) -> int:
    j = i
    while j > floor and text[j - 1] not in _SENT_END:
        j -= 1
    return j


def make_snippet(text: str, spans: list[tuple[int, int]], width: int = SNIPPET_CHARS,
                 open_mark: str = "<mark>", close_mark: str = "</mark>") -> str:
    """An excerpt around the first highlight, cut at sentence ends, highlights wrapped in marks."""
    if len(text) <= width or not spans:
        lo, hi = 0, min(len(text), width) if not spans else len(text)
        if not spans and len(text) > width:
            hi = _cut_end(text, 0, width)
    else:
        first = spans[0][0]
        lo = _sentence_start(text, first, max(0, first - width // 2))
        if first - lo > width // 2:
            lo = first - width // 3
        hi = _cut_end(text, lo, width)
        if hi < spans[0][1]:
            hi = spans[0][1]
    out = []
    if lo > 0:
        out.append("…")
    cur = lo
    for s, e in spans:
        if e <= lo or s >= hi:
            continue
        s, e = max(s, lo), min(e, hi)
        out.append(text[cur:s])
        out.append(open_mark + text[s:e] + close_mark)
        cur = e
    out.append(text[cur:hi])
    if hi < len(text):
        out.append("…")
    return "".join(out)


def _cut_end(text: str, lo: int, width: int) -> int:
    hi = min(len(text), lo + width)
    if hi >= len(text):
        return len(text)
    k = max(text.rfind(c, lo, hi) for c in _SENT_END)
    return k + 1 if k > lo + width // 2 else hi


def make_hit(stored: dict[str, Any], score: float, needles: list[str], context: tuple[Hit, ...] = ()) -> Hit:
    text = stored.get("text", "")
    spans = highlight_spans(text, needles) if needles else []
    span = stored.get("span") or (0, len(text))
    meta = stored.get("meta")
    if isinstance(meta, str):
        meta = json.loads(meta)
    topics = tuple(t for t in (stored.get("topics") or "").split(",") if t)
    return Hit(
        id=stored["id"],
        doc_id=stored.get("doc_id", ""),
        title=stored.get("title", ""),
        date=stored.get("date", ""),
        source=stored.get("source", ""),
        paragraph=int(stored.get("paragraph", 0)),
        section=stored.get("section", ""),
        text=text,
        snippet=make_snippet(text, spans),
        score=round(float(score), 4),
        highlights=tuple(spans),
        start=int(span[0]),
        end=int(span[1]),
        path=stored.get("path", ""),
        topics=topics,
        context=context,
        metadata=meta or {},
    )


_WS = re.compile(r"\s+")


def run_search(searcher, node: q.Node, *, limit: int, filter_query=None) -> tuple[int, list[tuple[dict, float]], Compiled]:
    """Execute a parsed query; returns (total, [(stored fields, score)], compiled)."""
    compiled = compile_query(searcher, node)
    results = searcher.search(compiled.query, limit=limit, filter=filter_query, terms=False)
    total = len(results)
    return total, [(dict(r.fields()), r.score) for r in results], compiled


def new_weighting():
    return BM25F(B=0.75, K1=1.2)
