"""The Whoosh tokenizer over kb's segmentation (``kb.text.segment``).

``WordTokenizer`` feeds the index: fine-grained (with dictionary sub-words)
when indexing, precise for queries; positions count words and character
offsets are exact.
"""

from __future__ import annotations

from whoosh.analysis import Token, Tokenizer

from ...text import normalize
from ...text.segment import word_tokens

__all__ = ["WordTokenizer"]


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
