"""Searching: a pool of engine readers, and plans executed into hits.

``ReaderPool`` lends each search a reader of the live commit. Readers are
reused (opening one reads every segment's tables), never shared by two
searches at once, and closed as soon as a newer commit replaces theirs, so
open files stay bounded however many threads search and however often the
index changes.

``run_search`` executes a plan in passes, each within the search's filters:
  1. the word index;
  2. when that finds fewer passages than asked for, again with verbatim
     recall, so strings the segmenter split differently are found too (they
     rank after whole-word matches);
  3. when an implicit all-words query finds nothing, relaxation: passages
     with most of its words, ranked by how many they have, then by score
     (``SearchResult.relaxed``). An explicit AND is never relaxed.
Then excluded words are checked verbatim, multi-word query words that occur
verbatim earn a proximity bonus, and hits get highlights and snippets.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import config
from .errors import IndexCorruptError
from .engine.base import DocumentRecord, EngineReader, PassageRecord
from .highlight import highlight_spans, make_snippet
from .lexicon import LazyPinyinMap
from .models import Hit
from .query import parse as q
from .query.plan import Plan, plan
from .query.suggest import suggest
from .store import IndexStore, Snapshot
from .text import normalize

__all__ = ["ReaderPool", "View", "run_search", "run_all", "make_hit", "SearchOutcome"]

MAX_IDLE_READERS = 8  # readers kept per commit for reuse; more concurrent searches open and close their own


@dataclass
class _Commit:
    gen: Path
    commit: int
    snapshot: Snapshot
    cache: object
    pinyin: LazyPinyinMap
    manifest: object
    free: list = field(default_factory=list)
    in_use: int = 0
    stale: bool = False


@dataclass
class View:
    """What one search reads: an engine reader and the snapshot of the same commit."""

    reader: EngineReader
    snapshot: Snapshot
    pinyin: LazyPinyinMap
    manifest: object


class ReaderPool:
    """Engine readers of the live commit, lent to one search at a time."""

    def __init__(self, store: IndexStore, engine):
        self.store = store
        self.engine = engine
        self._lock = threading.Lock()
        self._commits: dict[tuple[Path, int], _Commit] = {}

    def _live(self) -> tuple[Path, int]:
        gen = self.store.current()
        return gen, self.engine.latest_commit(gen)

    def _commit(self, gen: Path, commit: int) -> _Commit:
        key = (gen, commit)
        with self._lock:
            c = self._commits.get(key)
        if c is not None:
            return c
        snapshot = self.store.snapshot(gen, commit)
        manifest = snapshot.read_manifest()  # refuses another format before the engine reads anything
        pinyin = snapshot.pinyin_path()
        if pinyin is None:  # pinyin queries would silently find nothing
            raise IndexCorruptError(f"The index at {self.store.path} has no pinyin map; rebuild it.")
        c = _Commit(gen, commit, snapshot, self.engine.new_cache(), LazyPinyinMap(pinyin), manifest)
        with self._lock:
            c = self._commits.setdefault(key, c)
            for k, other in self._commits.items():
                if k != key and not other.stale and (k[0] != gen or k[1] < commit):
                    other.stale = True
            self._reap()
        return c

    def _reap(self) -> None:
        """Close stale commits' idle readers, and their snapshots once no search uses them (lock held)."""
        for key in [k for k, c in self._commits.items() if c.stale]:
            c = self._commits[key]
            while c.free:
                _close_quietly(c.free.pop())
            if c.in_use == 0:
                c.snapshot.close()
                del self._commits[key]

    @contextlib.contextmanager
    def view(self) -> Iterator[View]:
        """A reader of the live commit for the duration of one search."""
        gen, commit = self._live()
        c = self._commit(gen, commit)
        reader = None
        with self._lock:
            if c.free:
                reader = c.free.pop()
            c.in_use += 1
        try:
            if reader is None:
                reader = self.engine.open_reader(gen, c.cache)
            if reader.commit != commit:  # a writer committed between the two looks
                _close_quietly(reader)
                reader = self.engine.open_reader(gen, c.cache)
                if reader.commit != commit:
                    c2 = self._commit(gen, reader.commit)
                    with self._lock:
                        c.in_use -= 1
                        c2.in_use += 1
                    c = c2
            yield View(reader, c.snapshot, c.pinyin, c.manifest)
        finally:
            with self._lock:
                c.in_use -= 1
                if reader is not None:
                    if c.stale or len(c.free) >= MAX_IDLE_READERS:
                        _close_quietly(reader)
                    else:
                        c.free.append(reader)
                self._reap()

    def close(self) -> None:
        with self._lock:
            for c in self._commits.values():
                c.stale = True
            self._reap()
            for c in self._commits.values():  # still in use by a search: closed when it ends
                c.snapshot.close()


def _close_quietly(reader) -> None:
    try:
        reader.close()
    except Exception:  # noqa: BLE001 - closing a reader of a deleted generation may fail; nothing to do
        pass


# --- searching -------------------------------------------------------------------------------------------


class _Stats:
    """Term statistics and pinyin look-ups for planning and suggestions, memoised for one search."""

    def __init__(self, reader: EngineReader, pinyin: LazyPinyinMap):
        self.reader = reader
        self.pinyin = pinyin
        self._df: dict[str, int] = {}

    def doc_frequency(self, term: str) -> int:
        if term not in self._df:
            self._df[term] = self.reader.doc_frequency(term)
        return self._df[term]

    def pinyin_words(self, syllables: tuple[str, ...]) -> set[str]:
        return self.pinyin.words(syllables)

    def terms_with_prefix(self, prefix: str):
        return self.reader.terms_with_prefix(prefix)


@dataclass
class SearchOutcome:
    """What ``run_search`` found: rows to show, and facts about the search."""

    total: int
    rows: list[tuple[PassageRecord, float]]
    plan: Plan
    suggestion: str = ""
    relaxed: bool = False


def run_search(view: View, query: str, node: q.Node, *, filters=(), dates: tuple[str, str] | None = None,
               limit: int, expand: bool = True, prefer_suggestion: bool = False, lexicon=None) -> SearchOutcome:
    """Execute a query within its filters; see the module docstring.

    With ``prefer_suggestion``, a query that finds nothing and has a "did you
    mean" suggestion is not relaxed: the caller will search the suggestion.
    """
    reader = view.reader
    stats = _Stats(reader, view.pinyin)
    p = plan(node, stats, expand=expand, filters=filters, lexicon=lexicon)
    recall = view.snapshot.recall()
    allowed = reader.allowed(p.filters, dates)
    window = max(limit, config.RERANK_WINDOW)
    total, rows = reader.search(p.root, allowed=allowed, limit=window, recall=recall)
    if len(rows) < limit and recall.available and p.root is not None:
        # Fewer hits than the window: every match is among the collected ones.
        found = frozenset(ref for ref, _score in rows)
        total, rows = reader.search(p.root, allowed=allowed, limit=window, recall=recall, exclude=found,
                                    with_verbatim=True)
    suggestion = _suggestion(reader, stats, recall, query, node, p, lexicon) if expand and (not rows or p.untranslated) else ""
    relaxed = False
    if not rows and p.concepts and not (prefer_suggestion and suggestion):
        total, rows = _relax(reader, p, allowed, recall, window)
        relaxed = bool(rows)
    records = [(reader.passage_at(ref), score) for ref, score in rows]
    if p.forbidden:
        kept = [r for r in records if not any(f in normalize(r[0].text) for f in p.forbidden)]
        total -= len(records) - len(kept)
        records = kept
    if p.adjacent and not relaxed:
        records = _rerank(records, p.adjacent)
    return SearchOutcome(total, records[:limit], p, suggestion, relaxed)


def _suggestion(reader, stats, recall, query: str, node, p: Plan, lexicon) -> str:
    """A "did you mean" query from the index's own vocabulary, or ""."""
    def finds(text: q.Text) -> bool:
        single = plan(text, stats, expand=False, lexicon=lexicon)
        return reader.search(single.root, allowed=None, limit=1, recall=recall, with_verbatim=True)[0] > 0

    english = lexicon.english_vocabulary() if lexicon is not None and p.untranslated else ()
    return suggest(query, node, p.untranslated, stats, finds, english)


def run_all(view: View, query: str, node: q.Node, *, filters=(), dates: tuple[str, str] | None = None,
            expand: bool = True, prefer_suggestion: bool = False, lexicon=None) -> SearchOutcome:
    """Every match of a query within its filters, best first, as (ref, score) rows (not records).

    The match set is what ``run_search`` pages through with an unbounded
    limit: passages found by the word index, then those holding a query
    word only verbatim (ranked after them); when no passage has every word of
    an implicit all-words query, the relaxed matches. Excluded words are
    checked verbatim and the proximity bonus reorders the top
    ``config.RERANK_WINDOW``, as in ``run_search``, so the first rows are
    the hits ``run_search`` shows. ``SearchOutcome.total`` is ``len(rows)``.
    """
    reader = view.reader
    stats = _Stats(reader, view.pinyin)
    p = plan(node, stats, expand=expand, filters=filters, lexicon=lexicon)
    recall = view.snapshot.recall()
    allowed = reader.allowed(p.filters, dates)
    everything = reader.passage_count() + 1
    if p.root is None:
        rows = [(ref, 0.0) for ref in sorted(allowed or ())]
    elif recall.available:
        # One scored pass: passages the words find keep their scores, the verbatim-only ones are added.
        words = reader.refs(p.root, allowed=allowed, recall=recall)
        _n, rows = reader.search(p.root, allowed=allowed, limit=everything, recall=recall, exclude=words,
                                 with_verbatim=True)
    else:
        _n, rows = reader.search(p.root, allowed=allowed, limit=everything, recall=recall)
    suggestion = _suggestion(reader, stats, recall, query, node, p, lexicon) if expand and (not rows or p.untranslated) else ""
    relaxed = False
    if not rows and p.concepts and not (prefer_suggestion and suggestion):
        _n, rows = _relax(reader, p, allowed, recall, everything)
        relaxed = bool(rows)
    if p.forbidden and rows:
        rows = _drop_forbidden(reader, recall, rows, p.forbidden)
    if p.adjacent and not relaxed and rows:
        top = [(reader.passage_at(ref), score, ref) for ref, score in rows[: config.RERANK_WINDOW]]
        bonus = {ref: score + sum(config.ADJACENT_BONUS for a in p.adjacent if a in normalize(rec.text))
                 for rec, score, ref in top}
        head = sorted(((ref, bonus[ref]) for _rec, _s, ref in top), key=lambda r: -r[1])
        rows = head + rows[config.RERANK_WINDOW :]
    return SearchOutcome(len(rows), rows, p, suggestion, relaxed)


def _drop_forbidden(reader, recall, rows, forbidden) -> list:
    """Rows whose passage holds no excluded word verbatim."""
    if recall.available:
        # Id look-ups cost more than reading a passage only when the excluded word is the commoner.
        banned: set = set()
        for f in forbidden:
            ids = recall.find(f, cap=len(rows))
            if ids is None:
                break
            banned.update(reader.docnums_for_ids(ids))
        else:
            return [r for r in rows if r[0] not in banned]
    return [r for r in rows if not any(f in normalize(reader.passage_at(r[0]).text) for f in forbidden)]


def _relax(reader: EngineReader, p: Plan, allowed, recall, window: int):
    """Passages with most of the query's parts: by how many parts they have, then by score."""
    candidates = reader.refs(p.root, allowed=allowed, recall=recall, with_verbatim=True, min_match=1)
    if not candidates:
        return 0, []
    counts: Counter = Counter()
    for part in p.concepts:
        counts.update(reader.refs(part, allowed=candidates, recall=recall, with_verbatim=True))
    tiers: dict[int, set] = {}
    for ref in candidates:
        tiers.setdefault(counts[ref], set()).add(ref)
    rows: list = []
    for k in sorted(tiers, reverse=True):
        if len(rows) >= window:
            break
        _n, tier_rows = reader.search(p.root, allowed=frozenset(tiers[k]), limit=window - len(rows), recall=recall,
                                      with_verbatim=True, min_match=1)
        rows.extend(tier_rows)
    return len(candidates), rows


def _rerank(records: list[tuple[PassageRecord, float]], adjacent) -> list[tuple[PassageRecord, float]]:
    """Within the top window, passages that hold a multi-word query word verbatim rank higher.

    (The index keeps no word positions; this restores phrase-proximity
    ranking where it matters, for the passages that can be shown.)
    """
    out = []
    for rec, score in records:
        norm = normalize(rec.text)
        out.append((rec, score + sum(config.ADJACENT_BONUS for a in adjacent if a in norm)))
    out.sort(key=lambda r: -r[1])
    return out


def make_hit(rec: PassageRecord, doc: DocumentRecord | None, score: float, needles, context: tuple[Hit, ...] = ()
             ) -> Hit:
    """A ``Hit`` from a passage record and its document's record."""
    spans = highlight_spans(rec.text, needles) if needles else []
    return Hit(
        id=rec.id,
        doc_id=rec.doc_id,
        title=doc.title if doc else "",
        date=doc.date if doc else "",
        source=doc.source if doc else "",
        paragraph=rec.paragraph,
        section=rec.section,
        text=rec.text,
        snippet=make_snippet(rec.text, spans),
        score=round(float(score), 4),
        highlights=tuple(spans),
        start=rec.start,
        end=rec.end,
        path=doc.path if doc else "",
        topics=rec.topics,
        context=context,
        metadata=(doc.metadata if doc else {}) or {},
        page=rec.page or None,
        rel=(doc.rel or Path(doc.path).name) if doc else "",
    )
