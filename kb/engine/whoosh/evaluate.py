"""Scoring a Whoosh query term at a time: every match with the score Whoosh's collector gives it.

Whoosh collects document at a time: for each match it walks the whole
matcher tree in Python (``is_active``/``id``/``score`` on every node), about
20 µs a match for kb's queries, and kb needs every match scored (block-quality
pruning ignores boosts on compound queries). Here the same matcher tree is
evaluated node by node into ``{docnum: score}`` maps: a leaf reads its
postings a block at a time and scores each posting with its own scorer, an
inner node merges its children's maps with the operation its matcher's
``score()`` performs, in the same order, so every score is the same float.
A matcher type without a rule here is walked document at a time (Whoosh's
own ``score()``), so any tree is evaluated, only more slowly.
"""

from __future__ import annotations

import threading
import weakref
from heapq import nsmallest

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, W3PerDocReader, _lenfield
from whoosh.matching import binary, mcore, wrappers
from whoosh.scoring import BM25FScorer, WeightScorer
from whoosh.util.numeric import byte_to_length

__all__ = ["top_matches"]


def top_matches(searcher, query, limit: int, allowed=None) -> tuple[int, list[tuple[int, float]]]:
    """(number of matches, the ``limit`` best (docnum, score) pairs) of ``query``.

    The same matches, scores and order (score descending, then docnum) as
    Whoosh's ``TopCollector(usequality=False)``; with ``allowed`` (a set of
    top-level docnums) only those match.
    """
    context = searcher.context()
    scored: dict[int, float] = {}
    for sub, offset in searcher.leaf_searchers():
        n = sub.doc_count_all()
        local = None
        if allowed is not None:
            # Numbers past this segment's end are harmless: no posting has them.
            local = allowed if offset == 0 else {d - offset for d in allowed if offset <= d < offset + n}
            if not local:
                continue
        _segment.reader = sub.reader()
        try:
            found = _scores(query.matcher(sub, context), local)
        finally:
            _segment.reader = None
        if local is not None:  # a rule may return more than was asked for, never less
            found = {d: s for d, s in found.items() if d in local}
        if offset:
            scored.update((d + offset, s) for d, s in found.items())
        else:
            scored.update(found)
    best = nsmallest(limit, scored.items(), key=lambda ds: (-ds[1], ds[0]))
    return len(scored), best


class _Segment(threading.local):
    reader = None  # the segment reader being evaluated (for its field lengths)


_segment = _Segment()
_length_tables: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _field_lengths(fieldname: str) -> bytes | None:
    """The encoded length of ``fieldname`` in each document of the segment being evaluated.

    Read once per segment reader (a byte a document). None when the segment
    is not Whoosh 3's per-document format: the scorer looks lengths up one by one then.
    """
    reader = _segment.reader
    perdoc = getattr(reader, "_perdoc", None)
    if not isinstance(perdoc, W3PerDocReader):  # kb's block-stored reader is one too
        return None
    table = _length_tables.get(reader)
    if table is None:
        table = _length_tables[reader] = {}
    if fieldname not in table:
        col = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        raw = None
        if col is not None and getattr(col, "_fixedlen", None) == 1 and getattr(col, "_typecode", None) == "B":
            raw = col._dbfile.get(col._basepos, col._count)
        table[fieldname] = raw
    return table[fieldname]


def _scores(m, allowed) -> dict[int, float]:
    """{id: score} of every match of matcher ``m`` (only ids in ``allowed`` need be right, when given)."""
    rule = _RULES.get(type(m))
    if rule is not None:
        out = rule(m, allowed)
        if out is not None:
            return out
    return _walk(m, allowed)


def _walk(m, allowed) -> dict[int, float]:
    """Document at a time, with the matcher's own ``score()``: the reference behaviour."""
    out: dict[int, float] = {}
    if allowed is not None and len(allowed) < 64:
        for d in sorted(allowed):
            if not m.is_active():
                break
            m.skip_to(d)
            if m.is_active() and m.id() == d:
                out[d] = m.score()
        return out
    while m.is_active():
        out[m.id()] = m.score()
        m.next()
    return out


def _null(m, allowed):
    return {}


def _union(m, allowed):
    a = _scores(m.a, allowed)
    b = _scores(m.b, allowed)
    if len(a) < len(b):  # a + b == b + a exactly; only which map is copied changes
        a, b = b, a
    out = dict(a)
    for d, s in b.items():
        t = out.get(d)
        out[d] = s if t is None else t + s
    return out


def _intersection(m, allowed):
    first, second = m.a, m.b
    if type(first) is wrappers.InverseMatcher:  # "all but": evaluated only where the other side matches
        first, second = second, first
    a = _scores(first, allowed)
    if not a:
        return {}
    b = _scores(second, set(a) if allowed is None or len(a) < len(allowed) else allowed)
    return {d: s + b[d] for d, s in a.items() if d in b}  # a + b == b + a exactly


def _and_maybe(m, allowed):
    a = _scores(m.a, allowed)
    if not a:
        return {}
    b = _scores(m.b, set(a) if allowed is None or len(a) < len(allowed) else allowed)
    return {d: (s + b[d] if d in b else s) for d, s in a.items()}


def _and_not(m, allowed):
    a = _scores(m.a, allowed)
    if not a:
        return {}
    b = _scores(m.b, set(a))
    return {d: s for d, s in a.items() if d not in b}


def _dis_max(m, allowed):
    a = _scores(m.a, allowed)
    b = _scores(m.b, allowed)
    out = dict(a)
    for d, s in b.items():
        t = out.get(d)
        out[d] = s if t is None else max(t, s)
    return out


def _boosted(m, allowed):
    child = _scores(m.child, allowed)
    boost = m.boost
    return {d: s * boost for d, s in child.items()}


def _filtered(m, allowed):
    child = _scores(m.child, allowed)
    ids, exclude, boost = m._ids, m._exclude, m.boost
    return {d: s * boost for d, s in child.items() if (d in ids) != exclude}


def _constant(m, allowed):
    child = _scores(m.child, allowed)
    score = m._score
    return dict.fromkeys(child, score)


def _inverse(m, allowed):
    if allowed is None:
        return None  # every document but a few: walked, as Whoosh does
    child = _scores(m.child, allowed)
    missing, weight, limit = m.missing, m._weight, m.limit
    return {d: weight for d in allowed if d < limit and d >= m._id and d not in child and not missing(d)}


def _list(m, allowed):
    if m._scorer is not None or m._i:
        return None
    ids = m._ids
    if m._all_weights:
        return dict.fromkeys(ids if allowed is None else (d for d in ids if d in allowed), m._all_weights)
    if m._weights:
        return {d: w for d, w in zip(ids, m._weights) if allowed is None or d in allowed}
    return dict.fromkeys(ids if allowed is None else (d for d in ids if d in allowed), 1.0)


def _leaf(m, allowed):
    """A segment's postings, a block at a time; each posting scored as ``scorer.score(m)`` would."""
    scorer = m.scorer
    kind = type(scorer)
    if kind is BM25FScorer:
        score, dfl = scorer._score, scorer.dfl
    elif kind is WeightScorer:
        score, dfl = None, None
    else:
        return None
    term = m.term()
    raw = _field_lengths(term[0]) if score is not None and term else None
    n = len(raw) if raw is not None else 0
    out: dict[int, float] = {}
    memo: dict = {}  # (weight, length) → score: most postings share both
    while m.is_active():
        if m._ids is None:
            m._read_ids()
        ids = m._ids
        start, end = m._i, m._blocklength
        if allowed is not None and not any(ids[i] in allowed for i in range(start, end)):
            m._next_block()
            continue
        if m._weights is None:
            m._read_weights()
        weights = m._weights
        for i in range(start, end):
            d = ids[i]
            if allowed is not None and d not in allowed:
                continue
            w = weights[i]
            if score is None:
                out[d] = w
                continue
            # As W3PerDocReader.doc_field_length, without its three calls a posting.
            b = raw[d] if d < n else 0
            key = (w, byte_to_length(b) if b else dfl(d))
            s = memo.get(key)
            if s is None:
                s = memo[key] = score(*key)
            out[d] = s
        m._next_block()
    return out


_RULES = {
    type(mcore.NullMatcher): _null,
    binary.UnionMatcher: _union,
    binary.IntersectionMatcher: _intersection,
    binary.AndMaybeMatcher: _and_maybe,
    binary.AndNotMatcher: _and_not,
    binary.DisjunctionMaxMatcher: _dis_max,
    wrappers.WrappingMatcher: _boosted,
    wrappers.FilterMatcher: _filtered,
    wrappers.ConstantScoreWrapperMatcher: _constant,
    wrappers.InverseMatcher: _inverse,
    mcore.ListMatcher: _list,
    W3LeafMatcher: _leaf,
}
