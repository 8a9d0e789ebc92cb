"""CSV and TSV (``.csv``, ``.tsv``): one document per row of a table whose columns hold text.

The header names the columns. The text column is the first whose name is a
known text name (``text``, ``full_text``, ``content``, ``body``, ``正文``,
``内容``, …); failing that, the column whose cells are longest on average, if
they read as prose. Title, date, id, source and URL columns are found by
their names (``title``/``标题``, ``publish_date``/``日期``/``发布时间``,
``id``/``编号``, ``source``/``来源``); every other column is kept as the
document's metadata. The bytes are decoded like a text file (a BOM, UTF-8,
GB18030/GBK, then detection); quoted fields may span lines. A row whose text
is empty is skipped with its row number; a file without a text column is
skipped with a reason that names the columns it has. Ragged rows (more or
fewer cells than the header) are read as far as they go.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from ..models import Document, Skipped
from ..text import has_cjk
from ..text.dates import normalize_date
from ..text.decode import DecodeFailure, decode_bytes
from . import ReadResult, Source
from .cleaning import tidy
from .plaintext import text_lines

__all__ = ["read", "MAX_ROWS"]

MAX_ROWS = 1_000_000
MAX_FIELD = 16 * 1024 * 1024

# Column names, compared lower-cased without spaces, underscores or hyphens.
_NAMES = {
    "text": ("text", "fulltext", "content", "contents", "body", "article", "articletext", "maintext", "正文", "内容",
             "全文", "文本", "正文内容", "文章内容", "新闻内容", "原文", "summarytext"),
    "title": ("title", "headline", "name", "subject", "标题", "题目", "名称", "文件名称", "文章标题", "新闻标题", "文件标题"),
    "date": ("date", "publishdate", "pubdate", "published", "publishedat", "publishtime", "time", "datetime",
             "createdat", "created", "issuedate", "日期", "时间", "发布日期", "发布时间", "发文日期", "成文日期", "印发日期", "公布日期"),
    "id": ("id", "docid", "uid", "key", "编号", "序号", "文档编号", "索引号"),
    "source": ("source", "publisher", "issuer", "agency", "organization", "site", "来源", "发文机关", "发布机构", "发布单位", "发文单位", "出处"),
    "editor": ("editor", "author", "作者", "编辑", "责任编辑"),
}


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.strip().strip("\ufeff")).lower()


def read(source: Source) -> ReadResult:
    """One document per row of a CSV/TSV file, and the rows (or the whole file) skipped."""
    try:
        text, _encoding = decode_bytes(source.data)
    except DecodeFailure as e:
        return source.skip(str(e))
    text = text.lstrip("\ufeff")
    delimiter = "\t" if source.path.suffix.lower() == ".tsv" else _sniff(text)
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return source.skip("empty table: no header row")
    except csv.Error as e:
        return source.skip(f"unreadable table ({e})")
    header = [h.strip() for h in header]
    try:
        rows = []
        for n, row in enumerate(reader):
            if n >= MAX_ROWS:
                break
            rows.append((reader.line_num, row))
    except csv.Error as e:
        return source.skip(f"unreadable table near line {reader.line_num} ({e})")
    cols = _columns(header, rows)
    if cols.get("text") is None:
        shown = ", ".join(h or "(blank)" for h in header[:12]) + (", …" if len(header) > 12 else "")
        return source.skip(f"no text column: the columns are {shown}; name the text column text, content or 正文")
    docs: list[Document] = []
    skipped: list[Skipped] = []
    ti = cols["text"]
    for rowno, (line, row) in enumerate(rows, 2):
        if not any(c.strip() for c in row):
            continue
        cell = lambda k: row[cols[k]].strip() if cols.get(k) is not None and cols[k] < len(row) else ""  # noqa: E731
        body = (row[ti] if ti < len(row) else "").replace("\r\n", "\n").replace("\r", "\n")
        where = f"{source.path}:{line}"
        if not body.strip():
            skipped.append(Skipped(where, f"row {rowno}: empty text", line, "line"))
            continue
        title = " ".join(cell("title").split())
        lines = text_lines(body)
        tidied = tidy(body, lines, find_title=False, title=title)
        if not tidied.blocks:
            skipped.append(Skipped(where, f"row {rowno}: no text after cleaning", line, "line"))
            continue
        rid = cell("id")
        meta: dict[str, Any] = {h or f"column {k + 1}": row[k] for k, h in enumerate(header)
                                if k < len(row) and k not in cols.values() and row[k].strip()}
        if len(row) > len(header):
            meta["extra cells"] = row[len(header):]
        meta["row"] = rowno
        meta.update({k: v for k, v in tidied.metadata.items() if k not in meta})
        docs.append(Document(
            id=rid or f"{source.doc_id}:{rowno}",
            title=title or tidied.title or body.strip().split("\n", 1)[0][:60],
            text=body,
            date=normalize_date(cell("date")) or tidied.date,
            source=cell("source") or tidied.source,
            editor=cell("editor") or tidied.editor,
            path=str(source.path),
            format="csv",
            blocks=tuple(tidied.blocks),
            metadata=meta,
        ))
    if not docs and not skipped:
        return source.skip("the table has a header but no rows")
    return ReadResult(docs, skipped)


def _sniff(text: str) -> str:
    head = text[:65536]
    first = head.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str], rows: list[tuple[int, list[str]]]) -> dict[str, int | None]:
    """Column index of each known field; the text column by name, else by content."""
    keys = [_key(h) for h in header]
    out: dict[str, int | None] = {}
    for field, names in _NAMES.items():
        out[field] = next((i for i, k in enumerate(keys) if k in names), None)
        if out[field] is None:
            out[field] = next((i for i, k in enumerate(keys) if any(k.endswith(n) for n in names if len(n) >= 4)), None)
    taken = {v for k, v in out.items() if v is not None and k != "text"}
    if out["text"] is None and rows:
        # No known name: the column with the longest prose cells, if any reads as text.
        sample = rows[:200]
        best, best_len = None, 0.0
        for i in range(len(header)):
            if i in taken:
                continue
            cells = [r[i] for _l, r in sample if i < len(r)]
            if not cells:
                continue
            avg = sum(len(c) for c in cells) / len(cells)
            prose = sum(1 for c in cells if re.search(r"[，。；,.;]", c) and (has_cjk(c) or re.search(r"[a-z]{3}", c, re.I)))
            if avg >= 30 and prose >= len(cells) / 2 and avg > best_len:
                best, best_len = i, avg
        out["text"] = best
    # A column cannot be two fields: the text column wins.
    for k in list(out):
        if k != "text" and out[k] is not None and out[k] == out["text"]:
            out[k] = None
    return out
