"""Chinese-correct text analysis: normalisation, segmentation and Whoosh tokenizers.

This is the only module that imports the segmenter (rjieba, the Rust port of
jieba) and the traditional→simplified converter (OpenCC); both load lazily.

``WordTokenizer`` feeds the index: precise segmentation gives one token per
word with consecutive positions; at index time every dictionary word inside a
longer word (户籍 in 户籍制度) is added at the same position, so a query word
finds longer words that contain it. (Strings that straddle word boundaries
are found by ``kb.recall``.)

Matching text is normalised (full-width→half-width, lower case,
traditional→simplified) without changing its length, so character offsets in
the normalised text are offsets in the original.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources
from typing import Iterator

from whoosh.analysis import Token, Tokenizer

__all__ = [
    "normalize",
    "word_tokens",
    "query_words",
    "WordTokenizer",
    "is_cjk",
    "has_cjk",
]

# --- normalisation ----------------------------------------------------------

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space
_FULLWIDTH[0x00A0] = 0x20  # no-break space

_t2s_lock = threading.Lock()
_seg_lock = threading.Lock()
_t2s = None


def _converter():
    global _t2s
    if _t2s is None:
        with _t2s_lock:
            if _t2s is None:
                import opencc

                _t2s = opencc.OpenCC("t2s")
    return _t2s


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A few characters lower-case to two (İ → i̇); keep those as they are.
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _simplify(text: str) -> str:
    if text.isascii():
        return text
    conv = _converter()
    out = conv.convert(text)
    if len(out) == len(text):
        return out
    # Phrase conversions can change length; fall back to per-character mapping.
    chars = []
    for ch in text:
        c = conv.convert(ch)
        chars.append(c if len(c) == 1 else ch)
    return "".join(chars)


def normalize(text: str) -> str:
    """Text for matching: half-width, lower-case, simplified; same length as ``text``."""
    return _simplify(_lower(text.translate(_FULLWIDTH)))


# --- character classes ------------------------------------------------------

_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
    (0x3005, 0x3007),
)


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    for lo, hi in _CJK_RANGES:
        if lo <= cp <= hi:
            return True
    return False


_CJK_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def _is_wordlike(tok: str) -> bool:
    for ch in tok:
        if ch.isalnum() or is_cjk(ch):
            return True
    return False


# --- segmenter --------------------------------------------------------------

_seg_ready = False


def _policy_terms() -> Iterator[tuple[str, int | None]]:
    data = resources.files("kb").joinpath("data/policy_terms.txt").read_text("utf-8")
    for line in data.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 else None
        yield normalize(parts[0]), freq


def _segmenter():
    global _seg_ready
    import rjieba

    if not _seg_ready:
        terms = list(_policy_terms())  # normalises: takes the converter's lock, not ours
        with _seg_lock:
            if not _seg_ready:
                for word, freq in terms:
                    rjieba.add_word(word, freq, None)
                _seg_ready = True
    return rjieba


_NUM_UNIT = frozenset("年月日")
_DIGITS = re.compile(r"^\d+$")


def _precise(norm: str) -> list[tuple[str, int, int]]:
    """Precise segmentation of normalised text → (token, start, end), units merged."""
    toks = _segmenter().tokenize(norm, mode="default", hmm=True)
    out: list[tuple[str, int, int]] = []
    i = 0
    n = len(toks)
    while i < n:
        w, s, e = toks[i]
        # Keep numbers with their calendar unit: 2024年, 12月.
        if i + 1 < n and _DIGITS.match(w) and toks[i + 1][0] in _NUM_UNIT and toks[i + 1][1] == e:
            out.append((w + toks[i + 1][0], s, toks[i + 1][2]))
            i += 2
            continue
        out.append((w, s, e))
        i += 1
    return out


@lru_cache(maxsize=200_000)
def _subwords(word: str) -> tuple[str, ...]:
    """Dictionary words strictly inside ``word`` (户籍 and 制度 in 户籍制度)."""
    if len(word) > 1 and word[:-1].isdigit() and word[-1] in _NUM_UNIT:
        return (word[:-1],)  # 2024年 also finds 2024
    if len(word) < 3 or not has_cjk(word):
        return ()
    seg = _segmenter()
    found = []
    n = len(word)
    for size in range(2, n):
        for i in range(0, n - size + 1):
            sub = word[i : i + size]
            if seg.has_word(sub):
                found.append(sub)
    return tuple(dict.fromkeys(found))


def word_tokens(text: str, *, index: bool = True) -> list[tuple[str, int, int, int]]:
    """Word tokens of ``text`` as (term, position, start, end).

    Positions count words; punctuation advances the position (so phrases do not
    match across it) but is not a token; spaces do neither. With ``index`` the
    dictionary words inside each longer word are added at its position.
    """
    norm = normalize(text)
    out: list[tuple[str, int, int, int]] = []
    pos = 0
    for w, s, e in _precise(norm):
        if w.isspace():
            continue
        if not _is_wordlike(w):
            pos += 1
            continue
        out.append((w, pos, s, e))
        if index and len(w) > 2:
            for sub in _subwords(w):
                off = w.find(sub)
                out.append((sub, pos, s + off, s + off + len(sub)))
        pos += 1
    return out


def query_words(text: str) -> list[str]:
    """The words a query string is made of (precise segmentation, no punctuation)."""
    return [w for w, _pos, _s, _e in word_tokens(text, index=False)]


# --- Whoosh tokenizers ------------------------------------------------------


class WordTokenizer(Tokenizer):
    """Whoosh tokenizer over ``word_tokens``: fine-grained when indexing, precise for queries."""

    def __eq__(self, other):
        return other is not None and self.__class__ is other.__class__

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = normalize(value)
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t
            return
        for term, pos, s, e in word_tokens(value, index=(mode == "index")):
            t.text = term
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = value[s:e]
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + s
                t.endchar = start_char + e
            yield t
