"""JSON Lines (``.jsonl``): one document per line, with ``id``, ``title``, ``date``, ``source``, ``text``.

Other fields are kept as the document's metadata (with ``line``, the line
number). A malformed line is skipped with its number; the others are read.
"""

from __future__ import annotations

import json

from ..models import Document, Skipped
from ..text.dates import normalize_date
from ..text.decode import DecodeFailure, decode_bytes
from . import ReadResult, Source, line_blocks

__all__ = ["read"]

_CORE = ("id", "title", "date", "source", "text", "editor")


def read(source: Source) -> ReadResult:
    """Every document of a JSONL file, and the lines that were skipped."""
    try:
        text, _encoding = decode_bytes(source.data)
    except DecodeFailure as e:
        return source.skip(str(e))
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{source.path}:{lineno}"
        try:
            rec = json.loads(line)
        except ValueError as e:
            skipped.append(Skipped(where, f"line {lineno}: malformed JSON ({e.msg})", lineno, "line"))
            continue
        if not isinstance(rec, dict):
            skipped.append(Skipped(where, f"line {lineno}: not a JSON object", lineno, "line"))
            continue
        body = rec.get("text")
        if not isinstance(body, str):
            skipped.append(Skipped(where, f"line {lineno}: no \"text\" field", lineno, "line"))
            continue
        body = body.replace("\r\n", "\n").replace("\r", "\n")
        if not body.strip():
            skipped.append(Skipped(where, f"line {lineno}: empty \"text\"", lineno, "line"))
            continue
        rid = rec.get("id")
        doc_id = str(rid).strip() if rid not in (None, "") else f"{source.doc_id}:{lineno}"
        title = str(rec.get("title") or "").strip()
        first_nl = body.find("\n")
        first = (body if first_nl < 0 else body[:first_nl]).strip()
        start = 0
        if title and first == title:  # the title repeated as the first line is not a passage
            start = len(body) if first_nl < 0 else first_nl + 1
        if not title:
            title = first[:60]
        meta = {k: v for k, v in rec.items() if k not in _CORE}
        meta["line"] = lineno
        docs.append(
            Document(
                id=doc_id,
                title=title,
                text=body,
                date=normalize_date(rec.get("date")),
                source=str(rec.get("source") or ""),
                editor=str(rec.get("editor") or ""),
                path=str(source.path),
                format="jsonl",
                blocks=tuple(line_blocks(body, start)),
                metadata=meta,
            )
        )
    return ReadResult(docs, skipped)
