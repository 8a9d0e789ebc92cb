""""Did you mean": a corrected query built from the index's own vocabulary.

English words that could not be translated are matched against the
glossary's vocabulary; Chinese words that find nothing are replaced by an
indexed word that sounds the same (户藉 → 户籍) or differs in one character.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Protocol

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
    from ..lexicon import pinyin_of

    same = [w for w in vocab.pinyin_words(tuple(pinyin_of(word).split())) if w != word and vocab.doc_frequency(w) > 0]
    if same:
        return max(same, key=vocab.doc_frequency)
    # One character different, same length, sharing the first character.
    best, best_df = "", 0
    for t in vocab.terms_with_prefix(word[0]):
        if len(t) == len(word) and t != word and sum(a != b for a, b in zip(t, word)) == 1:
            f = vocab.doc_frequency(t)
            if f > best_df:
                best, best_df = t, f
    return best
