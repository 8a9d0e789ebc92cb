"""Markdown (``.md``, ``.markdown``): ``#`` headings give sections; a paragraph may span lines.

YAML front matter (a ``---`` block at the top) is metadata: its ``title``,
``date``, ``source`` and ``editor`` are the document's, other keys are kept in
its metadata. Otherwise the title is the first ``# `` heading (as for a news
page, a date or source line may follow it). Every other heading is a heading
block of its level; consecutive non-blank lines form one paragraph block.
Page furniture, metadata lines and captions are left out as for plain text.
"""

from __future__ import annotations

import re
from typing import Any

from ..models import Block
from ..text import CJK_CLASS
from ..text.dates import normalize_date
from ..text.decode import DecodeFailure, decode_bytes
from . import ReadResult, Source, document
from .cleaning import Line, tidy

__all__ = ["read", "markdown_blocks", "markdown_lines", "front_matter"]

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_KEY = re.compile(rf"^([A-Za-z_][\w-]*|[{CJK_CLASS}]{{1,8}})\s*:\s*(.*)$")


def read(source: Source) -> ReadResult:
    """The one document of a Markdown file."""
    try:
        text, _encoding = decode_bytes(source.data)
    except DecodeFailure as e:
        return source.skip(str(e))
    front, body_start = front_matter(text)
    lines = markdown_lines(text, body_start, len(text))
    title = str(front.get("title") or "")
    if not title:
        # The first level-1 heading before any text is the title.
        for ln in lines:
            if ln.kind == "heading" and ln.level == 1:
                title = text[ln.start:ln.end].strip()
            break
    tidied = tidy(text, lines, find_title=not title, title=title)
    fields: dict[str, Any] = {
        "title": title or tidied.title,
        "date": normalize_date(front.get("date")) or tidied.date,
        "source": str(front.get("source") or "") or tidied.source,
        "editor": str(front.get("editor") or front.get("author") or "") or tidied.editor,
        "metadata": {**tidied.metadata, **{k: v for k, v in front.items() if k not in ("title", "date", "source", "editor")}},
    }
    if not tidied.blocks:
        return source.skip("no body text after the title")
    return ReadResult([document(source, fields, text, tidied.blocks, "md")], [])


def front_matter(text: str) -> tuple[dict[str, Any], int]:
    """The keys of a YAML front-matter block (flat ``key: value`` lines) and where the body starts."""
    m = _FRONT.match(text)
    if not m:
        return {}, 0
    out: dict[str, Any] = {}
    for line in m.group(1).split("\n"):
        km = _KEY.match(line.strip())
        if not km:
            continue
        key, value = km.group(1).lower(), km.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif value.startswith("[") and value.endswith("]"):
            out[key] = [x.strip().strip("'\"") for x in value[1:-1].split(",") if x.strip()]
            continue
        out[key] = value
    return out, m.end()


def markdown_lines(text: str, start: int, end: int) -> list[Line]:
    """Heading lines (level = number of ``#``) and paragraph lines; a paragraph's lines continue each other."""
    out: list[Line] = []
    brk = True
    pos = start
    for raw in text[start:end].split("\n"):
        ls, le = pos, pos + len(raw)
        pos = le + 1
        s, e = ls, le
        while s < e and (text[s].isspace() or text[s] == "\ufeff"):
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s >= e:
            brk = True
            continue
        m = _HEADING.match(text[s:e])
        if m:
            out.append(Line(s + m.start(2), s + m.end(2), kind="heading", level=len(m.group(1))))
            brk = True
            continue
        out.append(Line(s, e, brk=brk))
        brk = False
    return out


def markdown_blocks(text: str, start: int, end: int, *, title: str = "") -> list[Block]:
    """Heading blocks and paragraph blocks of ``text[start:end]``, without any cleaning."""
    out: list[Block] = []
    seen_text = False
    for ln in markdown_lines(text, start, end):
        if ln.kind == "heading":
            # The title repeated as the first heading is not a section.
            if ln.level == 1 and not seen_text and " ".join(text[ln.start:ln.end].split()) == title:
                continue
            out.append(Block(ln.start, ln.end, kind="heading", level=ln.level))
            continue
        seen_text = True
        if not ln.brk and out and out[-1].kind == "para":
            out[-1] = Block(out[-1].start, ln.end)
        else:
            out.append(Block(ln.start, ln.end))
    return out
