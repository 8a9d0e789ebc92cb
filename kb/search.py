"""Read side: parsed queries → Whoosh queries → ``Hit`` values with highlights.

Each query word becomes an OR of
  * exact word matches in text, section and title (all its words, when it
    segments into several), boosted;
  * all its words anywhere in the passage (when it has several);
and, when that finds fewer passages than were asked for, of
  * the passages whose text contains the string verbatim (``kb.recall``),
    which finds it even where the segmenter split it differently,
so passages with whole-word matches rank first and none is missed. A quoted
phrase requires the verbatim string.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterable

from whoosh import matching
from whoosh import query as wq
from whoosh.scoring import BM25F

from . import query as q
from .text import normalize
from .text.segment import query_words
from .errors import QueryError
from .text.dates import date_bounds, normalize_date
from .models import Expansion, Hit

__all__ = [
    "compile_query",
    "Compiled",
    "Verbatim",
    "DocSet",
    "make_hit",
    "highlight_spans",
    "make_snippet",
    "date_filter",
    "date_docs",
    "run_search",
]

LOOSE = "\x00"  # marks a highlight needle of secondary rank
EXACT_BOOST = 3.0
LOOSE_BOOST = 1.0
VERBATIM_BOOST = 0.5
_SENT_END = "。！？；!?;"
SNIPPET_CHARS = 160
VERBATIM_CAP = 20_000
RERANK_WINDOW = 100
MAX_WORDS_PER_TERM = 32  # a longer run without spaces is matched by its first words and verbatim
ADJACENT_BONUS = 2.0
TITLE_BOOST = 0.7  # per query word found in the document's title (times EXACT_BOOST)


@dataclass
class Compiled:
    """A Whoosh query plus what to highlight and how the query was expanded."""

    query: Any
    needles: list[str] = field(default_factory=list)
    expansions: list[Expansion] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    adjacent: list[str] = field(default_factory=list)  # multi-word query words, for proximity ranking
    forbidden: list[str] = field(default_factory=list)  # excluded words: no passage may hold them verbatim


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


class Verbatim:
    """Passages containing a string verbatim, from the recall file, as document numbers."""

    def __init__(self, searcher, recall_file):
        self.searcher = searcher
        self.recall = recall_file
        self.exclude: frozenset[int] = frozenset()  # passages the word index already found
        self.restrict: frozenset[str] | None = None
        self._ids: dict[str, list[str] | None] = {}
        self._nums: dict[str, int | None] = {}

    @property
    def available(self) -> bool:
        """True when the recall file can be scanned."""
        return self.recall is not None and self.recall.available

    def title_docs(self, words: list[str]) -> DocSet | None:
        """The passages of documents whose title has all ``words``, scored as a title match."""
        memo = _cache(self.searcher)  # a searcher sees one state of the index: keep across searches
        key = ("title", tuple(words))
        if key not in memo:
            s = self.searcher
            records = s.docs_for_query(_all_words("title", words))
            doc_ids = [s.stored_fields(n).get("docrec") for n in records]
            q = wq.Or([wq.Term("doc_id", d) for d in doc_ids if d])
            memo[key] = frozenset(s.docs_for_query(q)) if doc_ids else frozenset()
        nums = memo[key]
        return DocSet(nums, TITLE_BOOST) if nums else None

    def ids(self, needle: str) -> list[str] | None:
        """Ids of the passages that contain ``needle`` verbatim (None: unavailable or too common)."""
        if self.recall is None or not self.recall.available or not needle:
            return None
        if needle not in self._ids:
            self._ids[needle] = self.recall.find(needle, cap=VERBATIM_CAP)
        return self._ids[needle]

    def docs(self, needle: str) -> frozenset[int] | None:
        """Document numbers, or None when unavailable or too common to list.

        Within an AND of several words, ``restrict`` holds the ids that contain
        all of them verbatim, and only those are looked up (an id lookup costs
        ~20 µs; a common word has thousands).
        """
        ids = self.ids(needle)
        if ids is None:
            return None
        if self.restrict is not None:
            ids = [i for i in ids if i in self.restrict]
        out = set()
        for pid in ids:
            if pid not in self._nums:
                self._nums[pid] = self.searcher.document_number(id=pid)
            if self._nums[pid] is not None:
                out.add(self._nums[pid])
        return frozenset(out)


_PLAIN = re.compile(r"[0-9a-z]+(?: [0-9a-z]+)*")


def _words(value: str, searcher=None, curated: bool = False) -> list[str]:
    """The words of a query word, without loading the segmenter when the index already knows them.

    A string that is itself a term of the index is one word (户籍, 城乡融合发展);
    plain Latin words and numbers split at spaces. A ``curated`` Chinese term
    (from the glossary, topics or synonyms) is split into the longest words the
    index has; anything else is segmented.
    """
    norm = normalize(value).strip()
    if searcher is not None and norm and " " not in norm and searcher.doc_frequency("text", norm) > 0:
        return [norm]
    if _PLAIN.fullmatch(norm):
        return norm.split(" ")
    if curated and searcher is not None and _CJK_RUN.fullmatch(norm):
        words = _lexicon_split(searcher, norm)
        if words:
            return words
    return query_words(value)


_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,24}")


def _lexicon_split(searcher, norm: str) -> list[str] | None:
    """Forward maximum matching of a Chinese string against the index's own words.

    Every word it returns occurs in the index; None when some part cannot be
    covered (then the segmenter decides).
    """
    out = []
    i = 0
    while i < len(norm):
        for j in range(min(len(norm), i + 8), i, -1):
            if searcher.doc_frequency("text", norm[i:j]) > 0:
                out.append(norm[i:j])
                i = j
                break
        else:
            return None
    return out


def _all_words(fieldname: str, words: list[str]):
    if len(words) == 1:
        return wq.Term(fieldname, words[0])
    return wq.And([wq.Term(fieldname, w) for w in words])


def text_query(value: str, *, phrase: bool, verbatim: Verbatim | None = None,
               recall: bool = False, negated: bool = False, curated: bool = False) -> tuple[Any, list[str]]:
    """The Whoosh query for one query word (or quoted phrase) and its highlight needles.

    A phrase must occur verbatim in the passage text (checked with
    ``verbatim``; without it, or for a string too common to list, all its
    words are required instead). With ``recall``, passages that contain an
    unquoted word verbatim match too, with a low score. A ``negated`` word
    always includes its verbatim matches, so NOT excludes every passage that
    contains it.
    """
    words = _words(value, verbatim.searcher if verbatim is not None else None, curated)[:MAX_WORDS_PER_TERM]
    norm = normalize(value).strip()
    if not words and not norm:
        return None, []
    needles = [norm] if norm else []
    if phrase:
        exact = wq.Or([_all_words(f, words) for f in ("text", "section")]) if words else None
        docs = verbatim.docs(norm) if verbatim is not None else None
        if docs is None:
            if exact is None:
                return None, []
            return exact, needles
        found = DocSet(docs, VERBATIM_BOOST)
        # The verbatim match is required; the words add their BM25F score.
        return (found if exact is None else wq.AndMaybe(found, exact)), needles
    alts = []
    if words:
        exact = [_all_words(f, words) for f in ("text", "section")]
        title = verbatim.title_docs(words) if verbatim is not None else None
        if title is not None:
            exact.append(title)
        alts.append(_boosted(wq.Or(exact), EXACT_BOOST))
        if len(words) > 1:
            loose = _boosted(wq.And([wq.Or([wq.Term(f, w) for f in ("text", "section")]) for w in words]), LOOSE_BOOST)
            alts.append(loose)
            # The words of a loosely matched multi-word query; highlighted only where the whole is absent.
            needles.extend(LOOSE + w for w in words if len(w) > 1)
    if (recall or negated) and verbatim is not None:
        docs = verbatim.docs(norm)
        if docs and not negated:
            docs = docs - verbatim.exclude  # only what the words missed: found passages keep their scores
        if docs:
            alts.append(DocSet(docs, VERBATIM_BOOST))
    if not alts:
        return None, []
    return (alts[0] if len(alts) == 1 else wq.Or(alts)), needles


def _cache(searcher) -> dict:
    """Per-searcher memo (a searcher sees one fixed state of the index)."""
    memo = getattr(searcher, "_kb_memo", None)
    if memo is None:
        memo = searcher._kb_memo = {}
    return memo


def _terms(searcher, fieldname: str) -> list[str]:
    """All terms of a field, decoded once per searcher."""
    memo = _cache(searcher)
    key = ("terms", fieldname)
    if key not in memo:
        memo[key] = [_s(b) for b in searcher.lexicon(fieldname)]
    return memo[key]


def _section_docs(searcher, value: str) -> frozenset[int]:
    """Passages whose section path contains ``value`` (memoised per searcher)."""
    memo = _cache(searcher)
    key = ("section", normalize(value).strip())
    if key not in memo:
        reader = searcher.reader()
        docs: set[int] = set()
        for t in _substring_terms(searcher, "section_key", value):
            docs.update(reader.postings("section_key", t).all_ids())
        memo[key] = frozenset(docs)
    return memo[key]


def _substring_terms(searcher, fieldname: str, value: str) -> list[str]:
    needle = normalize(value).strip()
    if not needle:
        return []
    return [t for t in _terms(searcher, fieldname) if needle in t]


def _s(term) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else term


def _filter_query(searcher, node: q.Filter):
    if node.field == "section":
        return DocSet(_section_docs(searcher, node.value))
    if node.field == "doc":
        doc_ids = {node.value.strip()}
        titles = [wq.Term("title_key", t) for t in _substring_terms(searcher, "title_key", node.value)]
        if titles:
            for n in searcher.docs_for_query(wq.Or(titles)):
                doc_ids.add(searcher.stored_fields(n).get("docrec", ""))
        return wq.Or([wq.Term("doc_id", d) for d in sorted(doc_ids) if d])
    if node.field == "topic":
        from .lexicon import topic_by_slug

        if topic_by_slug(node.value) is None:
            raise QueryError(f"Unknown topic {node.value.strip()!r}; run `kb topics` to list the topic slugs.")
        return wq.Term("topics", node.value.strip().lower())
    raise QueryError(f"Unknown field {node.field!r}; use section:, doc: or topic:.")  # pragma: no cover


_LATIN_WORD = re.compile(r"[a-z][a-z'’-]*")
GLOSSARY_BOOST = 1.0
PINYIN_BOOST = 0.8
TOPIC_BOOST = 0.5
SYNONYM_BOOST = 0.3
DICTIONARY_BOOST = 0.25
MAX_DICTIONARY_SENSES = 3
MAX_PINYIN_WORDS = 3


def _is_latin(n: q.Node) -> bool:
    return isinstance(n, q.Text) and not n.phrase and _LATIN_WORD.fullmatch(normalize(n.value)) is not None


class Compiler:
    """Translates a parsed query into a Whoosh query, expanding words when ``expand`` is on.

    Expansion: English words and phrases → Chinese via the glossary and topics
    (precise), pinyin → the index's words, then CC-CEDICT senses (general,
    boosted least); Chinese words → their synonym group. Every expansion is
    recorded in ``expansions``.
    """

    def __init__(self, searcher, *, expand: bool = True, relax: bool = False, pinyin_map=None,
                 verbatim: Verbatim | None = None, recall: bool = False):
        self.searcher = searcher
        self.expand = expand
        self.relax = relax
        self.pinyin_map = pinyin_map
        self.verbatim = verbatim
        self.recall = recall
        self.needles: list[str] = []
        self.expansions: list[Expansion] = []
        self.untranslated: list[str] = []
        self.adjacent: list[str] = []
        self.forbidden: list[str] = []
        self._post_filter: set[int] = set()

    # -- helpers ---------------------------------------------------------
    def _df(self, term: str) -> int:
        return self.searcher.doc_frequency("text", term)

    def _zh_alternatives(self, source: str, terms, origin: str, boost: float) -> list:
        # A term that contains another term (or the query word) adds nothing to recall and
        # would count the shorter one twice: 农村集体建设用地 beside 集体建设用地.
        norm = [normalize(t) for t in terms]
        base = normalize(source).strip()
        terms = [t for t, n in zip(terms, norm) if base not in n and not any(o != n and o in n for o in norm)]
        out = []
        for t in terms:
            wqry, nd = text_query(t, phrase=False, verbatim=self.verbatim, recall=self.recall, curated=True)
            if wqry is None:
                continue
            self.expansions.append(Expansion(source, t, origin))
            self.needles.extend(nd)
            out.append(_boosted(wqry, boost))
        return out

    def _english_literal(self, phrase: str):
        wqry, nd = text_query(phrase, phrase=False, verbatim=self.verbatim, recall=self.recall)
        self.needles.extend(nd)
        return wqry

    def _pinyin_query(self, source: str, syllables: tuple[str, ...]):
        """Index words whose pinyin spells ``syllables`` (fewest words first; several stand together)."""
        pm = self.pinyin_map
        if pm is None or not syllables:
            return None
        n = len(syllables)
        best: list[list | None] = [None] * (n + 1)
        best[0] = []
        for i in range(n):
            if best[i] is None:
                continue
            for j in range(n, i, -1):
                words = [w for w in pm.words(syllables[i:j]) if self._df(w) > 0]
                if not words:
                    continue
                cand = best[i] + [words]
                if best[j] is None or len(cand) < len(best[j]):
                    best[j] = cand
        if best[n] is None:
            return None
        import itertools

        slots = [sorted(words, key=self._df, reverse=True)[:MAX_PINYIN_WORDS] for words in best[n]]
        alts = []
        for combo in itertools.islice(itertools.product(*slots), 27):
            spelled = "".join(combo)
            # Several words (李 + 春雷): they must stand together, verbatim.
            wqry, nd = text_query(spelled, phrase=len(combo) > 1, verbatim=self.verbatim)
            if wqry is None:
                continue
            self.expansions.append(Expansion(source, spelled, "pinyin"))
            self.needles.extend(nd)
            alts.append(wqry)
        if not alts:
            return None
        return _boosted(alts[0] if len(alts) == 1 else wq.Or(alts), PINYIN_BOOST)

    def _dictionary(self, word: str) -> list[str]:
        from .lexicon import cedict_lookup

        found: dict[str, int] = {}
        for variant in _english_variants(word):
            for w, rank in cedict_lookup(variant):
                found[w] = min(rank, found.get(w, rank))
        senses = [(w, rank) for w, rank in found.items() if len(w) > 1 and self._df(w) > 0]
        senses.sort(key=lambda wr: (wr[1], -self._df(wr[0])))
        return [w for w, _ in senses[:MAX_DICTIONARY_SENSES]]

    # -- English runs ------------------------------------------------------
    def english_run(self, words: list[str]) -> tuple[list, list]:
        """(required concept queries, optional literal queries) for consecutive English words."""
        from .lexicon import STOP_WORDS, glossary, split_pinyin, topic_phrases

        gl = glossary()
        tp = topic_phrases()
        keys = [normalize(w).replace("’", "'").strip("'") for w in words]
        required: list = []
        optional: list = []
        i, n = 0, len(keys)
        while i < n:
            if keys[i] in STOP_WORDS:
                i += 1
                continue
            # Longest glossary phrase starting here.
            hit = None
            for j in range(min(n, i + 5), i, -1):
                phrase = " ".join(k.replace("-", " ") for k in keys[i:j])
                phrase = " ".join(phrase.split())
                if phrase in gl or phrase in tp:
                    hit = (j, phrase)
                    break
            if hit:
                j, phrase = hit
                source = " ".join(words[i:j])
                precise = gl.get(phrase, ())
                broad = [t for t in tp.get(phrase, ()) if t not in precise]
                alts = [self._english_literal(source)]
                alts += self._zh_alternatives(source, precise, "glossary", GLOSSARY_BOOST)
                # A topic's signal terms: every passage tagged with the topic matches its name.
                alts += self._zh_alternatives(source, broad, "topic", TOPIC_BOOST)
                required.append(wq.Or([a for a in alts if a is not None]))
                i = j
                continue
            # A run of pinyin-looking words that are not all English words: one pinyin phrase.
            j = i
            while j < n and keys[j] not in gl and keys[j] not in tp and split_pinyin(keys[j]) is not None:
                j += 1
            if j > i and (j - i > 1 or len(split_pinyin(keys[i]) or ()) > 1):
                run = " ".join(keys[i:j])
                english = all(_english_sense(k) for k in keys[i:j])
                pq = None if english else self._pinyin_query(" ".join(words[i:j]), split_pinyin(run))
                if pq is not None:
                    required.append(wq.Or([a for a in (self._english_literal(" ".join(words[i:j])), pq) if a is not None]))
                    i = j
                    continue
            word = keys[i]
            senses = self._dictionary(word)
            if senses:
                alts = [self._english_literal(words[i])] + self._zh_alternatives(words[i], senses, "dictionary", DICTIONARY_BOOST)
                required.append(wq.Or([a for a in alts if a is not None]))
            else:
                self.untranslated.append(words[i])
                lit = self._english_literal(words[i])
                if lit is not None:
                    optional.append(lit)
            i += 1
        return required, optional

    # -- tree walk ---------------------------------------------------------
    def text(self, n: q.Text, positive: bool, restrict: frozenset[str] | None = None):
        if self.verbatim is not None:
            self.verbatim.restrict = restrict
        post = not positive and id(n) in self._post_filter
        if post:
            self.forbidden.append(normalize(n.value).strip())
        try:
            wqry, nd = text_query(n.value, phrase=n.phrase, verbatim=self.verbatim, recall=self.recall and not post,
                                  negated=not positive and not post)
        finally:
            if self.verbatim is not None:
                self.verbatim.restrict = None
        if wqry is None:
            return None
        if positive:
            self.needles.extend(nd)
            if not n.phrase and len(_words(n.value, self.searcher)) > 1:
                self.adjacent.append(normalize(n.value).strip())
        if not self.expand or n.phrase or not positive:
            return wqry
        from .lexicon import synonyms

        syn = synonyms().get(normalize(n.value).strip())
        if syn:
            alts = self._zh_alternatives(n.value, syn, "synonym", SYNONYM_BOOST)
            return wq.Or([wqry] + alts)
        return wqry

    def sequence(self, children, positive: bool) -> list:
        """Compile AND-ed children, translating runs of English words together."""
        out = []
        restrict = self._common_verbatim(children) if positive else None
        i = 0
        while i < len(children):
            c = children[i]
            if self.expand and positive and _is_latin(c):
                j = i
                while j < len(children) and _is_latin(children[j]):
                    j += 1
                words = [children[k].value for k in range(i, j)]
                required, optional = self.english_run(words)
                if required:
                    base = required[0] if len(required) == 1 else wq.And(required)
                    out.append(wq.AndMaybe(base, wq.Or(optional)) if optional else base)
                elif optional:
                    out.append(optional[0] if len(optional) == 1 else wq.And(optional))
                i = j
                continue
            if restrict is not None and isinstance(c, q.Text) and not c.phrase:
                k = self.text(c, positive, restrict)
            else:
                k = self.walk(c, positive)
            if k is not None:
                out.append(k)
            i += 1
        return out

    def _common_verbatim(self, children) -> frozenset[str] | None:
        """In the recall pass, ids of passages whose text holds every Chinese word of an AND verbatim."""
        if not self.recall or self.verbatim is None or not self.verbatim.available:
            return None
        words = [c for c in children if isinstance(c, q.Text) and not c.phrase and not _is_latin(c)]
        if len(words) < 2:
            return None
        common: frozenset[str] | None = None
        for c in words:
            ids = self.verbatim.ids(normalize(c.value).strip())
            if ids is None:
                return None
            common = frozenset(ids) if common is None else common & frozenset(ids)
        return common

    def walk(self, n: q.Node, positive: bool):
        if isinstance(n, q.Text):
            if self.expand and positive and _is_latin(n):
                kids = self.sequence([n], positive)
                return kids[0] if kids else None
            return self.text(n, positive)
        if isinstance(n, q.Filter):
            fq = _filter_query(self.searcher, n)
            return wq.ConstantScoreQuery(fq, 0.0) if positive else fq
        if isinstance(n, q.Not):
            inner = self.walk(n.child, not positive)
            return None if inner is None else wq.Not(inner)
        if isinstance(n, q.Or):
            kids = [k for k in (self.walk(c, positive) for c in n.children) if k is not None]
            if not kids:
                return None
            return kids[0] if len(kids) == 1 else wq.Or(kids)
        if isinstance(n, q.And):
            kids = self.sequence(list(n.children), positive)
            if not kids:
                return None
            pos = [k for k in kids if not isinstance(k, wq.Not)]
            neg = [k.query for k in kids if isinstance(k, wq.Not)]
            if not pos:
                raise QueryError("A query cannot only exclude; add a word to search for besides NOT/-.")
            if len(pos) == 1:
                base = pos[0]
            elif self.relax:
                base = wq.Or(pos)
            else:
                base = wq.And(pos)
            # Not AndNot: Whoosh's AndNotMatcher misses exclusions that match before the first positive hit.
            return wq.And([base, wq.Not(wq.Or(neg))]) if neg else base
        raise AssertionError(n)  # pragma: no cover

    def compile(self, node: q.Node) -> Compiled:
        if isinstance(node, q.And):
            # Words excluded at the top level are excluded by the word index here, and
            # passages holding them only verbatim are dropped from the results afterwards:
            # listing every passage with a common word verbatim is the slow part of NOT.
            self._post_filter = {id(c.child) for c in node.children
                                 if isinstance(c, q.Not) and isinstance(c.child, q.Text) and not c.child.phrase}
        compiled = self.walk(node, True)
        if compiled is None:
            raise QueryError("The query has no searchable words (only punctuation or spaces); use words or phrases.")
        if isinstance(compiled, wq.Not):
            raise QueryError("A query cannot only exclude; add a word to search for besides NOT/-.")
        seen = set()
        exps = []
        for e in self.expansions:
            if (e.query, e.term) not in seen:
                seen.add((e.query, e.term))
                exps.append(e)
        return Compiled(compiled, [n for n in dict.fromkeys(self.needles) if n], exps, list(self.untranslated),
                        list(dict.fromkeys(self.adjacent)), [f for f in self.forbidden if f])


_IRREGULAR = {"children": "child", "people": "person", "women": "woman", "men": "man", "lives": "life"}


def _english_variants(word: str) -> list[str]:
    """The word and its likely singular (dictionary senses are mostly singular)."""
    out = [word]
    if word in _IRREGULAR:
        out.append(_IRREGULAR[word])
    elif word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    elif word.endswith(("ses", "xes", "ches", "shes")):
        out.append(word[:-2])
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        out.append(word[:-1])
    return out


def _english_sense(word: str) -> bool:
    """True when CC-CEDICT has ``word`` as an exact English sense (so it is not read as pinyin)."""
    from .lexicon import cedict_lookup

    return any(rank == 0 for v in _english_variants(word) for _w, rank in cedict_lookup(v))


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


def compile_query(searcher, node: q.Node, *, expand: bool = True, relax: bool = False, pinyin_map=None,
                  verbatim: Verbatim | None = None, recall: bool = False) -> Compiled:
    """Translate the parsed tree; raises ``QueryError`` when nothing in it can be searched."""
    return Compiler(searcher, expand=expand, relax=relax, pinyin_map=pinyin_map, verbatim=verbatim,
                    recall=recall).compile(node)


def date_filter(since: str | None, until: str | None) -> tuple[str, str] | None:
    """The (first, last) days a search is restricted to, or None; partial dates widen.

    Raises ``QueryError`` for a value that is not a date.
    """
    lo = hi = None
    if since:
        iso = normalize_date(since)
        if not iso:
            raise QueryError(f"--since {since!r} is not a date; use YYYY-MM-DD, YYYY-MM or YYYY.")
        lo = date_bounds(iso)[0]
    if until:
        iso = normalize_date(until)
        if not iso:
            raise QueryError(f"--until {until!r} is not a date; use YYYY-MM-DD, YYYY-MM or YYYY.")
        hi = date_bounds(iso)[1]
    if lo is None and hi is None:
        return None
    return lo or "0000-00-00", hi or "9999-99-99"


def date_docs(searcher, bounds: tuple[str, str]) -> set[int]:
    """Document numbers of passages whose document's date overlaps ``bounds``.

    Built from the postings of the date terms directly: Whoosh's own filter
    over a TermRange of a thousand dates took seconds on the full corpus.
    """
    lo, hi = bounds
    reader = searcher.reader()
    memo = _cache(searcher)

    def matching(fieldname: str, keep) -> set[int]:
        out: set[int] = set()
        for t in _terms(searcher, fieldname):
            if keep(t):
                key = ("postings", fieldname, t)
                if key not in memo:
                    memo[key] = tuple(reader.postings(fieldname, t).all_ids())
                out.update(memo[key])
        return out

    ends_after = matching("date_hi", lambda t: t >= lo)
    starts_before = matching("date_lo", lambda t: t <= hi)
    return ends_after & starts_before


# --- highlights and snippets ----------------------------------------------------


def highlight_spans(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Merged (start, end) spans of every occurrence of each needle in normalised ``text``.

    Needles marked ``LOOSE`` (single words of a multi-word query) count only
    when none of the others occurs in the text.
    """
    norm = normalize(text)
    needles = list(needles)
    spans = _find_all(norm, [n for n in needles if not n.startswith(LOOSE)])
    if not spans:
        spans = _find_all(norm, [n[1:] for n in needles if n.startswith(LOOSE)])
    return spans


def _find_all(norm: str, needles: list[str]) -> list[tuple[int, int]]:
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
        best = None
        for anchor_s, anchor_e in spans:
            a_lo = _sentence_start(text, anchor_s, max(0, anchor_s - width // 2))
            if anchor_s - a_lo > width // 2:
                a_lo = anchor_s - width // 3
            a_hi = max(_cut_end(text, a_lo, width), anchor_e)
            inside = [(s, e) for s, e in spans if s < a_hi and e > a_lo]
            covered = (len({text[s:e] for s, e in inside}), sum(min(e, a_hi) - max(s, a_lo) for s, e in inside))
            if best is None or covered > best[0]:
                best = (covered, a_lo, a_hi)
        _covered, lo, hi = best
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


_PACKED = ("text", "section", "paragraph", "part", "seq", "start", "end", "topics", "page")


def pack_passage(p, topics) -> bytes:
    """What a hit shows of a passage, as one compressed value (field names are not repeated)."""
    row = [p.text, p.section, p.paragraph, p.part, p.seq, p.start, p.end, list(topics), p.page]
    return zlib.compress(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def unpack_passage(stored: dict[str, Any]) -> dict[str, Any]:
    """A passage's stored fields as a dict (``id``, ``doc_id`` and the packed values)."""
    out = dict(zip(_PACKED, json.loads(zlib.decompress(stored["p"]).decode("utf-8")))) if stored.get("p") else {}
    pid = stored.get("id", "")
    out["id"] = pid
    out["doc_id"] = pid.rsplit("#", 1)[0]
    return out


def passage_text(stored: dict[str, Any]) -> str:
    """The original text of a passage from its stored fields."""
    return unpack_passage(stored).get("text", "")


def make_hit(stored: dict[str, Any], doc: dict[str, Any], score: float, needles: list[str],
             context: tuple[Hit, ...] = ()) -> Hit:
    """A ``Hit`` from a passage's stored fields and its document's record."""
    p = unpack_passage(stored)
    text = p.get("text", "")
    spans = highlight_spans(text, needles) if needles else []
    return Hit(
        id=p["id"],
        doc_id=p["doc_id"],
        title=doc.get("title", ""),
        date=doc.get("date", ""),
        source=doc.get("source", ""),
        paragraph=int(p.get("paragraph", 0)),
        section=p.get("section", ""),
        text=text,
        snippet=make_snippet(text, spans),
        score=round(float(score), 4),
        highlights=tuple(spans),
        start=int(p.get("start", 0)),
        end=int(p.get("end", len(text))),
        path=doc.get("path", ""),
        topics=tuple(p.get("topics", ())),
        context=context,
        metadata=doc.get("metadata") or {},
        page=int(p.get("page") or 0) or None,
    )


def _collect(searcher, query, limit: int, filter_query):
    """Top hits without Whoosh's block-quality pruning, which ignores boosts on compound queries
    and would drop the best hits when ``limit`` is small."""
    from whoosh import collectors

    col = collectors.TopCollector(limit=limit, usequality=False, replace=0)
    if filter_query is not None and not filter_query:
        query = wq.NullQuery  # nothing is allowed (Whoosh reads an empty filter as no filter)
    elif filter_query is not None:
        col = collectors.FilterCollector(col, allow=filter_query)  # a set of document numbers
    searcher.search_with_collector(query, col)
    return col.results()


def run_search(searcher, node: q.Node, *, limit: int, filter_query=None, expand: bool = True,
               pinyin_map=None, verbatim: Verbatim | None = None) -> tuple[int, list[tuple[dict, float]], Compiled]:
    """Execute a parsed query; returns (total, [(stored fields, score)], compiled).

    When the word index finds fewer passages than ``limit``, the query runs
    again with verbatim recall, so strings the segmenter split differently
    are found too (they rank after whole-word matches). When every word is
    required and nothing matches, an expanded query is retried with any-word
    semantics, so a topic the index covers always returns passages.
    """
    window = max(limit, RERANK_WINDOW)

    def attempt(relax: bool, recall: bool):
        compiled = compile_query(searcher, node, expand=expand, relax=relax, pinyin_map=pinyin_map,
                                 verbatim=verbatim, recall=recall)
        return compiled, _collect(searcher, compiled.query, window, filter_query)

    compiled, results = attempt(False, False)
    can_recall = verbatim is not None and verbatim.available
    if len(results) < limit and can_recall:
        # Fewer hits than the window: every match is among the collected ones. (results.docs()
        # would re-run the query, walking every document for a NOT.)
        verbatim.exclude = frozenset(hit.docnum for hit in results)
        compiled, results = attempt(False, True)
    if len(results) == 0 and expand and compiled.expansions:
        relaxed, more = attempt(True, can_recall)
        if len(more):
            compiled, results = relaxed, more
    rows = [(dict(r.fields()), r.score) for r in results]
    total = len(results)
    if compiled.forbidden:
        kept = [r for r in rows if not any(f in normalize(passage_text(r[0])) for f in compiled.forbidden)]
        total -= len(rows) - len(kept)
        rows = kept
    rows = _rerank(rows, compiled.adjacent)
    return total, rows[:limit], compiled


def _rerank(rows: list[tuple[dict, float]], adjacent: list[str]) -> list[tuple[dict, float]]:
    """Within the top window, passages that hold a multi-word query word verbatim rank higher.

    (The index keeps no word positions; this restores phrase-proximity
    ranking where it matters, for the passages that can be shown.)
    """
    if not adjacent or not rows:
        return rows
    out = []
    for stored, score in rows:
        norm = normalize(passage_text(stored))
        bonus = sum(ADJACENT_BONUS for a in adjacent if a in norm)
        out.append((stored, score + bonus))
    out.sort(key=lambda r: -r[1])
    return out


def suggest(searcher, query: str, node: q.Node, compiled: Compiled, pinyin_map=None,
            verbatim: Verbatim | None = None) -> str:
    """A corrected query string built from the index's own vocabulary, or "".

    English words that could not be translated are matched against the
    glossary's vocabulary; Chinese words that find nothing are replaced by an
    indexed word that sounds the same (户藉 → 户籍) or differs in one character.
    """
    import difflib

    from .lexicon import english_vocabulary

    fixes: dict[str, str] = {}
    for word in compiled.untranslated:
        close = difflib.get_close_matches(normalize(word), english_vocabulary(), n=1, cutoff=0.8)
        if close and close[0] != normalize(word):
            fixes[word] = close[0]
    for n in _texts(node):
        value = n.value.strip()
        if n.value in fixes or not any("\u4e00" <= c <= "\u9fff" for c in value):
            continue
        wqry, _ = text_query(value, phrase=n.phrase, verbatim=verbatim, recall=True)
        if wqry is None or len(searcher.search(wqry, limit=1, terms=False)):
            continue
        fix = _correct_chinese(searcher, normalize(value), pinyin_map)
        if fix:
            fixes[n.value] = fix
    if not fixes:
        return ""
    out = query
    for wrong, right in fixes.items():
        out = out.replace(wrong, right)
    return out if out != query else ""


def _texts(node: q.Node):
    if isinstance(node, q.Text):
        yield node
    elif isinstance(node, (q.And, q.Or)):
        for c in node.children:
            yield from _texts(c)


def _correct_chinese(searcher, word: str, pinyin_map) -> str:
    df = lambda t: searcher.doc_frequency("text", t)  # noqa: E731
    if pinyin_map is not None:
        from .lexicon import pinyin_of

        same = [w for w in pinyin_map.words(tuple(pinyin_of(word).split())) if w != word and df(w) > 0]
        if same:
            return max(same, key=df)
    # One character different, same length, sharing the first character.
    best, best_df = "", 0
    for t in searcher.reader().expand_prefix("text", word[0]):
        t = _s(t)
        if len(t) == len(word) and t != word and sum(a != b for a, b in zip(t, word)) == 1:
            f = df(t)
            if f > best_df:
                best, best_df = t, f
    return best


def new_weighting():
    return BM25F(B=0.75, K1=1.2)
