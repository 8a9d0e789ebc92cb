"""Planning: a parsed query and kb's vocabulary → a backend-neutral query plan.

The plan says what to match and how much each match counts, and nothing about
how an engine does it. Each query word becomes a ``Concept``: the word as
typed plus the alternatives it expands to (synonyms; English → Chinese from
the glossary, topics and CC-CEDICT; pinyin → the index's words), each with
its origin and boost. ``AllOf``/``AnyOf``/``Exclude`` combine concepts;
``Match`` is a field restriction used inside the tree. Restrictions that hold
for the whole search (``--doc``, ``section:`` beside the words…) are the
plan's ``filters``: an engine applies them to every pass of a search, so no
path (expanded, relaxed, verbatim recall, corrected) can return a passage
outside them.

Planning needs a little knowledge of the index, through ``TermStats``: which
words it holds (so a word the index knows is not segmented again, and only
dictionary senses that occur are used) and, for pinyin, which of its words
sound alike. A plan can be made and tested without an index by passing a
small ``TermStats`` of one's own.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Iterable, Protocol, Union

from .. import config
from ..errors import QueryError
from ..models import Expansion
from ..text import is_han, normalize
from ..text.segment import query_words
from . import parse as q

__all__ = [
    "TermStats",
    "Alternative",
    "Concept",
    "Match",
    "AllOf",
    "AnyOf",
    "Exclude",
    "Plan",
    "plan",
    "words_of",
    "LOOSE",
]

LOOSE = "\x00"  # marks a highlight needle of secondary rank (a word of a multi-word query word)


class TermStats(Protocol):
    """What planning may ask of an index: how many passages hold a word, and pinyin look-ups."""

    def doc_frequency(self, term: str) -> int:
        """Passages whose text holds ``term`` as a word (0 when the index has no such word)."""

    def pinyin_words(self, syllables: tuple[str, ...]) -> set[str]:
        """Words of the index whose toneless pinyin is ``syllables``."""


# --- plan nodes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alternative:
    """One way a concept matches.

    ``text`` is the normalised string (what verbatim recall looks for and
    highlights show); ``words`` are its words as the index holds them (a word
    match needs all of them); ``verbatim`` when the string itself must occur
    (a quoted phrase, a name spelled in pinyin).
    """

    text: str
    words: tuple[str, ...]
    origin: str = "query"  # query, literal, synonym, glossary, topic, dictionary, pinyin
    boost: float = 1.0
    verbatim: bool = False


@dataclass(frozen=True)
class Concept:
    """A query word (or English phrase) and every alternative that satisfies it."""

    source: str
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class Match:
    """A field restriction (``section:``, ``doc:``, ``topic:``, ``meta.KEY:``): matches, scores nothing.

    For ``field == "meta"``, ``key`` names the document field and ``op`` the
    comparison (``kb.query.meta``).
    """

    field: str
    value: str
    key: str = ""
    op: str = ""


@dataclass(frozen=True)
class AllOf:
    """Every child must match; ``optional`` children add to the score when they match.

    ``explicit`` when the query said AND: such a conjunction is never relaxed.
    """

    children: tuple["PlanNode", ...]
    optional: tuple["PlanNode", ...] = ()
    explicit: bool = False


@dataclass(frozen=True)
class AnyOf:
    """At least one child must match."""

    children: tuple["PlanNode", ...]


@dataclass(frozen=True)
class Exclude:
    """Passages matching ``child`` are excluded.

    With ``verbatim`` (the default) a passage that holds the string only
    verbatim is excluded too; otherwise that check is left to the caller,
    who drops such passages after collecting (``Plan.forbidden``).
    """

    child: "PlanNode"
    verbatim: bool = True


PlanNode = Union[Concept, Match, AllOf, AnyOf, Exclude]


@dataclass(frozen=True)
class Plan:
    """What a search matches, backend-neutral.

    ``root`` is None when the query is only filters. ``filters`` hold for
    every pass of the search. ``forbidden`` strings (excluded words) must not
    occur verbatim in any hit. ``adjacent`` are multi-word query words that
    earn a proximity bonus where they occur verbatim.
    """

    root: PlanNode | None
    filters: tuple[Match, ...] = ()
    expansions: tuple[Expansion, ...] = ()
    untranslated: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    adjacent: tuple[str, ...] = ()

    @property
    def needles(self) -> tuple[str, ...]:
        """Strings to highlight: every alternative of every concept that is not excluded."""
        out: list[str] = []
        for alt in self.alternatives():
            out.append(alt.text)
            if len(alt.words) > 1 and not alt.verbatim:
                out.extend(LOOSE + w for w in alt.words if len(w) > 1)
        return tuple(dict.fromkeys(n for n in out if n and n != LOOSE))

    def alternatives(self) -> Iterable[Alternative]:
        """Every alternative of the concepts that count for a hit (not those under ``Exclude``)."""
        return _alternatives(self.root)

    @property
    def concepts(self) -> tuple[PlanNode, ...]:
        """The required parts of an implicit all-words query, which relaxation may match fewer of.

        Empty when the query cannot be relaxed (one part, an explicit AND, an OR).
        """
        root = self.root
        if not isinstance(root, AllOf) or root.explicit:
            return ()
        parts = tuple(c for c in root.children if not isinstance(c, Exclude))
        return parts if len(parts) > 1 else ()

    def size(self) -> int:
        """How many alternatives and restrictions the plan holds (the work an engine will do)."""
        return _size(self.root) + len(self.filters)


def _alternatives(node) -> Iterable[Alternative]:
    if isinstance(node, Concept):
        yield from node.alternatives
    elif isinstance(node, (AllOf, AnyOf)):
        for c in node.children:
            yield from _alternatives(c)
        if isinstance(node, AllOf):
            for c in node.optional:
                yield from _alternatives(c)


def _size(node) -> int:
    if node is None:
        return 0
    if isinstance(node, Concept):
        return len(node.alternatives)
    if isinstance(node, Match):
        return 1
    if isinstance(node, Exclude):
        return _size(node.child)
    extra = node.optional if isinstance(node, AllOf) else ()
    return sum(_size(c) for c in (*node.children, *extra))


# --- words ---------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[0-9a-z]+(?: [0-9a-z]+)*")
_LATIN_WORD = re.compile(r"[a-z][a-z'’-]*")


def words_of(value: str, stats: TermStats | None = None, *, curated: bool = False) -> tuple[str, ...]:
    """The words of a query word, without loading the segmenter when the index already knows them.

    A string that is itself a word of the index is one word (户籍, 城乡融合发展);
    plain Latin words and numbers split at spaces. A ``curated`` Chinese term
    (from the glossary, topics or synonyms) is split into the longest words
    the index has; anything else is segmented.
    """
    norm = normalize(value).strip()
    if stats is not None and norm and " " not in norm and stats.doc_frequency(norm) > 0:
        return (norm,)
    if _PLAIN.fullmatch(norm):
        return tuple(norm.split(" "))
    if curated and stats is not None and 2 <= len(norm) <= 24 and is_han(norm):
        words = _lexicon_split(stats, norm)
        if words:
            return tuple(words)
    return tuple(query_words(value))


def _lexicon_split(stats: TermStats, norm: str) -> list[str] | None:
    """Forward maximum matching of a Chinese string against the index's own words.

    Every word it returns occurs in the index; None when some part cannot be
    covered (then the segmenter decides).
    """
    out = []
    i = 0
    while i < len(norm):
        for j in range(min(len(norm), i + 8), i, -1):
            if stats.doc_frequency(norm[i:j]) > 0:
                out.append(norm[i:j])
                i = j
                break
        else:
            return None
    return out


def _is_latin(n: q.Node) -> bool:
    return isinstance(n, q.Text) and not n.phrase and _LATIN_WORD.fullmatch(normalize(n.value)) is not None


_IRREGULAR = {"children": "child", "people": "person", "women": "woman", "men": "man", "lives": "life"}


def english_variants(word: str) -> list[str]:
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
    from ..lexicon import cedict_lookup

    return any(rank == 0 for v in english_variants(word) for _w, rank in cedict_lookup(v))


# --- the planner ----------------------------------------------------------------------------------------


@dataclass
class _Planner:
    stats: TermStats | None
    expand: bool
    lexicon: "object"
    expansions: list[Expansion] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    adjacent: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)

    def _df(self, term: str) -> int:
        return self.stats.doc_frequency(term) if self.stats is not None else 0

    # -- alternatives ---------------------------------------------------------------------------------
    def alternative(self, value: str, *, origin: str = "query", boost: float = 1.0, verbatim: bool = False,
                    curated: bool = False) -> Alternative | None:
        norm = normalize(value).strip()
        words = words_of(value, self.stats, curated=curated)[: config.MAX_WORDS_PER_TERM]
        if not words and not (verbatim and norm):
            return None  # only punctuation or symbols: nothing a word can match (a quoted string still can)
        return Alternative(norm, words, origin, boost, verbatim)

    def zh_alternatives(self, source: str, terms, origin: str, boost: float) -> list[Alternative]:
        # A term that contains another term (or the query word) adds nothing to recall and
        # would count the shorter one twice: 农村集体建设用地 beside 集体建设用地.
        norm = [normalize(t) for t in terms]
        base = normalize(source).strip()
        kept = [t for t, n in zip(terms, norm) if base not in n and not any(o != n and o in n for o in norm)]
        out = []
        for t in kept:
            alt = self.alternative(t, origin=origin, boost=boost, curated=True)
            if alt is None:
                continue
            self.expansions.append(Expansion(source, t, origin))
            out.append(alt)
        return out

    def literal(self, phrase: str) -> Alternative | None:
        """An English word or phrase matched as written (documents hold English too)."""
        return self.alternative(phrase, origin="literal")

    def pinyin(self, source: str, syllables: tuple[str, ...]) -> list[Alternative]:
        """Index words whose pinyin spells ``syllables`` (fewest words first; several stand together)."""
        if self.stats is None or not syllables:
            return []
        n = len(syllables)
        best: list[list | None] = [None] * (n + 1)
        best[0] = []
        for i in range(n):
            if best[i] is None:
                continue
            for j in range(n, i, -1):
                words = [w for w in self.stats.pinyin_words(syllables[i:j]) if self._df(w) > 0]
                if not words:
                    continue
                cand = best[i] + [words]
                if best[j] is None or len(cand) < len(best[j]):
                    best[j] = cand
        if best[n] is None:
            return []
        slots = [sorted(words, key=self._df, reverse=True)[: config.MAX_PINYIN_WORDS] for words in best[n]]
        out = []
        for combo in itertools.islice(itertools.product(*slots), config.MAX_PINYIN_COMBINATIONS):
            spelled = "".join(combo)
            # Several words (李 + 春雷): they must stand together, verbatim.
            alt = self.alternative(spelled, origin="pinyin", boost=config.PINYIN_BOOST, verbatim=len(combo) > 1)
            if alt is None:
                continue
            self.expansions.append(Expansion(source, spelled, "pinyin"))
            out.append(alt)
        return out

    def dictionary(self, word: str) -> list[str]:
        from ..lexicon import cedict_lookup

        found: dict[str, int] = {}
        for variant in english_variants(word):
            for w, rank in cedict_lookup(variant):
                found[w] = min(rank, found.get(w, rank))
        senses = [(w, rank) for w, rank in found.items() if len(w) > 1 and self._df(w) > 0]
        senses.sort(key=lambda wr: (wr[1], -self._df(wr[0])))
        return [w for w, _ in senses[: config.MAX_DICTIONARY_SENSES]]

    # -- English runs ---------------------------------------------------------------------------------
    def english_run(self, words: list[str]) -> tuple[list[Concept], list[Concept]]:
        """(required concepts, optional literal concepts) for consecutive English words."""
        from ..lexicon import STOP_WORDS, split_pinyin

        gl = self.lexicon.glossary()
        tp = self.lexicon.topic_phrases()
        keys = [normalize(w).replace("’", "'").strip("'") for w in words]
        required: list[Concept] = []
        optional: list[Concept] = []
        i, n = 0, len(keys)
        while i < n:
            if keys[i] in STOP_WORDS:
                i += 1
                continue
            # Longest glossary phrase starting here.
            hit = None
            for j in range(min(n, i + 5), i, -1):
                phrase = " ".join(" ".join(k.replace("-", " ") for k in keys[i:j]).split())
                if phrase in gl or phrase in tp:
                    hit = (j, phrase)
                    break
            if hit:
                j, phrase = hit
                source = " ".join(words[i:j])
                precise = gl.get(phrase, ())
                broad = [t for t in tp.get(phrase, ()) if t not in precise]
                alts = [self.literal(source)]
                alts += self.zh_alternatives(source, precise, "glossary", config.GLOSSARY_BOOST)
                # A topic's signal terms: every passage tagged with the topic matches its name.
                alts += self.zh_alternatives(source, broad, "topic", config.TOPIC_BOOST)
                required.append(Concept(source, tuple(a for a in alts if a is not None)))
                i = j
                continue
            # A run of pinyin-looking words that are not all English words: one pinyin phrase.
            j = i
            while j < n and keys[j] not in gl and keys[j] not in tp and split_pinyin(keys[j]) is not None:
                j += 1
            if j > i and (j - i > 1 or len(split_pinyin(keys[i]) or ()) > 1):
                run = " ".join(keys[i:j])
                english = all(_english_sense(k) for k in keys[i:j])
                source = " ".join(words[i:j])
                spelled = [] if english else self.pinyin(source, split_pinyin(run))
                if spelled:
                    alts = [a for a in (self.literal(source), *spelled) if a is not None]
                    required.append(Concept(source, tuple(alts)))
                    i = j
                    continue
            senses = self.dictionary(keys[i])
            if senses:
                alts = [self.literal(words[i])]
                alts += self.zh_alternatives(words[i], senses, "dictionary", config.DICTIONARY_BOOST)
                required.append(Concept(words[i], tuple(a for a in alts if a is not None)))
            else:
                self.untranslated.append(words[i])
                lit = self.literal(words[i])
                if lit is not None:
                    optional.append(Concept(words[i], (lit,)))
            i += 1
        return required, optional

    # -- tree walk ------------------------------------------------------------------------------------
    def text(self, n: q.Text, positive: bool) -> Concept | None:
        origin = "query"
        alt = self.alternative(n.value, origin=origin, verbatim=n.phrase)
        if alt is None:
            return None
        alts = [alt]
        if positive and not n.phrase and len(alt.words) > 1:
            self.adjacent.append(alt.text)
        if self.expand and positive and not n.phrase:
            syn = self.lexicon.synonyms().get(alt.text)
            if syn:
                alts += self.zh_alternatives(n.value, syn, "synonym", config.SYNONYM_BOOST)
        return Concept(n.value, tuple(alts))

    def sequence(self, children, positive: bool) -> tuple[list, list]:
        """Plan AND-ed children, translating runs of English words together: (required, optional)."""
        out: list = []
        optional: list = []
        i = 0
        while i < len(children):
            c = children[i]
            if self.expand and positive and _is_latin(c):
                j = i
                while j < len(children) and _is_latin(children[j]):
                    j += 1
                required, opt = self.english_run([children[k].value for k in range(i, j)])
                out.extend(required)
                optional.extend(opt)
                i = j
                continue
            k = self.walk(c, positive)
            if k is not None:
                out.append(k)
            i += 1
        return out, optional

    def walk(self, n: q.Node, positive: bool):
        if isinstance(n, q.Text):
            if self.expand and positive and _is_latin(n):
                required, optional = self.sequence([n], positive)
                return _all_of(required, optional)
            return self.text(n, positive)
        if isinstance(n, q.Filter):
            return _match(n, self.lexicon)
        if isinstance(n, q.Not):
            inner = self.walk(n.child, not positive)
            return None if inner is None else Exclude(inner)
        if isinstance(n, q.Or):
            kids = [k for k in (self.walk(c, positive) for c in n.children) if k is not None]
            kids = list(dict.fromkeys(kids))
            if not kids:
                return None
            return kids[0] if len(kids) == 1 else AnyOf(tuple(kids))
        if isinstance(n, q.And):
            required, optional = self.sequence(list(n.children), positive)
            if not required and not optional:
                return None
            if not any(not isinstance(k, Exclude) for k in (*required, *optional)):
                raise QueryError("A query cannot only exclude; add a word to search for besides NOT or -.")
            return _all_of(required, optional, explicit=n.explicit)
        raise AssertionError(n)  # pragma: no cover


def _all_of(required: list, optional: list, *, explicit: bool = False):
    required = list(dict.fromkeys(required))
    if not required:  # only untranslated English words: they are what the query asks for
        required, optional = optional, []
    if len(required) == 1 and not optional:
        return required[0]
    return AllOf(tuple(required), tuple(optional), explicit)


def _match(n: q.Filter, lexicon) -> Match:
    value = n.value.strip()
    if n.field.startswith("meta."):
        from .meta import split_operator

        op, operand = split_operator(value)
        key = n.field[5:].strip()
        if not key or not operand:
            raise QueryError(f"The metadata filter {n.field}:{n.value} needs a field and a value, as in "
                             "meta.province:云南.", param="where")
        return Match("meta", operand, key, op)
    if n.field == "topic":
        if lexicon.topic_by_slug(value) is None:
            raise QueryError(f"Unknown topic {value!r}; use one of the topic slugs of the taxonomy.", hint="topics")
        value = value.lower()
    if n.field not in ("section", "doc", "topic"):  # pragma: no cover - the parser knows the fields
        raise QueryError(f"Unknown field {n.field!r}; use section:, doc: or topic:.")
    return Match(n.field, value)


def plan(node: q.Node, stats: TermStats | None = None, *, expand: bool = True,
         filters: Iterable[q.Filter] = (), lexicon=None) -> Plan:
    """The plan of a parsed query, plus ``filters`` that hold for the whole search.

    Field restrictions that are AND-ed at the top of the query (``户籍
    section:基础设施``) become filters too. ``lexicon`` is the vocabulary
    (default: kb's package vocabulary). Raises ``QueryError`` when nothing in
    the query can be searched.
    """
    if lexicon is None:
        from ..lexicon import default_lexicon

        lexicon = default_lexicon()
    planner = _Planner(stats, expand, lexicon)
    global_filters = [_match(f, lexicon) for f in filters]
    if isinstance(node, q.Filter):
        return Plan(None, tuple(dict.fromkeys([*global_filters, _match(node, lexicon)])))
    if isinstance(node, q.And):
        kept = []
        for c in node.children:
            if isinstance(c, q.Filter):
                global_filters.append(_match(c, lexicon))
            else:
                kept.append(c)
        if not kept:
            return Plan(None, tuple(dict.fromkeys(global_filters)))
        node = kept[0] if len(kept) == 1 else q.And(tuple(kept), node.explicit)
    root = planner.walk(node, True)
    if root is None:
        raise QueryError("The query has no searchable words (only punctuation or spaces); use words or phrases.")
    if isinstance(root, Exclude):
        raise QueryError("A query cannot only exclude; add a word to search for besides NOT or -.")
    if isinstance(root, AllOf):
        # Words excluded at the top are excluded through the word index, and passages that
        # hold them only verbatim are dropped after collecting: listing every passage with a
        # common word verbatim is the slow part of NOT.
        children = []
        for c in root.children:
            if isinstance(c, Exclude) and isinstance(c.child, Concept) and not c.child.alternatives[0].verbatim:
                planner.forbidden.append(c.child.alternatives[0].text)
                c = Exclude(c.child, verbatim=False)
            children.append(c)
        root = AllOf(tuple(children), root.optional, root.explicit)
    seen = set()
    expansions = []
    for e in planner.expansions:
        if (e.query, e.term) not in seen:
            seen.add((e.query, e.term))
            expansions.append(e)
    return Plan(
        root=root,
        filters=tuple(dict.fromkeys(global_filters)),
        expansions=tuple(expansions),
        untranslated=tuple(planner.untranslated),
        forbidden=tuple(f for f in planner.forbidden if f),
        adjacent=tuple(dict.fromkeys(planner.adjacent)),
    )
