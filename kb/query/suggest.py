""""Did you mean": a corrected query built from the index's own vocabulary.

English words that could not be translated are matched against the
glossary's vocabulary; Chinese words that find nothing are replaced by an
indexed word that sounds the same (户藉 → 户籍) or differs in one character.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Protocol

from .. import config
from ..text import has_cjk, normalize
from . import parse as q

__all__ = ["Vocabulary", "suggest"]


class Vocabulary(Protocol):
    """What suggestions ask of an index."""

    def doc_frequency(self, term: str) -> int: ...

    def pinyin_words(self, syllables: tuple[str, ...]) -> set[str]: ...

    def terms_with_prefix(self, prefix: str) -> Iterator[str]: ...


def suggest(query: str, node: q.Node, untranslated: Iterable[str], vocab: Vocabulary,
            finds: Callable[[q.Text], bool], english: Iterable[str] = ()) -> str:
    """A corrected query string, or "".

    ``finds(text)`` says whether a query word alone finds any passage (words
    that do are kept as typed); ``english`` is the English vocabulary that
    misspelled words are matched against.
    """
    import difflib

    english = list(english)
    fixes: dict[str, str] = {}
    for word in untranslated:
        close = difflib.get_close_matches(normalize(word), english, n=1, cutoff=0.8)
        if close and close[0] != normalize(word):
            fixes[word] = close[0]
    for n in _texts(node):
        value = n.value.strip()
        if n.value in fixes or not has_cjk(value) or finds(n):
            continue
        fix = _correct_chinese(vocab, normalize(value))
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


def _correct_chinese(vocab: Vocabulary, word: str) -> str:
    """The index's word for a mistyped Chinese query word, or "".

    The whole string first (户藉 → 户籍); failing that, each piece the
    index does not know (乡村医声 → 乡村 + 医声 → 医生; runs of single
    characters are one piece: 工伤保硷 → 工伤 + 保硷 → 保险).
    """
    fix = _closest(vocab, word)
    if fix or len(word) < 3:
        return fix
    from ..text.segment import query_words

    pieces: list[str] = []
    single = ""
    for w in query_words(word):
        if len(w) == 1:
            single += w
            continue
        if single:
            pieces.append(single)
            single = ""
        pieces.append(w)
    if single:
        pieces.append(single)
    out, changed = list(pieces), False
    verbatim = getattr(vocab, "verbatim_count", None)
    for i, piece in enumerate(pieces):
        if len(piece) < 2 or not has_cjk(piece) or vocab.doc_frequency(piece) > 0:
            continue
        ranked = _ranked(vocab, piece)
        if not ranked:
            continue
        choice = ranked[0]
        if verbatim is not None:
            # Among the close candidates, one that makes the whole query occur as typed (失业 + 保险,
            # not 失业 + 报验) is the one meant.
            for cand in ranked[: config.MAX_CORRECTIONS_TRIED]:
                if verbatim("".join((*out[:i], cand, *out[i + 1 :]))):
                    choice = cand
                    break
        out[i] = choice
        changed = True
    return "".join(out) if changed else ""


# Sounds that are easily confused when typing pinyin (flat and retroflex initials, n/l, front and back nasals).
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"), ("iang", "ian"), ("uang", "uan"))


def _near_syllables(syl: str) -> set[str]:
    out = set()
    for a, b in _INITIALS:
        for x, y in ((a, b), (b, a)):
            if syl.startswith(x) and not (x == "z" and syl.startswith("zh")) and not (x == "c" and syl.startswith("ch")) \
                    and not (x == "s" and syl.startswith("sh")):
                out.add(y + syl[len(x):])
    for a, b in _FINALS:
        for x, y in ((a, b), (b, a)):
            if syl.endswith(x) and not (x == "an" and syl.endswith(("ang", "ian", "uan"))) and not (
                    x == "en" and syl.endswith("eng")) and not (x == "in" and syl.endswith("ing")):
                out.add(syl[: -len(x)] + y)
    out.discard(syl)
    return out


def _closest(vocab: Vocabulary, word: str) -> str:
    """The best candidate for ``word`` (see ``_ranked``), or ""."""
    ranked = _ranked(vocab, word)
    return ranked[0] if ranked else ""


def _ranked(vocab: Vocabulary, word: str) -> list[str]:
    """The index's words that sound like ``word`` or differ from it in one character, best first.

    Candidates that keep more of the typed characters rank first, then those
    that sound the same (then nearly the same), then the more frequent.
    """
    from ..lexicon import pinyin_of

    syllables = tuple(pinyin_of(word).split())
    sound: dict[str, int] = {}
    for w in vocab.pinyin_words(syllables):
        sound[w] = 2
    for i, syl in enumerate(syllables):
        for near in _near_syllables(syl):
            for w in vocab.pinyin_words((*syllables[:i], near, *syllables[i + 1 :])):
                sound.setdefault(w, 1)
    for t in vocab.terms_with_prefix(word[0]):
        if len(t) == len(word) and sum(a != b for a, b in zip(t, word)) == 1:
            sound.setdefault(t, 0)
    sound.pop(word, None)
    keyed = []
    for w, s in sound.items():
        df = vocab.doc_frequency(w)
        if df <= 0:
            continue
        kept = sum(a == b for a, b in zip(w, word)) if len(w) == len(word) else 0
        keyed.append(((kept, s, df), w))
    keyed.sort(key=lambda kw: kw[0], reverse=True)
    return [w for _key, w in keyed]
