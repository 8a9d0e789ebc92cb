"""Chinese word segmentation: the only module that imports the segmenter.

rjieba (jieba's dictionary and algorithm in Rust) plus kb's policy terms
(``data/policy_terms.txt``), loaded on first use. ``word_tokens`` gives one
token per word with consecutive positions (precise segmentation); for
indexing, every dictionary word inside a longer word (户籍 in 户籍制度) is
added at the same position, so a query word finds longer words that contain
it. Strings that straddle word boundaries are found by verbatim recall.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources
from typing import Iterator

from . import CJK_CLASS, has_cjk, is_cjk, normalize

__all__ = ["word_tokens", "query_words", "is_wordlike", "set_user_words"]

_seg_lock = threading.Lock()


def is_wordlike(tok: str) -> bool:
    """True when a token has a letter, digit or ideograph (not only punctuation or symbols)."""
    for ch in tok:
        if ch.isalnum() or is_cjk(ch):
            return True
    return False


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


_seg = None  # the rjieba segmenter in use: the module's own, or a fresh one after users' words were removed
_user_words: tuple[tuple[str, int | None], ...] = ()  # users' segmentation words (kb.lexicon), normalised


def _segmenter():
    global _seg_ready, _seg
    import rjieba

    if not _seg_ready:
        terms = list(_policy_terms())  # normalises: takes the converter's lock, not ours
        with _seg_lock:
            if not _seg_ready:
                seg = _seg or rjieba
                for word, freq in (*terms, *_user_words):
                    seg.add_word(word, freq, None)
                _seg = seg
                _seg_ready = True
    return _seg


def set_user_words(words) -> bool:
    """Make the segmenter use these users' words, ``(word, frequency or None)`` pairs; True when they changed.

    The segmenter is process-global: the words apply to every knowledge base
    of the process (the last set wins). Adding words updates the loaded
    dictionary; removing one starts a fresh dictionary (about 0.1 s). Free
    when the segmenter is not loaded yet: it loads them with its dictionary.
    """
    global _user_words, _seg, _seg_ready
    new = tuple(sorted({normalize(str(w)).strip(): f for w, f in words if str(w).strip()}.items()))
    if new == _user_words:
        return False
    with _seg_lock:
        removed = set(_user_words) - set(new)
        if _seg_ready:
            if removed:  # rjieba cannot forget a word: load a fresh dictionary on next use
                import rjieba

                _seg, _seg_ready = rjieba.Jieba(), False
            else:
                for word, freq in set(new) - set(_user_words):
                    _seg.add_word(word, freq, None)
        _user_words = new
    _subwords.cache_clear()
    return True


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


# Spaces between two ideographs: letter-spaced text (安 全 生 产) from justified PDF lines and
# spaced-out headings. Chinese puts no space between words, so such spaces are layout.
_CJK_GAP = re.compile(f"(?<=[{CJK_CLASS}])[ \t\u3000\u00a0]+(?=[{CJK_CLASS}])")


def _segments(norm: str) -> list[tuple[str, int, int]]:
    """``_precise`` over ``norm`` with layout spaces between ideographs closed up; offsets stay in ``norm``."""
    if _CJK_GAP.search(norm) is None:
        return _precise(norm)
    keep: list[int] = []  # index in norm of each character of the closed-up text
    last = 0
    for m in _CJK_GAP.finditer(norm):
        keep.extend(range(last, m.start()))
        last = m.end()
    keep.extend(range(last, len(norm)))
    compact = "".join(norm[i] for i in keep)
    return [(w, keep[s], keep[e - 1] + 1) for w, s, e in _precise(compact) if e > s]


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
    # Indexed text closes up letter-spaced ideographs; a query's spaces are the user's word breaks.
    for w, s, e in (_segments(norm) if index else _precise(norm)):
        if w.isspace():
            continue
        if not is_wordlike(w):
            pos += 1
            continue
        out.append((w, pos, s, e))
        if index and len(w) > 2:
            # A letter-spaced word spans more characters than it has: map its characters back.
            at = range(s, e) if e - s == len(w) else [i for i in range(s, e) if not norm[i].isspace()]
            for sub in _subwords(w):
                off = w.find(sub)
                out.append((sub, pos, at[off], at[off + len(sub) - 1] + 1))
        pos += 1
    return out


def query_words(text: str) -> list[str]:
    """The words a query string is made of (precise segmentation, no punctuation)."""
    return [w for w, _pos, _s, _e in word_tokens(text, index=False)]
