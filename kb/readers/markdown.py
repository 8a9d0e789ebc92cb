"""Markdown (``.md``, ``.markdown``): ``#`` headings give sections; a paragraph may span lines.

The title is the first ``# `` heading (as for a news page, a date or source
line may follow it). Every other heading is a heading block of its level;
consecutive non-blank lines form one paragraph block.
"""

from __future__ import annotations

import re

from ..models import Block
from ..text.decode import DecodeFailure, decode_bytes
from . import ReadResult, Source, document
from .plaintext import read_page

__all__ = ["read", "markdown_blocks"]

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def read(source: Source) -> ReadResult:
    """The one document of a Markdown file."""
    try:
        text, _encoding = decode_bytes(source.data)
    except DecodeFailure as e:
        return source.skip(str(e))
    fields, body_start, body_end = read_page(text, markdown=True)
    if not text[body_start:body_end].strip():
        return source.skip("no body text after the title")
    blocks = markdown_blocks(text, body_start, body_end, title=fields["title"])
    return ReadResult([document(source, fields, text, blocks, "md")], [])


def markdown_blocks(text: str, start: int, end: int, *, title: str = "") -> list[Block]:
    """Heading blocks (level = number of ``#``) and paragraph blocks of consecutive lines."""
    out: list[Block] = []
    para: list[int] | None = None  # [start, end] of the paragraph being built
    seen_text = False

    def flush() -> None:
        nonlocal para
        if para is not None:
            out.append(Block(para[0], para[1]))
            para = None

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
            flush()
            continue
        m = _HEADING.match(text[s:e])
        if m:
            flush()
            label_s = s + m.start(2)
            label_e = s + m.end(2)
            level = len(m.group(1))
            # The title repeated as the first heading is not a section.
            if level == 1 and not seen_text and " ".join(m.group(2).split()) == title:
                continue
            out.append(Block(label_s, label_e, kind="heading", level=level))
            continue
        seen_text = True
        if para is None:
            para = [s, e]
        else:
            para[1] = e
    flush()
    return out
