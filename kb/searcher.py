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
  3. relaxation, when an implicit all-words query finds nothing (or, for a
     question or one query word made of known terms, fewer passages than
     asked for): passages with part of it, ranked by how much of it they
     cover (for a question, parts weighted by rarity), then by score
     (``SearchResult.relaxed``). A question is ranked this way from the
     start. An explicit AND is never relaxed.
Then, among the top ``config.RERANK_WINDOW``: excluded words are checked
verbatim, expansions found only in the wrong sense are dropped (a company
that 落户 somewhere is no hit for 户籍), multi-word query words that occur
verbatim earn a proximity bonus, heading-only passages go last in their
tier, very short ones lose some score, and copies of one text are shown
once (``Hit.also_in``). Hits get highlights and snippets.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import config
from .errors import IndexCorruptError
from .engine.base import DocumentRecord, EngineReader, PassageRecord
from .highlight import highlight_spans, make_snippet
from .lexicon import LazyPinyinMap, sense_holds_in
from .models import Hit
from .query import parse as q
from .query.plan import Concept, Plan, plan
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

    def __init__(self, reader: EngineReader, pinyin: LazyPinyinMap, recall=None):
        self.reader = reader
        self.pinyin = pinyin
        self.recall = recall
        self._df: dict[str, int] = {}

    def passages(self, node) -> frozenset:
        """The passages a plan node matches by its words (for how words of a query relate)."""
        return _matching(self.reader, node, allowed=None)

    def passage_count(self) -> int:
        return self.reader.passage_count()

    def verbatim_count(self, text: str) -> int | None:
        """Passages holding ``text`` verbatim (None when the recall file cannot say)."""
        if self.recall is None or not self.recall.available:
            return None
        ids = self.recall.find(text, cap=config.VERBATIM_CAP)
        return config.VERBATIM_CAP if ids is None else len(ids)

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
    """What ``run_search`` found: rows to show, and facts about the search.

    ``also_in`` maps the id of a shown passage to the ids of passages with
    the same text in other places (copies collapsed into it).
    """

    total: int
    rows: list[tuple[PassageRecord, float]]
    plan: Plan
    suggestion: str = ""
    relaxed: bool = False
    also_in: dict[str, tuple[str, ...]] = field(default_factory=dict)


def run_search(view: View, query: str, node: q.Node, *, filters=(), dates: tuple[str, str] | None = None,
               limit: int, expand: bool = True, prefer_suggestion: bool = False, lexicon=None) -> SearchOutcome:
    """Execute a query within its filters; see the module docstring.

    With ``prefer_suggestion``, a query that finds nothing and has a "did you
    mean" suggestion is not relaxed: the caller will search the suggestion.
    """
    reader = view.reader
    recall = view.snapshot.recall()
    stats = _Stats(reader, view.pinyin, recall)
    p = plan(node, stats, expand=expand, filters=filters, lexicon=lexicon)
    allowed = reader.allowed(p.filters, dates)
    window = max(limit, config.RERANK_WINDOW)
    tiers: dict = {}
    if p.natural and p.parts:
        # A question: ranked by how much of it a passage covers (those with all of it first).
        total, rows, tiers = _relax(reader, p, allowed, recall, window)
    else:
        total, rows = reader.search(p.root, allowed=allowed, limit=window, recall=recall)
        if len(rows) < limit and recall.available and p.root is not None:
            # Fewer hits than the window: every match is among the collected ones.
            found = frozenset(ref for ref, _score in rows)
            total, rows = reader.search(p.root, allowed=allowed, limit=window, recall=recall, exclude=found,
                                        with_verbatim=True)
    suggestion = _suggestion(reader, stats, recall, query, node, p, lexicon) if expand and (not rows or p.untranslated) else ""
    if not tiers and p.parts and (not rows or (p.fill and len(rows) < limit)) \
            and not (prefer_suggestion and suggestion and not rows):
        # Too few passages have every word: those with most of them follow.
        total, rows, tiers = _relax(reader, p, allowed, recall, window, rows)
    records = [(reader.passage_at(ref), score, tiers.get(ref, 1.0)) for ref, score in rows]
    records, dropped = _checked(records, p, lexicon)
    total -= dropped
    records = _rerank(records, p.adjacent)
    records, also_in, copies = _collapse(records)
    total -= copies
    shown = records[:limit]
    relaxed = any(tier < 1.0 for _rec, _score, tier in shown)
    return SearchOutcome(total, [(rec, score) for rec, score, _tier in shown], p, suggestion, relaxed,
                         {k: v for k, v in also_in.items() if any(rec.id == k for rec, _s, _t in shown)})


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
    an implicit all-words query (or a question has fewer than
    ``config.RERANK_WINDOW`` such passages), the relaxed matches after them.
    Excluded words are checked verbatim; expansions in the wrong sense, the
    proximity bonus and collapsed copies are applied to the top
    ``config.RERANK_WINDOW``, as in ``run_search``, so the first rows are the
    hits ``run_search`` shows. ``SearchOutcome.total`` is ``len(rows)``.
    """
    reader = view.reader
    recall = view.snapshot.recall()
    stats = _Stats(reader, view.pinyin, recall)
    p = plan(node, stats, expand=expand, filters=filters, lexicon=lexicon)
    allowed = reader.allowed(p.filters, dates)
    everything = reader.passage_count() + 1
    tiers: dict = {}
    if p.root is None:
        rows = [(ref, 0.0) for ref in sorted(allowed or ())]
    elif p.natural and p.parts:
        _n, rows, tiers = _relax(reader, p, allowed, recall, everything)
    elif recall.available:
        # One scored pass: passages the words find keep their scores, the verbatim-only ones are added.
        words = reader.refs(p.root, allowed=allowed, recall=recall)
        _n, rows = reader.search(p.root, allowed=allowed, limit=everything, recall=recall, exclude=words,
                                 with_verbatim=True)
    else:
        _n, rows = reader.search(p.root, allowed=allowed, limit=everything, recall=recall)
    suggestion = _suggestion(reader, stats, recall, query, node, p, lexicon) if expand and (not rows or p.untranslated) else ""
    if not tiers and p.parts and (not rows or (p.fill and len(rows) < config.RELAX_BELOW)) \
            and not (prefer_suggestion and suggestion and not rows):
        _n, rows, tiers = _relax(reader, p, allowed, recall, everything, rows)
    if p.forbidden and rows:
        rows = _drop_forbidden(reader, recall, rows, p.forbidden)
    also_in: dict[str, tuple[str, ...]] = {}
    relaxed = bool(tiers) and any(t < 1.0 for t in tiers.values())
    if rows:
        head = [(reader.passage_at(ref), score, tiers.get(ref, 1.0), ref) for ref, score in rows[: config.RERANK_WINDOW]]
        refs = {id(rec): ref for rec, _s, _t, ref in head}
        checked, _dropped = _checked([(rec, s, t) for rec, s, t, _r in head], p, lexicon)
        ranked, also_in, _copies = _collapse(_rerank(checked, p.adjacent))
        rows = [(refs[id(rec)], score) for rec, score, _t in ranked] + rows[config.RERANK_WINDOW :]
    return SearchOutcome(len(rows), rows, p, suggestion, relaxed, also_in)


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


def _relax(reader: EngineReader, p: Plan, allowed, recall, window: int, strict=()):
    """The passages with all or part of the query: by coverage, then by score.

    Returns (total, rows, coverage by ref). A passage's coverage is the share
    of the query's parts it holds; those with every part have coverage 1.
    For words typed as keywords each part counts one: the user chose every
    one, so a passage with more of them ranks first, then by score. For a
    question or natural phrase (``Plan.natural``) or a single word made of
    known terms (``Plan.split``), the parts are the need the text expresses,
    not words the user chose one by one: each is weighted by its rarity
    (inverse passage frequency) and its ``weight`` (a dictionary-translated
    word counts less), in steps of 1/``config.RELAX_TIERS``, so 养老金 counts
    more than 提高. Rows are collected tier by tier, best first, until ``window``
    is reached (whole tiers). ``strict`` rows (found with every part) come
    first, in their order.
    """
    parts = p.parts
    root = p.relaxed_root()
    strict = list(strict)
    candidates = _matching(reader, root, allowed=allowed, recall=recall, with_verbatim=True, min_match=1)
    if not candidates:
        return len(strict), strict, {ref: 1.0 for ref, _score in strict}
    n = max(1, reader.passage_count())
    weighted = p.natural or bool(p.split)
    cover: dict = {}
    total_weight = 0.0
    for part in parts:
        found = _matching(reader, part, allowed=candidates, recall=recall, with_verbatim=True)
        if weighted:
            w = math.log(1 + n / (1 + len(found))) ** config.RELAX_IDF_POWER * getattr(part, "weight", 1.0)
        else:
            w = 1.0
        total_weight += w
        for ref in found:
            cover[ref] = cover.get(ref, 0.0) + w
    tiers: dict = {ref: 1.0 for ref, _score in strict}
    by_tier: dict[float, list] = {}
    for ref in candidates:
        if ref in tiers:
            continue
        share = cover.get(ref, 0.0) / total_weight if total_weight else 0.0
        t = _tier(share) if weighted else share
        tiers[ref] = t
        by_tier.setdefault(t, []).append(ref)
    chosen: set = set()
    for t in sorted(by_tier, reverse=True):
        if len(chosen) + len(strict) >= window:
            break
        chosen.update(by_tier[t])
    rows = []
    if chosen:
        _n, rows = reader.search(root, allowed=frozenset(chosen), limit=len(chosen), recall=recall,
                                 with_verbatim=True, min_match=1)
        rows.sort(key=lambda r: (-tiers[r[0]], -r[1]))
    return len(candidates | {ref for ref, _score in strict}), strict + rows, tiers


def _matching(reader, node, **kw) -> frozenset:
    """The passages a node matches, by sets of postings when the engine can (``refs`` otherwise)."""
    fn = getattr(reader, "matching", None)
    return fn(node, **kw) if fn is not None else reader.refs(node, **kw)


def _tier(share: float) -> float:
    """A coverage share in steps of 1/RELAX_TIERS (rounded down; all of it is 1.0)."""
    if share >= 1.0 - 1e-9:
        return 1.0
    return math.floor(share * config.RELAX_TIERS + 1e-9) / config.RELAX_TIERS


def _sense_checks(p: Plan, lexicon) -> list:
    """(concept's other alternatives, [(alternative, sense rule)]) for each required concept with sense-bound expansions."""
    if lexicon is None:
        from .lexicon import default_lexicon

        lexicon = default_lexicon()
    root = p.root
    concepts = [root] if isinstance(root, Concept) else [c for c in getattr(root, "children", ()) if isinstance(c, Concept)]
    out = []
    for c in concepts:
        bound = []
        for a in c.alternatives:
            if a.sense:
                rule = lexicon.sense_rule(a.text, [a.sense])
                if rule is not None:
                    bound.append((a, rule))
        if bound:
            out.append(([a for a in c.alternatives if not a.sense], bound))
    return out


def _in_sense(hay: str, checks) -> bool:
    """False when, for some concept, the passage holds only sense-bound expansions, none in its sense."""
    for free, bound in checks:
        if any(a.words and all(w in hay for w in a.words) for a in free):
            continue
        present = [(a, rule) for a, rule in bound if a.text in hay]
        if present and not any(sense_holds_in(rule, a.text, hay) for a, rule in present):
            return False
    return True


def _checked(records, p: Plan, lexicon) -> tuple[list, int]:
    """Records without excluded words and without expansions in the wrong sense; and how many were dropped."""
    checks = _sense_checks(p, lexicon)
    if not p.forbidden and not checks:
        return records, 0
    out = []
    for rec, score, tier in records:
        text = normalize(rec.text)
        if p.forbidden and any(f in text for f in p.forbidden):
            continue
        if checks and not _in_sense(normalize(rec.section) + "\n" + text, checks):
            continue
        out.append((rec, score, tier))
    return out, len(records) - len(out)


def _rerank(records, adjacent) -> list:
    """Records ordered by coverage, then score with the proximity bonus; heading-only passages last in their tier.

    (The index keeps no word positions; the bonus for a multi-word query word
    found verbatim restores phrase-proximity ranking where it matters, for
    the passages that can be shown.)
    """
    out = []
    for rec, score, tier in records:
        if adjacent:
            norm = normalize(rec.text)
            score += sum(config.ADJACENT_BONUS for a in adjacent if a in norm)
        out.append((rec, score * _brevity(rec.text), tier))
    out.sort(key=lambda r: (-r[2], _is_heading(r[0]), -r[1]))
    return out


def _brevity(text: str) -> float:
    """A score factor below 1 for a passage too short to say much (a list item, a one-line snippet).

    BM25's length normalisation ranks a one-line mention of a word above a
    paragraph about it; the factor evens that out.
    """
    n = len(text.strip())
    if n >= config.SHORT_PASSAGE_CHARS:
        return 1.0
    return max(0.0, n / config.SHORT_PASSAGE_CHARS) ** config.SHORT_PASSAGE_POWER


_SENTENCE = re.compile(r"[。！？；!?;：:，,]")


def _is_heading(rec: PassageRecord) -> bool:
    """A passage that is only a heading: short, no sentence punctuation (一、总体要求; 第三章 户籍管理)."""
    text = rec.text.strip()
    return len(text) <= config.HEADING_MAX_CHARS and not _SENTENCE.search(text)


_SPACE = re.compile(r"\s+")


def _collapse(records) -> tuple[list, dict[str, tuple[str, ...]], int]:
    """Records with copies of a passage's text (in another document or place) folded into the first.

    Returns (records, also_in: shown id → ids of its copies, copies removed).
    """
    first: dict[str, str] = {}
    also: dict[str, list[str]] = {}
    out = []
    for rec, score, tier in records:
        key = _SPACE.sub("", rec.text)  # copies are the same text; normalising every passage costs more
        if len(key) >= config.COLLAPSE_MIN_CHARS:
            keeper = first.get(key)
            if keeper is not None:
                also.setdefault(keeper, []).append(rec.id)
                continue
            first[key] = rec.id
        out.append((rec, score, tier))
    return out, {k: tuple(v) for k, v in also.items()}, len(records) - len(out)


def make_hit(rec: PassageRecord, doc: DocumentRecord | None, score: float, needles, context: tuple[Hit, ...] = (),
             also_in: tuple[str, ...] = ()) -> Hit:
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
        also_in=also_in,
    )
