"""Readers: one module per file format, behind a registry keyed by file suffix.

A reader turns one file's bytes into documents (``kb.models.Document``) whose
``blocks`` give the body's structure: paragraphs, headings the format marks
itself, table rows, and the page each starts on. Chunking works from those
blocks and never needs to know the format. A reader never raises for bad
input: it returns what it could read and a ``Skipped`` entry, with a reason,
for each document (or the whole file) it could not.

Adding a format is one new module with a ``read(source) -> ReadResult``
function and one line in ``_READERS``; modules are imported on first use, so
a heavy parser costs nothing until a file of its kind is indexed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

from ..models import Block, Document, Skipped
from ..text.dates import normalize_date

__all__ = [
    "Source",
    "ReadResult",
    "Reader",
    "SUFFIXES",
    "reader_for",
    "line_blocks",
    "apply_manifest",
    "document",
]


@dataclass(frozen=True)
class Source:
    """One file to read: its bytes, where it is, and what a ``manifest.jsonl`` says of it.

    ``rel`` is the path relative to the indexed root (POSIX separators);
    ``doc_id`` is the default id of a file's only document: ``rel`` without
    its suffix.
    """

    path: Path
    rel: str
    data: bytes
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def doc_id(self) -> str:
        suffix = Path(self.rel).suffix
        return self.rel[: -len(suffix)] if suffix else self.rel

    def skip(self, reason: str) -> "ReadResult":
        """A result with no documents and one reason for the whole file."""
        return ReadResult([], [Skipped(str(self.path), reason)])


class ReadResult(NamedTuple):
    """The documents read from one file, and what was skipped in it (with reasons)."""

    documents: list[Document]
    skipped: list[Skipped]


Reader = Callable[[Source], ReadResult]

# suffix → "module:function"; imported on first use.
_READERS: dict[str, str] = {
    ".txt": "kb.readers.plaintext:read",
    ".md": "kb.readers.markdown:read",
    ".markdown": "kb.readers.markdown:read",
    ".jsonl": "kb.readers.jsonl:read",
    ".html": "kb.readers.html:read",
    ".htm": "kb.readers.html:read",
    ".pdf": "kb.readers.pdf:read",
    ".docx": "kb.readers.docx:read",
    ".csv": "kb.readers.tables:read",
    ".tsv": "kb.readers.tables:read",
    ".doc": "kb.readers.doc:read",
    ".wps": "kb.readers.doc:read",
    ".ofd": "kb.readers.ofd:read",
}

SUFFIXES = frozenset(_READERS)


def reader_for(path: str | Path) -> Reader | None:
    """The reader of a file, by its suffix (case-insensitive); None for an unsupported type."""
    target = _READERS.get(Path(path).suffix.lower())
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


# --- helpers shared by readers ----------------------------------------------------------------------


def line_blocks(text: str, start: int = 0, end: int | None = None, page: int = 0) -> list[Block]:
    """One paragraph block per non-blank line of ``text[start:end]`` (the plain-text layout)."""
    end = len(text) if end is None else end
    out = []
    pos = start
    for line in text[start:end].split("\n"):
        s, e = pos, pos + len(line)
        pos = e + 1
        while s < e and (text[s].isspace() or text[s] == "\ufeff"):
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append(Block(s, e, page=page))
    return out


def apply_manifest(fields: dict[str, Any], meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """Overlay a ``manifest.jsonl`` record on a document's fields: id, title, source, date; the rest is metadata."""
    if not meta:
        return fields
    extra = dict(fields.get("metadata") or {})
    for k, v in meta.items():
        if k in ("id", "title", "source") and v:
            fields[k] = str(v)
        elif k == "date":
            fields["date"] = normalize_date(v) or fields.get("date", "")
        elif k not in ("file", "text", "chars"):
            extra[k] = v
    fields["metadata"] = extra
    return fields


def document(source: Source, fields: dict[str, Any], text: str, blocks: list[Block], fmt: str) -> Document:
    """A ``Document`` from a reader's fields (after the manifest is applied)."""
    fields = apply_manifest(dict(fields), source.meta)
    return Document(
        id=fields.get("id") or source.doc_id,
        title=fields.get("title") or source.path.stem,
        text=text,
        date=fields.get("date", ""),
        source=fields.get("source", ""),
        editor=fields.get("editor", ""),
        path=str(source.path),
        format=fmt,
        blocks=tuple(blocks),
        metadata=fields.get("metadata") or {},
    )
