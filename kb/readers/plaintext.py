"""Plain text and saved news-page text (``.txt``).

A news page saved as text, like the seed: a title line, a date line
(``01.12.2020  06:00`` is day.month.year) or a ``来源：`` line, the body, then
an editor line (``[ 责任编辑:… ]``) after which only the site's boilerplate
follows. The body ends at the editor line, so the boilerplate is never a
passage. Any other text file is a title line and a body.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..text.dates import normalize_date
from ..text.decode import DecodeFailure, decode_bytes
from . import ReadResult, Source, document, line_blocks

__all__ = ["read", "read_page"]

_DATE_LINE = re.compile(
    r"^\s*(?:(?:发布|日期|时间|发布时间|来源)[:：]?\s*)?"
    r"(\d{1,2}\.\d{1,2}\.\d{4}|\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?)"
    r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?\s*$"
)
_EDITOR_LINE = re.compile(r"^\s*[\[【(（]\s*(?:责任编辑|编辑|责编)\s*[:：]\s*([^\]】)）]*?)\s*[\]】)）]\s*$")
_EDITOR_PLAIN = re.compile(r"^\s*(?:责任编辑|责编)\s*[:：]\s*(\S{1,20})\s*$")
_SITE = re.compile(r"(?:欢迎下载)?(\S{2,8}?网)客户端")
_SOURCE_LINE = re.compile(r"^\s*来源\s*[:：]\s*(\S{2,30})")
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*$")


def read(source: Source) -> ReadResult:
    """The one document of a ``.txt`` file."""
    try:
        text, _encoding = decode_bytes(source.data)
    except DecodeFailure as e:
        return source.skip(str(e))
    fields, body_start, body_end = read_page(text)
    if not text[body_start:body_end].strip():
        return source.skip("no body text after the title")
    return ReadResult([document(source, fields, text, line_blocks(text, body_start, body_end), "txt")], [])


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, line) for each line of ``text``; end excludes the newline."""
    pos = 0
    for line in text.split("\n"):
        yield pos, pos + len(line), line
        pos += len(line) + 1


def read_page(text: str, *, markdown: bool = False) -> tuple[dict[str, Any], int, int]:
    """A page's title, date, source and editor, and the span of its body.

    The title is the first non-empty line (in Markdown, a ``# `` heading); up
    to four header lines after it may give a date or a source; the body ends
    at an editor line.
    """
    lines = list(_lines(text))
    title = ""
    body_start = 0
    date = ""
    source = ""
    editor = ""
    idx = 0
    while idx < len(lines) and not lines[idx][2].strip():
        idx += 1
    if idx < len(lines):
        first = lines[idx][2].strip()
        if markdown:
            m = _MD_TITLE.match(first)
            if m:
                title = m.group(1).strip()
                body_start = lines[idx][1] + 1
                idx += 1
        elif len(first) <= 100 and not first.endswith(("。", "；", "，")):
            title = first
            body_start = lines[idx][1] + 1
            idx += 1
    # Header lines after the title: a date line (news pages) or a source line.
    seen = 0
    j = idx
    while j < len(lines) and seen < 4:
        s, e, line = lines[j]
        j += 1
        if not line.strip():
            continue
        seen += 1
        m = _DATE_LINE.match(line)
        if m and not date:
            date = normalize_date(m.group(1))
            body_start = e + 1
            continue
        m = _SOURCE_LINE.match(line)
        if m and not source and len(line.strip()) <= 40:
            source = m.group(1)
            body_start = e + 1
            continue
        break
    body_end = len(text)
    for s, e, line in lines:
        if s < body_start:
            continue
        m = _EDITOR_LINE.match(line) or _EDITOR_PLAIN.match(line)
        if m:
            editor = m.group(1).strip()
            body_end = s
            m2 = _SITE.search(text, e)
            if m2 and not source:
                source = m2.group(1)
            break
    fields = {"title": title, "date": date, "source": source, "editor": editor, "metadata": {}}
    return fields, min(body_start, len(text)), max(body_end, min(body_start, len(text)))
