"""Plan → Whoosh query.

Each alternative of a concept becomes an OR of
  * exact word matches in text, section and title (all its words, when it
    segments into several), boosted;
  * all its words anywhere in the passage (when it has several);
and, in the verbatim pass, of
  * the passages whose text contains the string verbatim (kb's recall file),
    which finds it even where the segmenter split it differently,
so passages with whole-word matches rank first and none is missed. A
verbatim alternative (a quoted phrase) requires the verbatim string.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from whoosh import matching
from whoosh import query as wq

from ... import config
from ...query.plan import AllOf, Alternative, AnyOf, Concept, Exclude, Match
from ...text import has_cjk

__all__ = ["DocSet", "Compiler"]


class DocSet(wq.Query):
    """Matches a fixed set of (top-level) document numbers with a constant score."""

    def __init__(self, docnums: frozenset[int], boost: float = 1.0):
        self.docnums = docnums
        self.boost = boost

    def __repr__(self):
        return f"DocSet({len(self.docnums)} docs, boost={self.boost})"

    def __eq__(self, other):
        return isinstance(other, DocSet) and other.docnums == self.docnums and other.boost == self.boost

    def __hash__(self):
        return hash((self.docnums, self.boost))

    def estimate_size(self, ixreader):
        return len(self.docnums)

    def matcher(self, searcher, context=None):
        top = searcher.get_parent()
        offset = 0 if top is searcher else (top._offset_for_subsearcher(searcher) or 0)
        reader = searcher.reader()
        n = reader.doc_count_all()
        ids = sorted(
            d - offset for d in self.docnums if offset <= d < offset + n and not reader.is_deleted(d - offset)
        )
        if not ids:
            return matching.NullMatcher()
        return matching.ListMatcher(ids, all_weights=self.boost)


def _all_words(fieldname: str, words) -> wq.Query:
    if len(words) == 1:
        return wq.Term(fieldname, words[0])
    return wq.And([wq.Term(fieldname, w) for w in words])


def _boosted(qry, boost: float):
    """Scale a query's scores by ``boost``.

    The factor goes onto the leaves: Whoosh drops the boost of a compound
    query when normalising it to its only child.
    """
    if boost == 1.0 or qry is None:
        return qry
    if isinstance(qry, wq.Not):
        return qry
    if hasattr(qry, "subqueries"):
        for child in qry.subqueries:
            _boosted(child, boost)
    elif hasattr(qry, "a") and hasattr(qry, "b"):  # AndMaybe and friends
        _boosted(qry.a, boost)
        _boosted(qry.b, boost)
    else:
        qry.boost = qry.boost * boost
    return qry


@dataclass
class Compiler:
    """Compiles plan nodes for one Whoosh searcher.

    ``reader`` is the ``WhooshReader`` (for id look-ups, cached title and filter
    sets); ``recall`` the verbatim-recall file (or None). With ``verbatim``,
    every word also matches the passages that hold it verbatim, except those
    in ``exclude`` (found by the word index already, so they keep their scores).
    """

    reader: "object"
    recall: "object | None" = None
    verbatim: bool = False
    exclude: frozenset[int] = frozenset()
    matchers: int = 0  # leaf queries built: the work a query costs
    _ids: dict = field(default_factory=dict)

    # -- verbatim recall ---------------------------------------------------------------------------
    def verbatim_ids(self, needle: str) -> list[str] | None:
        """Ids of passages that contain ``needle`` verbatim (None: unavailable or too common)."""
        if self.recall is None or not self.recall.available or not needle:
            return None
        if needle not in self._ids:
            self._ids[needle] = self.recall.find(needle, cap=config.VERBATIM_CAP)
        return self._ids[needle]

    def verbatim_docs(self, needle: str, restrict: frozenset[str] | None = None) -> frozenset[int] | None:
        """Document numbers of the passages holding ``needle`` (only ids in ``restrict`` when given)."""
        ids = self.verbatim_ids(needle)
        if ids is None:
            return None
        if restrict is not None:
            ids = [i for i in ids if i in restrict]
        return self.reader.docnums_for_ids(ids)

    # -- nodes -------------------------------------------------------------------------------------
    def compile(self, node, *, negated: bool = False):
        """The Whoosh query of a plan node (None when nothing in it can match)."""
        if isinstance(node, Concept):
            return self.concept(node, negated=negated)
        if isinstance(node, Match):
            fq = DocSet(self.reader.match_docs(node))
            return fq if negated else wq.ConstantScoreQuery(fq, 0.0)
        if isinstance(node, Exclude):
            if node.verbatim:
                inner = self.compile(node.child, negated=True)
            else:  # the caller drops passages that hold it verbatim, after collecting
                saved, self.verbatim = self.verbatim, False
                try:
                    inner = self.compile(node.child)
                finally:
                    self.verbatim = saved
            return None if inner is None else wq.Not(inner)
        if isinstance(node, AnyOf):
            kids = [k for k in (self.compile(c, negated=negated) for c in node.children) if k is not None]
            if not kids:
                return None
            return kids[0] if len(kids) == 1 else wq.Or(kids)
        if isinstance(node, AllOf):
            return self.all_of(node, negated=negated)
        raise AssertionError(node)  # pragma: no cover

    def all_of(self, node: AllOf, *, negated: bool = False, min_match: int = 0):
        """AND of the children; with ``min_match`` (for relaxation) an OR of the positive ones instead."""
        restrict = self._common_verbatim(node.children) if not negated else None
        kids = []
        for c in node.children:
            if restrict is not None and isinstance(c, Concept) and self._restrictable(c):
                k = self.concept(c, restrict=restrict)
            else:
                k = self.compile(c, negated=negated)
            if k is not None:
                kids.append(k)
        pos = [k for k in kids if not isinstance(k, wq.Not)]
        neg = [k.query for k in kids if isinstance(k, wq.Not)]
        if not pos:
            return None
        if len(pos) == 1:
            base = pos[0]
        elif min_match:
            base = wq.Or(pos)
        else:
            base = wq.And(pos)
        optional = [k for k in (self.compile(c) for c in node.optional) if k is not None]
        if optional:
            base = wq.AndMaybe(base, optional[0] if len(optional) == 1 else wq.Or(optional))
        # Not AndNot: Whoosh's AndNotMatcher misses exclusions that match before the first positive hit.
        return wq.And([base, wq.Not(wq.Or(neg))]) if neg else base

    @staticmethod
    def _restrictable(c: Concept) -> bool:
        first = c.alternatives[0]
        return first.origin == "query" and not first.verbatim and has_cjk(first.text)

    def _common_verbatim(self, children) -> frozenset[str] | None:
        """In the verbatim pass, ids of passages whose text holds every Chinese word of an AND verbatim.

        Only those ids are looked up (an id look-up costs ~20 µs; a common word has thousands).
        """
        if not self.verbatim or self.recall is None or not self.recall.available:
            return None
        words = [c for c in children if isinstance(c, Concept) and self._restrictable(c)]
        if len(words) < 2:
            return None
        common: frozenset[str] | None = None
        for c in words:
            ids = self.verbatim_ids(c.alternatives[0].text)
            if ids is None:
                return None
            common = frozenset(ids) if common is None else common & frozenset(ids)
        return common

    def concept(self, node: Concept, *, negated: bool = False, restrict: frozenset[str] | None = None):
        alts = []
        for i, alt in enumerate(node.alternatives):
            k = self.alternative(alt, negated=negated, restrict=restrict if i == 0 else None)
            if k is not None:
                alts.append(k)
        if not alts:
            return None
        return alts[0] if len(alts) == 1 else wq.Or(alts)

    def alternative(self, alt: Alternative, *, negated: bool = False, restrict: frozenset[str] | None = None):
        """The Whoosh query of one alternative (see the module docstring)."""
        words = list(alt.words)
        self.matchers += max(1, len(words))
        if alt.verbatim:
            exact = wq.Or([_all_words(f, words) for f in ("text", "section")]) if words else None
            docs = self.verbatim_docs(alt.text)
            if docs is None:
                return _boosted(exact, alt.boost)
            found = DocSet(docs, config.VERBATIM_BOOST)
            # The verbatim match is required; the words add their BM25F score.
            return _boosted(found if exact is None else wq.AndMaybe(found, exact), alt.boost)
        parts = []
        if words:
            exact = [_all_words(f, words) for f in ("text", "section")]
            title = self.reader.title_docs(tuple(words))
            if title:
                exact.append(DocSet(title, config.TITLE_BOOST))
            parts.append(_boosted(wq.Or(exact), config.EXACT_BOOST))
            if len(words) > 1:
                loose = wq.And([wq.Or([wq.Term(f, w) for f in ("text", "section")]) for w in words])
                parts.append(_boosted(loose, config.LOOSE_BOOST))
        if (self.verbatim or negated) and self.recall is not None:
            docs = self.verbatim_docs(alt.text, restrict)
            if docs and not negated:
                docs = docs - self.exclude  # only what the words missed: found passages keep their scores
            if docs:
                parts.append(DocSet(docs, config.VERBATIM_BOOST))
        if not parts:
            return None
        return _boosted(parts[0] if len(parts) == 1 else wq.Or(parts), alt.boost)

    # -- match sets ----------------------------------------------------------------------------------
    def docs(self, node, *, min_match: int = 0) -> frozenset[int]:
        """The passages a plan node matches, as a set: what ``compile`` matches, without scores.

        A word matches the passages whose text or section path holds it, or
        whose document's title does; an alternative of several words needs
        all of them; in the verbatim pass, the passages holding the string
        verbatim match too. ``min_match`` on an ``AllOf`` (relaxation) makes
        any of its positive children enough.
        """
        if isinstance(node, Concept):
            out: set[int] = set()
            for alt in node.alternatives:
                out |= self.alternative_docs(alt)
            return frozenset(out)
        if isinstance(node, Match):
            return frozenset(self.reader.match_docs(node))
        if isinstance(node, AnyOf):
            out = set()
            for c in node.children:
                out |= self.docs(c)
            return frozenset(out)
        if isinstance(node, AllOf):
            pos = [c for c in node.children if not isinstance(c, Exclude)]
            neg = [c.child for c in node.children if isinstance(c, Exclude)]
            if not pos:
                return frozenset()
            sets = sorted((self.docs(c) for c in pos), key=len)
            if min_match:
                found = frozenset().union(*sets)
            else:
                found = sets[0]
                for other in sets[1:]:
                    if not found:
                        break
                    found = found & other
            for c in neg:
                if not found:
                    break
                found = found - self._excluded_docs(c)
            return found
        if isinstance(node, Exclude):  # pragma: no cover - only inside AllOf
            return frozenset()
        raise AssertionError(node)  # pragma: no cover

    def _excluded_docs(self, node) -> frozenset[int]:
        saved, self.verbatim = self.verbatim, True
        try:
            return self.docs(node)
        finally:
            self.verbatim = saved

    def _word_docs(self, word: str) -> frozenset[int]:
        key = ("word", word)
        if key not in self._ids:
            self.matchers += 1
            self._ids[key] = self.reader.term_refs("text", word) | self.reader.term_refs("section", word)
        return self._ids[key]

    def alternative_docs(self, alt: Alternative) -> frozenset[int]:
        """The passages one alternative matches (see ``docs``)."""
        words = list(dict.fromkeys(alt.words))
        if alt.verbatim:
            docs = self.verbatim_docs(alt.text)
            if docs is not None:  # the string itself is required; its words only score
                return frozenset(docs)
        found: frozenset[int] = frozenset()
        if words:
            sets = sorted((self._word_docs(w) for w in words), key=len)
            found = sets[0]
            for other in sets[1:]:
                if not found:
                    break
                found = found & other
            if not alt.verbatim:
                found = found | self.reader.title_docs(tuple(alt.words))
        if self.verbatim and not alt.verbatim:
            docs = self.verbatim_docs(alt.text)
            if docs:
                found = found | docs
        return found
