"""Documents → passages with section paths. Pure functions, no I/O.

Chunking works from the blocks a reader found (``Document.blocks``) and never
from the file format. A passage is one paragraph (a paragraph block; its
lines stay together unless one of them is a heading by its wording), or a
bounded part of a long paragraph split at sentence ends. Tiny paragraphs join
a neighbour unless they are a heading or a law article; a table block is a
passage of its own.

Section paths come from the document's own structure, outermost first:
appendices (附件1, 名词解释: what follows nests under them, not under the
body's last section); headings the format marks (Markdown ``#``, Word heading
styles); 第X编/分编/章/节; 一、; （一）; 1. / 1、/（1）; law articles (第X条
starts a passage and names its section); and lead sentences, where a
paragraph opens with a short stand-alone sentence naming its subject
(促进城乡基础设施一体化发展。…), which is the section of that paragraph only.

A stand-alone 一、/（一） line is a heading whatever its length. An inline
heading (（一）小标题。正文…) is a heading for its own paragraph and those that
follow. A heading with no text under it before its next sibling is also a
passage, so no words of a document are lost. Salutations (各位代表！) and
statements (今年是…之年。) are never lead sentences. Headings are recognised
on normalised text, so full-width digits, Kangxi radicals and traditional
script (第一條) do not hide them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib import resources

from .config import HEADING_MAX_CHARS as _HEADING_MAX
from .config import MAX_PASSAGE_CHARS, MIN_PASSAGE_CHARS
from .models import Block, Document, Passage
from .readers import line_blocks
from .text import CLOSERS, OPENERS, SENTENCE_ENDS, STRONG_SENTENCE_ENDS, normalize

__all__ = ["chunk", "LEAD_SECTION", "MAX_PASSAGE_CHARS", "MIN_PASSAGE_CHARS"]

LEAD_SECTION = "导语"

_NUM = "一二三四五六七八九十百千零〇两0-9０-９"
_PART = re.compile(rf"^第[{_NUM}]+(编|分编|章|节)(?:[\s\u3000:：]|$)")
_ARTICLE = re.compile(rf"^第[{_NUM}]+条(?:之[{_NUM}]+)?(?=[\s\u3000:：【\[（(]|$)")
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
_RANK_APPENDIX = 0  # closes every open section
_INLINE_HEADING_MAX = 80  # the first sentence of （一）小标题。正文… is a heading up to this length
_ITEM_RANKS = (_RANK_CN, _RANK_PAREN, _RANK_DIGIT)
_SENTENCE_INSIDE = re.compile(r"[。！？!?]")
_ANNEX = re.compile(rf"^附\s*件\s*(?:[{_NUM}]+|[:：]\s*\S)")

_vocab_lock = threading.Lock()
_vocab: dict[str, tuple[str, ...]] | None = None


def _words() -> dict[str, tuple[str, ...]]:
    """The lists of ``data/structure.txt``: appendix openers, salutations, statement openers."""
    global _vocab
    if _vocab is None:
        with _vocab_lock:
            if _vocab is None:
                raw = resources.files("kb").joinpath("data/structure.txt").read_text("utf-8")
                out: dict[str, list[str]] = {}
                cur: list[str] | None = None
                for line in raw.splitlines():
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    if line.startswith("[") and line.endswith("]"):
                        cur = out.setdefault(line[1:-1], [])
                    elif cur is not None:
                        cur.extend(normalize(w) for w in line.split())
                _vocab = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in out.items()}
    return _vocab


def _is_appendix(line: str) -> bool:
    """附件1 / 附件：…清单 / 名词解释 / 附录…: a short line that opens an appendix."""
    sq = "".join(line.split())
    if len(sq) > 30 or _SENTENCE_INSIDE.search(sq):
        return False
    return _ANNEX.match(sq) is not None or sq.startswith(_words().get("appendix", ()))


@dataclass
class _Para:
    start: int
    end: int
    section: tuple[str, ...]
    fixed: bool  # an article start or a table row: never merged into a neighbour
    page: int = 0
    table: bool = False  # a table row: nothing joins it


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] == "\ufeff"):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _label(s: str) -> str:
    return _WS.sub(" ", s).strip()


def _classify(line: str, norm: str, in_article: bool) -> tuple[str, int, str] | None:
    """(kind, rank, label) when a line is a heading or article start by its wording, else None.

    ``norm`` is the line normalised (same length); the label is taken from ``line``.
    Kind "inline" is a heading that is the first sentence of its paragraph: the
    label is that sentence, and the line stays a paragraph.
    """
    m = _ARTICLE.match(norm)
    if m:
        return "article", _RANK_ARTICLE, _label(line[: m.end()])
    one_sentence = not _SENTENCE_INSIDE.search(norm[:-1])
    short = len(norm) <= _HEADING_MAX and one_sentence
    m = _PART.match(norm)
    if m and short:
        return "heading", _RANK_PART[m.group(1)], _label(line)
    if in_article:
        return None
    if _is_appendix(norm):
        return "heading", _RANK_APPENDIX, _label(line.rstrip("：:"))
    if norm.endswith(("；", ";", "，", ",", "、", "：", ":")):
        return None
    rank = None
    if _CN_ITEM.match(norm):
        rank = _RANK_CN
    elif _PAREN_ITEM.match(norm):
        rank = _RANK_PAREN
    elif _DIGIT_ITEM.match(norm) and len(norm) <= 30 and one_sentence:
        return "heading", _RANK_DIGIT, _label(line.rstrip("。."))
    if rank is None:
        return None
    if one_sentence and (len(norm) <= _HEADING_MAX or not norm.endswith(("。", "!", "?", "！", "？"))):
        # A stand-alone 一、/（一） line is a heading of any length; a long one that ends a sentence is an item.
        return "heading", rank, _label(line.rstrip("。"))
    # （一）小标题。正文…: the first sentence is the heading of this paragraph and those after it.
    m = _SENTENCE_INSIDE.search(norm)
    if m and m.start() <= _INLINE_HEADING_MAX and len(norm) - m.end() >= 10 and norm[m.start()] == "。":
        return "inline", rank, _label(line[: m.start()])
    return None


def _item_rank(norm: str) -> int | None:
    """The rank of the list marker a line starts with (一、 （一） 1.), or None."""
    if _CN_ITEM.match(norm):
        return _RANK_CN
    if _PAREN_ITEM.match(norm):
        return _RANK_PAREN
    if _DIGIT_ITEM.match(norm):
        return _RANK_DIGIT
    return None


def _lead_sentence(text: str) -> str | None:
    """The paragraph's opening stand-alone sentence, if it names a subject.

    A subject is named by a short sentence ending in 。 (促进城乡基础设施一体化
    发展。); an exclamation or question, a salutation (各位代表！) or a
    statement (今年是…之年。 我们要…。) names none.
    """
    if not text or text[0] in OPENERS:
        return None
    for i, ch in enumerate(text[:31]):
        if ch in STRONG_SENTENCE_ENDS:
            sentence = text[: i + 1]
            rest = text[i + 1 :].strip()
            if len(sentence) < 5 or len(rest) < 10 or ch != "。":
                return None
            if _LEAD_FORBIDDEN.search(sentence) or sentence[0].isdigit():
                return None
            norm = normalize(sentence)
            words = _words()
            if norm.startswith(words.get("salutation", ())) or norm.startswith(words.get("statement", ())):
                return None
            if "是" in norm:  # a statement (…是…之年), not a subject
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
    norm = normalize(text)  # same length: headings are found on it, labels and passages come from ``text``
    blocks = doc.blocks if doc.blocks is not None else line_blocks(text)
    stack: list[tuple[int, str]] = []  # (rank, label)
    paras: list[_Para] = []
    pending: tuple[int, int, int] | None = None  # a tiny line waiting to join the next paragraph (start, end, page)
    # The last item heading (一、/（一）/1.) while nothing has been filed under it: (rank, start, end, page, path).
    empty: tuple[int, int, int, int, tuple[str, ...]] | None = None

    def path() -> tuple[str, ...]:
        return tuple(label for _rank, label in stack)

    def flush_pending() -> None:
        nonlocal pending
        if pending is not None:
            paras.append(_Para(pending[0], pending[1], path(), False, pending[2]))
            pending = None

    def close(rank: int) -> None:
        """Close the open sections of ``rank`` and deeper."""
        nonlocal empty
        flush_pending()  # a tiny line before a heading belongs to the section it is in
        if empty is not None and rank <= empty[0]:
            # A heading with nothing under it before its sibling is a list item: a passage of its own,
            # filed under the section that holds the list.
            paras.append(_Para(empty[1], empty[2], empty[4][:-1], False, empty[3]))
            empty = None
        while stack and stack[-1][0] >= rank:
            stack.pop()

    def push(rank: int, label: str, span: tuple[int, int, int] | None = None) -> None:
        nonlocal empty
        close(rank)
        empty = None
        stack.append((rank, label))
        if span is not None and rank in _ITEM_RANKS:
            empty = (rank, span[0], span[1], span[2], path())

    def filed() -> None:
        nonlocal empty
        empty = None

    for block in blocks:
        if block.kind == "heading" and block.level > 0:
            s, e = _strip_span(text, block.start, block.end)
            if e > s:
                push(block.level, _label(text[s:e]))
            continue
        if block.kind == "table":
            s, e = _strip_span(text, block.start, block.end)
            if e > s:
                flush_pending()
                filed()
                paras.append(_Para(s, e, path(), True, block.page, table=True))
            continue
        current: _Para | None = None  # the paragraph this block's lines extend
        for s, e in _lines(text, block):
            line = text[s:e]
            in_article = bool(stack) and stack[-1][0] == _RANK_ARTICLE
            kind = _classify(line, norm[s:e], in_article)
            if kind is not None and kind[0] == "heading":
                _kind, rank, label = kind
                push(rank, label, (s, e, block.page))
                current = None
                continue
            if kind is not None and kind[0] == "article":
                flush_pending()
                filed()
                while stack and stack[-1][0] >= _RANK_ARTICLE:
                    stack.pop()
                stack.append((_RANK_ARTICLE, kind[2]))
                paras.append(_Para(s, e, path(), True, block.page))
                current = None
                continue
            if kind is not None and kind[0] == "inline":
                _kind, rank, label = kind
                push(rank, label)
                filed()
                para = _Para(s, e, path(), False, block.page)
                paras.append(para)
                current = para
                continue
            if not in_article:
                rank = _item_rank(norm[s:e])
                if rank is not None:
                    # A list item that is not a heading (一、…。 with its text) still closes its siblings' sections.
                    close(rank)
            sec = path()
            filed()
            if current is not None and current.section == sec:
                current.end = e  # the block's lines form one paragraph
                continue
            page = block.page
            if pending is not None:
                if not text[pending[1]:s].strip():
                    s, page = pending[0], pending[2]
                else:  # left-out text (a caption, furniture) lies between: a passage never spans it
                    paras.append(_Para(pending[0], pending[1], sec, False, pending[2]))
                pending = None
            if e - s < min_chars:
                prev = paras[-1] if paras else None
                if prev is not None and prev.section == sec and not prev.table and not text[prev.end:s].strip():
                    prev.end = e
                    continue
                pending = (s, e, page)
                continue
            para = _Para(s, e, sec, False, page)
            paras.append(para)
            current = para
    if pending is not None:
        if paras and paras[-1].section == path() and not paras[-1].table and not text[paras[-1].end:pending[0]].strip():
            paras[-1].end = pending[1]
        else:
            paras.append(_Para(pending[0], pending[1], path(), False, pending[2]))
    if empty is not None:
        paras.append(_Para(empty[1], empty[2], empty[4][:-1], False, empty[3]))

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
