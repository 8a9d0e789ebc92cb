"""Plain text and saved news-page text (``.txt``).

A news page saved as text, like the seed: a title line, a date line
(``01.12.2020  06:00`` is day.month.year) or a ``来源：`` line, the body, then
an editor line (``[ 责任编辑:… ]``) after which only the site's boilerplate
follows. The body ends at the editor line, so the boilerplate is never a
passage. Page furniture (print bars, breadcrumbs, share prompts, related-link
blocks), metadata lines and photo captions anywhere are left out by
``kb.readers.cleaning``; each other non-blank line is a paragraph.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..text.decode import DecodeFailure, decode_bytes
from . import ReadResult, Source, document
from .cleaning import Line, Tidied, tidy

__all__ = ["read", "read_page", "text_lines"]

_EDITOR_LINE = re.compile(r"^\s*[\[【(（]\s*(?:责任编辑|编辑|责编|責任編輯)\s*[:：]\s*([^\]】)）]*?)\s*[\]】)）]\s*$")
_EDITOR_PLAIN = re.compile(r"^\s*(?:责任编辑|责编|責任編輯)\s*[:：]\s*(\S{1,20})\s*$")
_SITE = re.compile(r"(?:欢迎下载)?(\S{2,8}?网)客户端")


def read(source: Source) -> ReadResult:
    """The one document of a ``.txt`` file."""
    try:
        text, _encoding = decode_bytes(source.data)
    except DecodeFailure as e:
        return source.skip(str(e))
    fields, tidied = read_page(text)
    if not tidied.blocks:
        return source.skip("no body text after the title")
    return ReadResult([document(source, fields, text, tidied.blocks, "txt")], [])


def _lines(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, str]]:
    """(start, end, line) for each line of ``text[start:end]``; end excludes the newline."""
    end = len(text) if end is None else end
    pos = start
    for line in text[start:end].split("\n"):
        yield pos, pos + len(line), line
        pos += len(line) + 1


def text_lines(text: str, start: int = 0, end: int | None = None, page: int = 0) -> list[Line]:
    """One ``Line`` (a paragraph of its own) per non-blank line of ``text[start:end]``, stripped."""
    out = []
    for s, e, _line in _lines(text, start, end):
        while s < e and (text[s].isspace() or text[s] == "\ufeff"):
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append(Line(s, e, page=page))
    return out


def read_page(text: str, start: int = 0) -> tuple[dict[str, Any], Tidied]:
    """A page's fields (title, date, source, editor, metadata) and its tidied body blocks.

    The body ends at a bracketed editor line (``[ 责任编辑:… ]``): a news site's
    boilerplate follows it.
    """
    lines = text_lines(text, start)
    editor = ""
    source = ""
    for k, ln in enumerate(lines):
        if k == 0:
            continue
        line = text[ln.start:ln.end]
        m = _EDITOR_LINE.match(line) or _EDITOR_PLAIN.match(line)
        if m:
            editor = m.group(1).strip()
            m2 = _SITE.search(text, ln.end)
            if m2:
                source = m2.group(1)
            lines = lines[:k]
            break
    tidied = tidy(text, lines)
    fields: dict[str, Any] = {"title": tidied.title, "date": tidied.date, "source": tidied.source or source,
                              "editor": tidied.editor or editor, "metadata": dict(tidied.metadata)}
    return fields, tidied
