"""Pure text: normalisation for matching, the one definition of CJK, sentence ends.

Nothing here knows about the index, the segmenter or file formats. The
traditional→simplified converter (OpenCC) is the only dependency, loaded on
first use.

Matching text is normalised (full-width→half-width, look-alike code points
such as Kangxi radicals → the common character, lower case,
traditional→simplified) without changing its length, so character offsets in
the normalised text are offsets in the original.
"""

from __future__ import annotations

import re
import threading

__all__ = [
    "normalize",
    "fold",
    "is_cjk",
    "has_cjk",
    "is_han",
    "CJK_CLASS",
    "SENTENCE_ENDS",
    "STRONG_SENTENCE_ENDS",
    "CLOSERS",
    "OPENERS",
]

# --- character classes --------------------------------------------------------------------------------

# Han ideographs: the unified block and extension A, compatibility ideographs, the
# supplementary planes (extensions B–H), and 々〆〇. One definition for all of kb.
CJK_CLASS = "\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_RE = re.compile(f"[{CJK_CLASS}]")
_HAN_RE = re.compile(f"[{CJK_CLASS}]+")


def is_cjk(ch: str) -> bool:
    """True when the character ``ch`` is a Han ideograph (see ``CJK_CLASS``)."""
    return _CJK_RE.fullmatch(ch) is not None


def has_cjk(text: str) -> bool:
    """True when ``text`` contains at least one Han ideograph."""
    return _CJK_RE.search(text) is not None


def is_han(text: str) -> bool:
    """True when ``text`` is non-empty and consists of Han ideographs only."""
    return _HAN_RE.fullmatch(text) is not None


# Sentence ends: where a snippet or a long paragraph may be cut.
SENTENCE_ENDS = "。！？；!?;"
# Ends of a full sentence (not a clause): where a lead sentence ends.
STRONG_SENTENCE_ENDS = "。！？!?"
CLOSERS = "”’」』）)】"
OPENERS = "“‘「『（(【《\"'"

# --- normalisation ------------------------------------------------------------------------------------

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space
_FULLWIDTH[0x00A0] = 0x20  # no-break space

_fold_table: dict[int, int] | None = None


def _table() -> dict[int, int]:
    """Full-width forms and look-alike code points → the common character (one for one)."""
    global _fold_table
    if _fold_table is None:
        import unicodedata
        from importlib import resources

        table = dict(_FULLWIDTH)
        # Kangxi radicals (⼈ for 人) and compatibility ideographs decompose to one unified ideograph.
        for lo, hi in ((0x2F00, 0x2FE0), (0xF900, 0xFB00), (0x2F800, 0x2FA20)):
            for cp in range(lo, hi):
                nf = unicodedata.normalize("NFKC", chr(cp))
                if len(nf) == 1 and nf != chr(cp):
                    table[cp] = ord(nf)
        data = resources.files("kb").joinpath("data/lookalikes.tsv").read_text("utf-8")
        for line in data.splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and not line.startswith("#") and len(parts[2]) == 1:
                table[int(parts[0], 16)] = ord(parts[2])
        _fold_table = table
    return _fold_table


def fold(text: str) -> str:
    """Full-width forms and look-alike code points replaced by the common character; same length."""
    return text.translate(_table())

_t2s_lock = threading.Lock()
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
    return _simplify(_lower(text.translate(_table())))
