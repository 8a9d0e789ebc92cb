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
from ..text import has_cjk, is_han, normalize
from ..lexicon import _compact
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
    origin: str = "query"  # query, literal, synonym, glossary, topic, abbreviation, dictionary, pinyin
    boost: float = 1.0
    verbatim: bool = False
    sense: str = ""  # an expansion that must hold in this sense (a target of senses.tsv: 户籍 for 落户)


@dataclass(frozen=True)
class Concept:
    """A query word (or English phrase) and every alternative that satisfies it.

    ``weight`` scales how much the concept counts when a relaxed query ranks
    passages by how much of it they cover (a general-dictionary word counts less).
    """

    source: str
    alternatives: tuple[Alternative, ...]
    weight: float = 1.0


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
    earn a proximity bonus where they occur verbatim. ``natural`` when the
    query was typed as a question or a phrase with function words (如何, 的,
    how, are): ``removed`` lists those words, and the query is ranked by how
    much of it a passage covers. ``split`` holds the concepts of a query
    that is one word made of known terms (六稳 + 六保), for relaxation.
    """

    root: PlanNode | None
    filters: tuple[Match, ...] = ()
    expansions: tuple[Expansion, ...] = ()
    untranslated: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    adjacent: tuple[str, ...] = ()
    natural: bool = False  # typed as a question or natural phrase (function words were left out)
    removed: tuple[str, ...] = ()  # the function words left out
    split: tuple[PlanNode, ...] = ()  # a single query word's known terms, which relaxation may match fewer of

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

    @property
    def parts(self) -> tuple[PlanNode, ...]:
        """What relaxation counts: ``concepts``, or else the known terms of a single query word (``split``).

        Empty when the query cannot be relaxed.
        """
        return self.concepts or self.split

    @property
    def fill(self) -> bool:
        """Whether passages with part of the query follow when fewer than asked for have all of it.

        True for a question or natural phrase, and for one query word made of
        known terms (六稳六保); a query of several words is relaxed only when
        no passage has them all.
        """
        return bool(self.parts) and (self.natural or bool(self.split))

    def relaxed_root(self) -> PlanNode | None:
        """The tree a relaxed query scores with: its parts, any of which may match, the whole as a bonus."""
        root = self.root
        if isinstance(root, AllOf):
            return root
        parts = self.parts
        return AllOf(parts, (root,)) if parts else root

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


def english_variants(word: str) -> list[str]:
    """The word and the forms CC-CEDICT's senses are likely to use.

    Singular for plural, the base of -ed and -ing forms, irregular forms
    (``data/english_forms.tsv``: built → build, children → child) and
    American for British spelling (stabilise → stabilize, labour → labor).
    """
    from ..lexicon import english_forms

    forms = english_forms()
    if word in forms:
        return [word, forms[word]]
    out = [word]
    if word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    elif word.endswith(("ses", "xes", "ches", "shes")):
        out.append(word[:-2])
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        out.append(word[:-1])
    if word.endswith("ied") and len(word) > 4:
        out.append(word[:-3] + "y")
    elif word.endswith("ed") and len(word) > 4:
        out += [word[:-1], word[:-2]]  # raised → raise, punished → punish
        if word[-3] == word[-4]:
            out.append(word[:-3])  # stopped → stop
    if word.endswith("ing") and len(word) > 5:
        out += [word[:-3], word[:-3] + "e"]  # building → build, raising → raise
        if word[-4] == word[-5]:
            out.append(word[:-4])
    for w in list(out):
        american = re.sub(r"is(e|es|ed|ing|ation|ations)$", r"iz\1", w) if len(w) >= 7 else w
        american = re.sub(r"our(s?)$", r"or\1", american)
        american = re.sub(r"yse(s?)$", r"yze\1", american)
        if american != w:
            out.append(american)
        if american in forms:
            out.append(forms[american])
    return list(dict.fromkeys(out))


def _english_sense(word: str) -> bool:
    """True when CC-CEDICT has ``word`` as an exact English sense (so it is not read as pinyin)."""
    from ..lexicon import cedict_lookup

    return any(rank == 0 for v in english_variants(word) for _w, rank in cedict_lookup(v))


# --- the planner ----------------------------------------------------------------------------------------


@dataclass
class _Choice:
    """A query word whose Chinese is chosen once the words beside it are known.

    ``kind`` "dictionary": an English word CC-CEDICT translates (``options``
    are its senses, each a one-item list); "pinyin": toneless pinyin
    (``options`` are the readings, each a list of words).
    """

    kind: str
    source: str
    options: list[list[str]]
    literal: Alternative | None = None


@dataclass
class _Planner:
    stats: TermStats | None
    expand: bool
    lexicon: "object"
    expansions: list[Expansion] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    adjacent: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    natural: bool = False
    _sets: dict = field(default_factory=dict)
    _ranks: dict = field(default_factory=dict)  # dictionary sense → its CC-CEDICT rank
    _looked_up: int = 0  # English words looked up in CC-CEDICT so far

    def _df(self, term: str) -> int:
        return self.stats.doc_frequency(term) if self.stats is not None else 0

    # -- what the index says about words together ----------------------------------------------------
    def _passages(self, node) -> frozenset | None:
        """The passages a plan node matches (None when the statistics cannot say)."""
        fn = getattr(self.stats, "passages", None)
        if fn is None:
            return None
        if node not in self._sets:
            self._sets[node] = fn(node)
        return self._sets[node]

    def _support(self, words: list[str]) -> int:
        """How many passages hold these words together (verbatim when the index can say, else all of them)."""
        if len(words) == 1:
            return self._df(words[0])
        verbatim = getattr(self.stats, "verbatim_count", None)
        if verbatim is not None:
            n = verbatim("".join(words))
            if n is not None:
                return n
        found = self._passages(AllOf(tuple(Concept(w, (Alternative(w, (w,)),)) for w in words)))
        return len(found) if found is not None else 0

    def _lift(self, words: list[str], others: list[Concept], min_both: int = config.RELATED_MIN_PASSAGES
              ) -> float | None:
        """How much more often than by chance a term occurs with the other concepts (None: unknown)."""
        count = getattr(self.stats, "passage_count", None)
        if not others or count is None:
            return None
        mine = self._passages(Concept(" ".join(words), (Alternative("".join(words), tuple(words)),)))
        theirs = [self._passages(c) for c in others]
        if mine is None or any(t is None for t in theirs):
            return None
        n = max(1, count())
        best = 0.0
        for t in theirs:
            both = len(mine & t)
            if both < min_both:
                continue
            expected = len(mine) * len(t) / n
            best = max(best, both / expected if expected else 0.0)
        return best

    # -- alternatives ---------------------------------------------------------------------------------
    def alternative(self, value: str, *, origin: str = "query", boost: float = 1.0, verbatim: bool = False,
                    curated: bool = False, sense: str = "") -> Alternative | None:
        norm = normalize(value).strip()
        words = words_of(value, self.stats, curated=curated)[: config.MAX_WORDS_PER_TERM]
        if not words and not (verbatim and norm):
            return None  # only punctuation or symbols: nothing a word can match (a quoted string still can)
        return Alternative(norm, words, origin, boost, verbatim, sense)

    def zh_alternatives(self, source: str, terms, origin: str, boost: float, targets=()) -> list[Alternative]:
        """Alternatives for expansion ``terms`` of ``source``; ``targets`` name the senses they must hold in."""
        # A term that contains another term (or the query word) adds nothing to recall and
        # would count the shorter one twice: 农村集体建设用地 beside 集体建设用地.
        norm = [normalize(t) for t in terms]
        base = normalize(source).strip()
        kept = [t for t, n in zip(terms, norm) if base not in n and not any(o != n and o in n for o in norm)]
        targets = [normalize(t) for t in targets if t]
        out = []
        for t in kept:
            sense = ""
            if targets and self.lexicon.sense_rule(t, targets) is not None:
                sense = next(x for x in targets if self.lexicon.sense_rule(t, [x]) is not None)
            alt = self.alternative(t, origin=origin, boost=boost, curated=True, sense=sense)
            if alt is None:
                continue
            self.expansions.append(Expansion(source, t, origin))
            out.append(alt)
        return out

    def literal(self, phrase: str) -> Alternative | None:
        """An English word or phrase matched as written (documents hold English too)."""
        return self.alternative(phrase, origin="literal")

    def abbreviation_alternatives(self, source: str, alt: Alternative) -> list[Alternative]:
        """The full forms of an abbreviation and the abbreviation of a full form (``abbreviations.tsv``).

        A full form ranks like the abbreviation; a full form that lists
        several items (简政放权、放管结合、优化服务) must occur as written; the parts
        of a numbered slogan (稳就业 of 六稳) rank lower. Inside a longer query
        word, a word that is an abbreviation is replaced by its full forms
        (医保报销 → 医疗保险报销).
        """
        table = self.lexicon.abbreviations()
        forms = table.get(alt.text) or table.get(_compact(alt.text))
        if not forms:
            if len(alt.words) < 2:
                return []
            spelled = []
            for i, w in enumerate(alt.words):
                full = table.get(w, ())
                # Whole full forms only: not a form that lists items, not one part of a slogan.
                whole = [f for f in full if is_han(f) and not (f != full[0] and f in _compact(full[0]))]
                for f in whole[: config.MAX_ABBREVIATION_FORMS]:
                    spelled.append("".join((*alt.words[:i], f, *alt.words[i + 1 :])))
            return self.zh_alternatives(source, spelled, "abbreviation", config.ABBREVIATION_BOOST)
        first = _compact(forms[0])
        out = []
        for f in forms:
            if alt.text in f:
                continue  # the query word finds it already
            part = f != forms[0] and _compact(f) in first
            boost = config.ABBREVIATION_PART_BOOST if part else config.ABBREVIATION_BOOST
            a = self.alternative(f, origin="abbreviation", boost=boost, curated=True)
            # A form of several words (简政放权、放管结合、优化服务; 营业税改征增值税) must occur as
            # written: its words apart say something else (营业税 and 增值税 in any tax text).
            if a is not None and len(a.words) > 1:
                a = self.alternative(f, origin="abbreviation", boost=boost, verbatim=True, curated=True)
            if a is None:
                continue
            self.expansions.append(Expansion(source, f, "abbreviation"))
            out.append(a)
        return out

    def pinyin_readings(self, syllables: tuple[str, ...]) -> list[list[str]]:
        """Readings of ``syllables`` as index words (fewest words), each a list of words."""
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
        return [list(combo) for combo in itertools.islice(itertools.product(*slots), config.MAX_PINYIN_COMBINATIONS)]

    def dictionary(self, word: str, exact: bool = False) -> list[str]:
        """CC-CEDICT senses of an English word that occur in the index (with ``exact``, of a phrase: exact senses only)."""
        from ..lexicon import cedict_lookup

        found: dict[str, int] = {}
        for variant in ([word] if exact else english_variants(word.removesuffix("'s"))):
            for w, rank in cedict_lookup(variant):
                if rank == 0 or not exact:
                    found[w] = min(rank, found.get(w, rank))
        senses = [(w, rank) for w, rank in found.items() if len(w) > 1 and self._df(w) > 0]
        if any(rank < 2 for _w, rank in senses):  # a sense that merely mentions the word is a last resort
            senses = [(w, rank) for w, rank in senses if rank < 2]
        senses.sort(key=lambda wr: (wr[1], -self._df(wr[0])))
        self._ranks.update(senses[: config.MAX_DICTIONARY_CANDIDATES])
        return [w for w, _ in senses[: config.MAX_DICTIONARY_CANDIDATES]]

    # -- English runs ---------------------------------------------------------------------------------
    def english_run(self, words: list[str]) -> tuple[list, list[Concept]]:
        """(required concepts or choices, optional concepts) for consecutive English words."""
        from ..lexicon import STOP, split_pinyin

        gl = self.lexicon.glossary()
        tp = self.lexicon.topic_phrases()
        function = self.lexicon.function_words()["en"]
        keys = [normalize(w).replace("’", "'").strip("'") for w in words]
        required: list = []
        optional: list[Concept] = []
        i, n = 0, len(keys)
        while i < n:
            # Longest glossary phrase starting here (a phrase may start with a framing word: state-owned).
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
                named = [t for t in self.lexicon.topics() if phrase in _topic_names(t, aliases=False)]
                # A topic's signal terms: every passage tagged with the topic matches its name, and an
                # alias the glossary does not translate ("pensions", "farming" have their own entries).
                broad = [t for t in tp.get(phrase, ()) if t not in precise] if named or not precise else []
                alts = [self.literal(source)]
                alts += self.zh_alternatives(source, precise, "glossary", config.GLOSSARY_BOOST, precise)
                slugs = [t.slug for t in self.lexicon.topics() if phrase in _topic_names(t)]
                alts += self.zh_alternatives(source, broad, "topic", config.TOPIC_BOOST, [*precise, *slugs, "*"])
                required.append(Concept(source, tuple(a for a in alts if a is not None)))
                i = j
                continue
            # Past a query's first words, general-dictionary look-ups stop: they cost a scan of
            # CC-CEDICT each, and a 2,000-character query must still answer at once.
            if self._looked_up >= config.MAX_TRANSLATED_WORDS:
                lit = self.literal(words[i])
                if lit is not None:
                    optional.append(Concept(words[i], (lit,)))
                i += 1
                continue
            self._looked_up += 1
            # A phrase CC-CEDICT translates as a whole (domestic violence → 家庭暴力).
            hit = None
            for j in range(min(n, i + 3), i + 1, -1):
                if any(k in function or not _LATIN_WORD.fullmatch(k) for k in keys[i:j]):
                    continue
                senses = self.dictionary(" ".join(keys[i:j]), exact=True)
                if senses:
                    hit = (j, senses)
                    break
            if hit:
                j, senses = hit
                source = " ".join(words[i:j])
                alts = [self.literal(source)]
                alts += self.zh_alternatives(source, senses, "dictionary", config.DICTIONARY_BOOST)
                required.append(Concept(source, tuple(a for a in alts if a is not None)))
                i = j
                continue
            kind = function.get(keys[i]) or function.get(keys[i].removesuffix("'s"))
            if kind is not None:
                self.removed.append(words[i])
                self.natural = True
                if kind != STOP:
                    lit = self.literal(words[i])
                    if lit is not None:
                        optional.append(Concept(words[i], (lit,)))
                i += 1
                continue
            # A run of pinyin-looking words that are not all English words: one pinyin phrase.
            j = i
            while j < n and keys[j] not in gl and keys[j] not in tp and keys[j] not in function \
                    and split_pinyin(keys[j]) is not None:
                j += 1
            if j > i and (j - i > 1 or len(split_pinyin(keys[i]) or ()) > 1):
                run = " ".join(keys[i:j])
                english = all(_english_sense(k) for k in keys[i:j])
                source = " ".join(words[i:j])
                readings = [] if english else self.pinyin_readings(split_pinyin(run))
                if readings:
                    required.append(_Choice("pinyin", source, readings, self.literal(source)))
                    i = j
                    continue
            senses = self.dictionary(keys[i])
            if senses:
                required.append(_Choice("dictionary", words[i], [[s] for s in senses], self.literal(words[i])))
            else:
                self.untranslated.append(words[i])
                lit = self.literal(words[i])
                if lit is not None:
                    optional.append(Concept(words[i], (lit,)))
            i += 1
        if not required and not optional and words:
            # Only function words ("how are you", "the"): they are what was asked for, matched as written.
            source = " ".join(words)
            lit = self.literal(source)
            if lit is not None:
                optional.append(Concept(source, (lit,)))
        return required, optional

    def choose(self, choice: _Choice, others: list[Concept]) -> tuple[list, list]:
        """The concepts of a choice, given the concepts beside it: (required, optional)."""
        if choice.kind == "dictionary":
            return self.choose_senses(choice, others)
        # Pinyin: the reading the corpus supports most, with the other query words when there are
        # some; then planned exactly as the Chinese it spells.
        def support(words: list[str]) -> tuple:
            lift = self._lift(words, others) if others else None
            return (lift is not None and lift >= config.RELATED_MIN_LIFT, self._support(words))

        scored = [(support(r), r) for r in choice.options] if len(choice.options) > 1 else []
        if scored and not any(sup for (_related, sup), _r in scored):
            # No reading occurs in the index as spelled: any of them may be meant (a name).
            alts = [choice.literal] if choice.literal is not None else []
            for r in choice.options:
                a = self.alternative("".join(r), origin="pinyin", boost=config.PINYIN_BOOST, verbatim=len(r) > 1)
                if a is not None:
                    self.expansions.append(Expansion(choice.source, a.text, "pinyin"))
                    alts.append(a)
            return [Concept(choice.source, tuple(alts))], []
        reading = max(scored, key=lambda x: x[0])[1] if scored else choice.options[0]
        spelled = "".join(reading)
        self.expansions.append(Expansion(choice.source, spelled, "pinyin"))
        required, optional = self.chinese(q.Text(spelled), origin="pinyin")
        if choice.literal is not None and required and isinstance(required[0], Concept):
            first = required[0]
            required[0] = Concept(first.source, (*first.alternatives, choice.literal), first.weight)
        return required, optional

    def choose_senses(self, choice: _Choice, others: list[Concept]) -> tuple[list, list]:
        """Dictionary senses of an English word; beside other concepts, only senses related to them.

        A sense is related when it occurs with another concept of the query
        more often than chance (``config.RELATED_MIN_LIFT``); "raised" beside
        "pensions" keeps 提高 and drops 肉鸡. A word none of whose senses is
        related is optional: it ranks passages that hold it literally, and
        requires nothing.
        """
        senses = [o[0] for o in choice.options]
        if others:
            # An exact sense needs less evidence than one that merely starts with or mentions the word.
            lifts = {s: self._lift([s], others, 1 if self._ranks.get(s) == 0 else config.RELATED_MIN_PASSAGES)
                     for s in senses}
            if all(v is not None for v in lifts.values()):
                senses = sorted((s for s in senses if lifts[s] >= config.RELATED_MIN_LIFT), key=lambda s: -lifts[s])
        senses = senses[: config.MAX_DICTIONARY_SENSES]
        if not senses:
            self.removed.append(choice.source)
            return [], ([Concept(choice.source, (choice.literal,))] if choice.literal is not None else [])
        alts = [choice.literal] if choice.literal is not None else []
        alts += self.zh_alternatives(choice.source, senses, "dictionary", config.DICTIONARY_BOOST)
        return [Concept(choice.source, tuple(alts), config.DICTIONARY_WEIGHT)], []

    # -- Chinese --------------------------------------------------------------------------------------
    def chinese(self, n: q.Text, origin: str = "query") -> tuple[list, list]:
        """(required, optional) concepts of an unquoted Chinese query word.

        A term (户籍制度改革, 医保报销) is one concept. A question or phrase with
        function words (如何让农村孩子享有更好的教育) becomes one concept per content
        word, framing words (问题, 解决) optional and function words left out, so
        that it can be relaxed and ranked by how much of it a passage covers.
        """
        from ..lexicon import STOP, WEAK

        norm = normalize(n.value).strip()
        table = self.lexicon.abbreviations()
        words: list[str] = []
        if not (norm in table or _compact(norm) in table or self._df(norm) > 0):
            words = query_words(n.value)
        function = self.lexicon.function_words()["zh"]
        kinds = [function.get(w) for w in words]
        if not any(kinds) or all(kinds):
            c = self.text(n, True, origin=origin)
            return ([c] if c is not None else []), []
        self.natural = True
        content = [w for w, k in zip(words, kinds) if k is None]
        long_enough = any(len(w) > 1 for w in content)
        required: list = []
        optional: list = []
        run: list[str] = []
        for w, k in (*zip(words, kinds), ("", STOP)):
            if k is None:
                run.append(w)
                c = self.text(q.Text(w), True, origin=origin, adjacent=False)
                if c is None:
                    continue
                # A lone character (网, 休) of a phrase with longer words ranks, but is not required.
                (optional if len(w) == 1 and long_enough else required).append(c)
                continue
            if len(run) > 1:
                phrase = "".join(run)
                self.adjacent.append(phrase)
                self.adjacent.extend(a + b for a, b in zip(run, run[1:]) if a + b != phrase)
            run = []
            if w:
                self.removed.append(w)
                if k == WEAK:
                    c = self.text(q.Text(w), True, origin=origin, adjacent=False)
                    if c is not None:
                        optional.append(c)
        return list(dict.fromkeys(required)), list(dict.fromkeys(optional))

    def split(self, root) -> tuple[Concept, ...]:
        """The known terms a single query word is made of (六稳六保 → 六稳, 六保), each planned as a word.

        Empty unless every word of it is a term of the vocabulary (glossary,
        synonyms, abbreviations, topics): a compound of unknown words
        (一图读懂) is not taken apart.
        """
        if not isinstance(root, Concept):
            return ()
        first = root.alternatives[0]
        words = list(dict.fromkeys(first.words))
        if first.verbatim or len(words) < 2 or first.origin not in ("query", "pinyin"):
            return ()
        known = self.lexicon.chinese_terms()
        if not all(w in known for w in words):
            return ()
        saved = len(self.expansions)
        out = tuple(c for c in (self.text(q.Text(w), True, origin=first.origin, adjacent=False) for w in words) if c)
        del self.expansions[saved:]  # the parts' expansions are not the query's
        return out

    # -- tree walk ------------------------------------------------------------------------------------
    def text(self, n: q.Text, positive: bool, origin: str = "query", adjacent: bool = True) -> Concept | None:
        alt = self.alternative(n.value, origin=origin, verbatim=n.phrase)
        if alt is None:
            return None
        alts = [alt]
        if positive and adjacent and not n.phrase and len(alt.words) > 1:
            self.adjacent.append(alt.text)
        if self.expand and positive and not n.phrase:
            syn = self.lexicon.synonyms().get(alt.text)
            if syn:
                alts += self.zh_alternatives(n.value, syn, "synonym", config.SYNONYM_BOOST, [alt.text])
            formal = self.lexicon.colloquial().get(alt.text)
            if formal:  # an everyday word: the documents say it their own way (上户口 → 户口登记)
                alts += self.zh_alternatives(n.value, formal, "synonym", config.COLLOQUIAL_BOOST, [alt.text])
            alts += self.abbreviation_alternatives(n.value, alt)
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
            if self.expand and positive and _is_chinese(c):
                required, opt = self.chinese(c)
                out.extend(required)
                optional.extend(opt)
                i += 1
                continue
            k = self.walk(c, positive)
            if k is not None:
                out.append(k)
            i += 1
        # Dictionary senses and pinyin readings are chosen by the words beside them.
        settled = [k for k in out if not isinstance(k, _Choice)]
        others = [k for k in settled if isinstance(k, Concept)]
        final: list = []
        for k in out:
            if isinstance(k, _Choice):
                required, opt = self.choose(k, [o for o in others if o.source != k.source])
                final.extend(required)
                optional.extend(opt)
            else:
                final.append(k)
        return final, optional

    def walk(self, n: q.Node, positive: bool):
        if isinstance(n, q.Text):
            if self.expand and positive and (_is_latin(n) or _is_chinese(n)):
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


def _topic_names(t, aliases: bool = True) -> set[str]:
    from ..lexicon import _en_key

    return {_en_key(x) for x in (t.en, t.slug.replace("-", " "), *(t.aliases if aliases else ()))}


def _is_chinese(n: q.Node) -> bool:
    return isinstance(n, q.Text) and not n.phrase and has_cjk(n.value)


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
        natural=planner.natural,
        removed=tuple(dict.fromkeys(planner.removed)),
        split=planner.split(root) if expand else (),
    )
