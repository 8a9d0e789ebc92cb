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
from .models import Expansion, Hit

__all__ = ["compile_query", "Compiled", "make_hit", "highlight_spans", "make_snippet", "date_filter", "run_search"]

LOOSE = "\x00"  # marks a highlight needle of secondary rank
EXACT_BOOST = 3.0
LOOSE_BOOST = 1.0
GRAMS_BOOST = 0.5
_SENT_END = "。！？；!?;"
SNIPPET_CHARS = 160


@dataclass
class Compiled:
    """A Whoosh query plus what to highlight and how the query was expanded."""

    query: Any
    needles: list[str] = field(default_factory=list)
    expansions: list[Expansion] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)


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
        if phrase and len(words) > 1:
            # Sub-words share their word's position, so a word phrase alone could match
            # 加快…发展 in 加快城乡融合发展; the verbatim bigram sequence is required.
            return wq.AndMaybe(grams, alts[0]), ([norm] if norm else [])
        alts.append(grams)
    needles = [norm] if norm else []
    if not phrase and len(words) > 1:
        # The words of a loosely matched multi-word query; highlighted only where the whole is absent.
        needles.extend(LOOSE + w for w in words if len(w) > 1)
    return (alts[0] if len(alts) == 1 else wq.Or(alts)), needles


def _substring_terms(searcher, fieldname: str, value: str) -> list[str]:
    needle = normalize(value).strip()
    if not needle:
        return []
    return [t for t in (_s(b) for b in searcher.lexicon(fieldname)) if needle in t]


def _s(term) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else term


def _filter_query(searcher, node: q.Filter):
    if node.field == "section":
        terms = _substring_terms(searcher, "section_key", node.value)
        return wq.Or([wq.Term("section_key", t) for t in terms]) if terms else wq.NullQuery
    if node.field == "doc":
        alts = [wq.Term("doc_id", node.value.strip())]
        alts += [wq.Term("title_key", t) for t in _substring_terms(searcher, "title_key", node.value)]
        return wq.Or(alts)
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
SYNONYM_BOOST = 0.4
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

    def __init__(self, searcher, *, expand: bool = True, relax: bool = False, pinyin_map=None):
        self.searcher = searcher
        self.expand = expand
        self.relax = relax
        self.pinyin_map = pinyin_map
        self.needles: list[str] = []
        self.expansions: list[Expansion] = []
        self.untranslated: list[str] = []
        self.word_count = 0

    # -- helpers ---------------------------------------------------------
    def _df(self, term: str) -> int:
        return self.searcher.doc_frequency("text", term)

    def _zh_alternatives(self, source: str, terms, origin: str, boost: float) -> list:
        out = []
        for t in terms:
            wqry, nd = text_query(t, phrase=False)
            if wqry is None:
                continue
            self.expansions.append(Expansion(source, t, origin))
            self.needles.extend(nd)
            out.append(_boosted(wqry, boost))
        return out

    def _english_literal(self, phrase: str):
        wqry, nd = text_query(phrase, phrase=True)
        self.needles.extend(nd)
        return wqry

    def _pinyin_query(self, source: str, syllables: tuple[str, ...]):
        """A Sequence of index words whose pinyin spells ``syllables`` (fewest words first)."""
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
        slots = []
        for words in best[n]:
            words = sorted(words, key=self._df, reverse=True)[:MAX_PINYIN_WORDS]
            for w in words:
                self.expansions.append(Expansion(source, w, "pinyin"))
                self.needles.append(w)
            slots.append(wq.Or([wq.Term("text", w) for w in words]) if len(words) > 1 else wq.Term("text", words[0]))
        if len(slots) == 1:
            return _boosted(slots[0], PINYIN_BOOST)
        return _boosted(wq.Sequence(slots), PINYIN_BOOST)

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
    def text(self, n: q.Text, positive: bool):
        wqry, nd = text_query(n.value, phrase=n.phrase)
        if wqry is None:
            return None
        self.word_count += 1
        if positive:
            self.needles.extend(nd)
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
        i = 0
        while i < len(children):
            c = children[i]
            if self.expand and positive and _is_latin(c):
                j = i
                while j < len(children) and _is_latin(children[j]):
                    j += 1
                words = [children[k].value for k in range(i, j)]
                required, optional = self.english_run(words)
                self.word_count += len(words)
                if required:
                    base = required[0] if len(required) == 1 else wq.And(required)
                    out.append(wq.AndMaybe(base, wq.Or(optional)) if optional else base)
                elif optional:
                    out.append(optional[0] if len(optional) == 1 else wq.And(optional))
                i = j
                continue
            k = self.walk(c, positive)
            if k is not None:
                out.append(k)
            i += 1
        return out

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
        return Compiled(compiled, [n for n in dict.fromkeys(self.needles) if n], exps, list(self.untranslated))


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
    qry.boost = getattr(qry, "boost", 1.0) * boost
    return qry


def compile_query(searcher, node: q.Node, *, expand: bool = True, relax: bool = False, pinyin_map=None) -> Compiled:
    """Translate the parsed tree; raises ``QueryError`` when nothing in it can be searched."""
    return Compiler(searcher, expand=expand, relax=relax, pinyin_map=pinyin_map).compile(node)


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


def _collect(searcher, query, limit: int, filter_query):
    """Top hits without Whoosh's block-quality pruning, which ignores boosts on compound queries
    and would drop the best hits when ``limit`` is small."""
    from whoosh import collectors

    col = collectors.TopCollector(limit=limit, usequality=False, replace=0)
    if filter_query is not None:
        col = collectors.FilterCollector(col, allow=filter_query)
    searcher.search_with_collector(query, col)
    return col.results()


def run_search(searcher, node: q.Node, *, limit: int, filter_query=None, expand: bool = True,
               pinyin_map=None) -> tuple[int, list[tuple[dict, float]], Compiled]:
    """Execute a parsed query; returns (total, [(stored fields, score)], compiled).

    When every word is required and nothing matches, an expanded query is
    retried with any-word semantics, so a topic the index covers always
    returns passages.
    """
    compiled = compile_query(searcher, node, expand=expand, pinyin_map=pinyin_map)
    results = _collect(searcher, compiled.query, limit, filter_query)
    total = len(results)
    if total == 0 and expand and compiled.expansions:
        relaxed = compile_query(searcher, node, expand=expand, relax=True, pinyin_map=pinyin_map)
        results = _collect(searcher, relaxed.query, limit, filter_query)
        if len(results):
            compiled, total = relaxed, len(results)
    return total, [(dict(r.fields()), r.score) for r in results], compiled


def suggest(searcher, query: str, node: q.Node, compiled: Compiled, pinyin_map=None) -> str:
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
        wqry, _ = text_query(value, phrase=n.phrase)
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
