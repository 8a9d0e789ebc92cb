"""Documents → passages with section paths. Pure functions, no I/O.

Chunking works from the blocks a reader found (``Document.blocks``) and never
from the file format. A passage is one paragraph (a paragraph block; its
lines stay together unless one of them is a heading by its wording), or a
bounded part of a long paragraph split at sentence ends. Tiny paragraphs join
a neighbour unless they are a heading or a law article; a table block is a
passage of its own.

Section paths come from the document's own structure, outermost first:
headings the format marks (Markdown ``#``, Word heading styles); 第X编/分编/
章/节; 一、; （一）; 1. / 1、/（1）; law articles (第X条 starts a passage and
names its section); and lead sentences, where a paragraph opens with a short
stand-alone sentence naming its subject (促进城乡基础设施一体化发展。…), which
is the section of that paragraph only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .config import HEADING_MAX_CHARS as _HEADING_MAX
from .config import MAX_PASSAGE_CHARS, MIN_PASSAGE_CHARS
from .models import Block, Document, Passage
from .readers import line_blocks
from .text import CLOSERS, OPENERS, SENTENCE_ENDS, STRONG_SENTENCE_ENDS

__all__ = ["chunk", "LEAD_SECTION", "MAX_PASSAGE_CHARS", "MIN_PASSAGE_CHARS"]

LEAD_SECTION = "导语"

_NUM = "一二三四五六七八九十百千零〇两0-9０-９"
_PART = re.compile(rf"^第[{_NUM}]+(编|分编|章|节)(?:[\s\u3000:：]|$)")
_ARTICLE = re.compile(rf"^第[{_NUM}]+条(?:之[{_NUM}]+)?(?=[\s\u3000:：]|$)")
_CN_ITEM = re.compile(rf"^[{_NUM[:-6]}]+、")
_PAREN_ITEM = re.compile(rf"^[（(][{_NUM[:-6]}]+[）)]")
_DIGIT_ITEM = re.compile(r"^(?:\d{1,2}[.．、](?!\d)|[（(]\d{1,2}[）)])")
_LEAD_FORBIDDEN = re.compile(r"[，,；;：:]")
_WS = re.compile(r"[\s\u3000]+")

# Ranks order heading kinds from outermost to innermost. Headings a format marks
# itself (Markdown #, Word heading styles) rank by their level, 1-9, outside these.
_RANK_PART = {"编": 10, "分编": 11, "章": 12, "节": 13}
_RANK_CN = 20
_RANK_PAREN = 21
_RANK_DIGIT = 22
_RANK_ARTICLE = 30


@dataclass
class _Para:
    start: int
    end: int
    section: tuple[str, ...]
    fixed: bool  # an article start or a table row: never merged into a neighbour
    page: int = 0


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] == "\ufeff"):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _label(s: str) -> str:
    return _WS.sub(" ", s).strip()


def _classify(line: str, in_article: bool) -> tuple[str, int, str] | None:
    """(kind, rank, label) when ``line`` is a heading or article start by its wording, else None."""
    m = _ARTICLE.match(line)
    if m:
        return "article", _RANK_ARTICLE, m.group(0)
    short = len(line) <= _HEADING_MAX and not any(p in line[:-1] for p in "。！？")
    m = _PART.match(line)
    if m and short:
        return "heading", _RANK_PART[m.group(1)], _label(line)
    if in_article or not short or line.endswith(("；", ";", "，", ",")):
        return None
    if _CN_ITEM.match(line):
        return "heading", _RANK_CN, _label(line.rstrip("。"))
    if _PAREN_ITEM.match(line):
        return "heading", _RANK_PAREN, _label(line.rstrip("。"))
    if _DIGIT_ITEM.match(line) and len(line) <= 30:
        return "heading", _RANK_DIGIT, _label(line.rstrip("。"))
    return None


def _lead_sentence(text: str) -> str | None:
    """The paragraph's opening stand-alone sentence, if it names a subject."""
    if not text or text[0] in OPENERS:
        return None
    for i, ch in enumerate(text[:31]):
        if ch in STRONG_SENTENCE_ENDS:
            sentence = text[: i + 1]
            rest = text[i + 1 :].strip()
            if len(sentence) < 5 or len(rest) < 10:
                return None
            if _LEAD_FORBIDDEN.search(sentence) or sentence[0].isdigit():
                return None
            return sentence[:-1]
    return None


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into spans of at most ``limit`` chars at sentence ends."""
    if end - start <= limit:
        return [(start, end)]
    # Sentence boundaries (after the end mark and any closing quotes).
    cuts = []
    i = start
    while i < end:
        if text[i] in SENTENCE_ENDS:
            j = i + 1
            while j < end and text[j] in CLOSERS:
                j += 1
            cuts.append(j)
            i = j
        else:
            i += 1
    if not cuts or cuts[-1] != end:
        cuts.append(end)
    pieces: list[tuple[int, int]] = []
    s = start
    for c in cuts:
        pieces.append((s, c))
        s = c
    # Pieces longer than the limit are cut at commas, then hard.
    fine: list[tuple[int, int]] = []
    for s, e in pieces:
        while e - s > limit:
            window = text[s : s + limit]
            k = max(window.rfind(p) for p in "，,、：:")
            cut = s + k + 1 if k >= limit // 3 else s + limit
            fine.append((s, cut))
            s = cut
        if e > s:
            fine.append((s, e))
    # Greedy packing into parts of at most ``limit`` chars.
    parts: list[tuple[int, int]] = []
    cur_s, cur_e = fine[0]
    for s, e in fine[1:]:
        if e - cur_s <= limit:
            cur_e = e
        else:
            parts.append((cur_s, cur_e))
            cur_s, cur_e = s, e
    parts.append((cur_s, cur_e))
    out = []
    for s, e in parts:
        s, e = _strip_span(text, s, e)
        if e > s:
            out.append((s, e))
    return out


def _lines(text: str, block: Block):
    """(start, end) of each non-blank line of a block, stripped."""
    pos = block.start
    for raw in text[block.start : block.end].split("\n"):
        ls, le = pos, pos + len(raw)
        pos = le + 1
        s, e = _strip_span(text, ls, le)
        if e > s:
            yield s, e


def chunk(doc: Document, *, max_chars: int = MAX_PASSAGE_CHARS, min_chars: int = MIN_PASSAGE_CHARS) -> list[Passage]:
    """The passages of ``doc`` in order, each with its section path, exact span and page."""
    text = doc.text
    blocks = doc.blocks if doc.blocks is not None else line_blocks(text)
    stack: list[tuple[int, str]] = []  # (rank, label)
    paras: list[_Para] = []
    pending: tuple[int, int, int] | None = None  # a tiny line waiting to join the next paragraph (start, end, page)

    def path() -> tuple[str, ...]:
        return tuple(label for _rank, label in stack)

    def push(rank: int, label: str) -> None:
        nonlocal pending
        while stack and stack[-1][0] >= rank:
            stack.pop()
        stack.append((rank, label))
        if pending is not None:
            paras.append(_Para(pending[0], pending[1], path(), False, pending[2]))
            pending = None

    for block in blocks:
        if block.kind == "heading" and block.level > 0:
            s, e = _strip_span(text, block.start, block.end)
            if e > s:
                push(block.level, _label(text[s:e]))
            continue
        if block.kind == "table":
            s, e = _strip_span(text, block.start, block.end)
            if e > s:
                if pending is not None:
                    paras.append(_Para(pending[0], pending[1], path(), False, pending[2]))
                    pending = None
                paras.append(_Para(s, e, path(), True, block.page))
            continue
        current: _Para | None = None  # the paragraph this block's lines extend
        for s, e in _lines(text, block):
            line = text[s:e]
            in_article = bool(stack) and stack[-1][0] == _RANK_ARTICLE
            kind = _classify(line, in_article)
            if kind is not None and kind[0] == "heading":
                _kind, rank, label = kind
                push(rank, label)
                current = None
                continue
            if kind is not None and kind[0] == "article":
                while stack and stack[-1][0] >= _RANK_ARTICLE:
                    stack.pop()
                stack.append((_RANK_ARTICLE, kind[2]))
                if pending is not None:
                    paras.append(_Para(pending[0], pending[1], path()[:-1], False, pending[2]))
                    pending = None
                paras.append(_Para(s, e, path(), True, block.page))
                current = None
                continue
            sec = path()
            if current is not None and current.section == sec:
                current.end = e  # the block's lines form one paragraph
                continue
            page = block.page
            if pending is not None:
                s, page = pending[0], pending[2]
                pending = None
            if e - s < min_chars:
                prev = paras[-1] if paras else None
                if prev is not None and prev.section == sec:
                    prev.end = e
                    continue
                pending = (s, e, page)
                continue
            para = _Para(s, e, sec, False, page)
            paras.append(para)
            current = para
    if pending is not None:
        if paras and paras[-1].section == path():
            paras[-1].end = pending[1]
        else:
            paras.append(_Para(pending[0], pending[1], path(), False, pending[2]))

    passages: list[Passage] = []
    seq = 0
    for n, para in enumerate(paras, 1):
        body = text[para.start : para.end]
        section = list(para.section)
        if not (section and section[-1].startswith("第") and section[-1].endswith("条")) and not para.fixed:
            lead = _lead_sentence(body)
            if lead:
                section.append(lead)
        if not section:
            section = [LEAD_SECTION]
        section_path = " > ".join(section)
        spans = _split_long(text, para.start, para.end, max_chars)
        for k, (s, e) in enumerate(spans, 1):
            seq += 1
            part = k if len(spans) > 1 else 0
            pid = f"{doc.id}#{n}" if not part else f"{doc.id}#{n}.{k}"
            passages.append(
                Passage(
                    id=pid,
                    doc_id=doc.id,
                    seq=seq,
                    paragraph=n,
                    part=part,
                    start=s,
                    end=e,
                    text=text[s:e],
                    section=section_path,
                    page=para.page,
                )
            )
    return passages
