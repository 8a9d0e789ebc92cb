"""Highlights and snippets: where a hit's query strings occur, and the excerpt to show.

Spans are found in the normalised text (same length as the original), so
they are exact offsets into the text as written.
"""

from __future__ import annotations

from typing import Iterable

from . import config
from .query.plan import LOOSE
from .text import SENTENCE_ENDS, normalize

__all__ = ["highlight_spans", "make_snippet"]


def highlight_spans(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Merged (start, end) spans of every occurrence of each needle in normalised ``text``.

    Needles marked ``LOOSE`` (single words of a multi-word query) count only
    when none of the others occurs in the text.
    """
    norm = normalize(text)
    needles = list(needles)
    spans = _find_all(norm, [n for n in needles if not n.startswith(LOOSE)])
    if not spans:
        spans = _find_all(norm, [n[1:] for n in needles if n.startswith(LOOSE)])
    return spans


def _find_all(norm: str, needles: list[str]) -> list[tuple[int, int]]:
    spans = []
    for n in needles:
        if not n:
            continue
        start = norm.find(n)
        while start >= 0:
            spans.append((start, start + len(n)))
            start = norm.find(n, start + 1)
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _sentence_start(text: str, i: int, floor: int) -> int:
    j = i
    while j > floor and text[j - 1] not in SENTENCE_ENDS:
        j -= 1
    return j


def make_snippet(text: str, spans: list[tuple[int, int]], width: int = config.SNIPPET_CHARS,
                 open_mark: str = "<mark>", close_mark: str = "</mark>") -> str:
    """An excerpt around the first highlight, cut at sentence ends, highlights wrapped in marks."""
    if len(text) <= width or not spans:
        lo, hi = 0, min(len(text), width) if not spans else len(text)
        if not spans and len(text) > width:
            hi = _cut_end(text, 0, width)
    else:
        best = None
        for anchor_s, anchor_e in spans:
            a_lo = _sentence_start(text, anchor_s, max(0, anchor_s - width // 2))
            if anchor_s - a_lo > width // 2:
                a_lo = anchor_s - width // 3
            a_hi = max(_cut_end(text, a_lo, width), anchor_e)
            inside = [(s, e) for s, e in spans if s < a_hi and e > a_lo]
            covered = (len({text[s:e] for s, e in inside}), sum(min(e, a_hi) - max(s, a_lo) for s, e in inside))
            if best is None or covered > best[0]:
                best = (covered, a_lo, a_hi)
        _covered, lo, hi = best
    lo, hi = _snap(text, spans, lo, hi)
    out = []
    if lo > 0:
        out.append("…")
    cur = lo
    for s, e in spans:
        if e <= lo or s >= hi:
            continue
        s, e = max(s, lo), min(e, hi)
        out.append(text[cur:s])
        out.append(open_mark + text[s:e] + close_mark)
        cur = e
    out.append(text[cur:hi])
    if hi < len(text):
        out.append("…")
    return "".join(out)


def _snap(text: str, spans, lo: int, hi: int) -> tuple[int, int]:
    """Widen a window so that it neither cuts a highlight nor a Latin word or number in two."""
    for s, e in spans:
        if s < lo < e:
            lo = s
        if s < hi < e:
            hi = e
    while 0 < lo < len(text) and text[lo - 1].isascii() and text[lo - 1].isalnum() and text[lo].isascii() \
            and text[lo].isalnum():
        lo -= 1
    while 0 < hi < len(text) and text[hi - 1].isascii() and text[hi - 1].isalnum() and text[hi].isascii() \
            and text[hi].isalnum():
        hi += 1
    return lo, hi


def _cut_end(text: str, lo: int, width: int) -> int:
    hi = min(len(text), lo + width)
    if hi >= len(text):
        return len(text)
    k = max(text.rfind(c, lo, hi) for c in SENTENCE_ENDS)
    return k + 1 if k > lo + width // 2 else hi
