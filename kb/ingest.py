"""Files → documents: discovery, encoding detection, formats and metadata.

Formats: ``.txt`` (plain text and saved news-page text), ``.md``, ``.jsonl``
(one document per line) and ``.html``/``.htm`` (main text extracted with
trafilatura). A directory may hold a ``manifest.jsonl`` whose lines carry a
``file`` field: its metadata (id, title, date, source, ...) is applied to those
files instead of being indexed as documents.

Nothing here raises for bad input: each reader returns the documents it could
read and a ``Skipped`` entry, with a reason, for each one it could not.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from .models import Document, Skipped

__all__ = [
    "SUPPORTED_SUFFIXES",
    "SourceFile",
    "discover",
    "decode_bytes",
    "read_source",
    "read_source_hashed",
    "normalize_date",
    "DecodeFailure",
]

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".jsonl", ".html", ".htm"})
MANIFEST_NAME = "manifest.jsonl"
MAX_FILE_BYTES = 64 * 1024 * 1024
MIN_ARTICLE_CHARS = 20


@dataclass(frozen=True)
class SourceFile:
    """A file found under a source root. ``key`` identifies it across runs."""

    path: Path
    root: Path
    key: str
    size: int
    mtime_ns: int

    @property
    def rel(self) -> str:
        return self.path.relative_to(self.root).as_posix() if self.root != self.path else self.path.name


# --- discovery --------------------------------------------------------------


def discover(paths: Iterable[Path]) -> tuple[list[SourceFile], list[Skipped], dict[str, dict[str, Any]]]:
    """Files under ``paths`` (recursively, hidden entries and symlink loops skipped).

    Returns the files, the entries skipped while walking, and manifest metadata
    keyed by file key.
    """
    files: dict[str, SourceFile] = {}
    skipped: list[Skipped] = []
    manifests: dict[str, dict[str, Any]] = {}
    for given in paths:
        given = Path(given)
        if given.is_file():
            root = given.parent.resolve()
            _add_file(given, root, files, skipped)
            continue
        root = given.resolve()
        seen_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=None):
            try:
                st = os.stat(dirpath)
            except OSError as e:
                skipped.append(Skipped(dirpath, f"cannot read directory: {e.strerror}", kind="directory"))
                dirnames[:] = []
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in seen_dirs:
                skipped.append(Skipped(dirpath, "symbolic link loop: directory already visited", kind="directory"))
                dirnames[:] = []
                continue
            seen_dirs.add(ident)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                p = Path(dirpath) / name
                if name == MANIFEST_NAME:
                    manifests.update(_read_manifest(p, root))
                    continue
                _add_file(p, root, files, skipped)
    return sorted(files.values(), key=lambda f: f.key), skipped, manifests


def _add_file(p: Path, root: Path, files: dict[str, SourceFile], skipped: list[Skipped]) -> None:
    try:
        st = p.stat()
    except OSError as e:
        skipped.append(Skipped(str(p), f"cannot read file: {e.strerror or e}"))
        return
    if not p.is_file():
        if not p.is_dir():
            skipped.append(Skipped(str(p), "not a regular file (a pipe, socket or device)"))
        return
    if p.suffix.lower() not in SUPPORTED_SUFFIXES:
        skipped.append(Skipped(str(p), f"unsupported file type {p.suffix or '(no extension)'}"))
        return
    path = p.absolute()
    key = str(path)
    files[key] = SourceFile(path=path, root=root, key=key, size=st.st_size, mtime_ns=st.st_mtime_ns)


def _read_manifest(p: Path, root: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    try:
        lines = p.read_text("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return out
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("file"), str):
            out[str((p.parent / rec["file"]).absolute())] = rec
    return out


# --- decoding ---------------------------------------------------------------


class DecodeFailure(Exception):
    """Raised by ``decode_bytes`` with the reason a file cannot be read as text."""


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    sample = text[:20000]
    bad = sum(1 for c in sample if (ord(c) < 32 and c not in "\n\r\t\f") or c == "\ufffd")
    return bad / len(sample)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes by BOM, then strict UTF-8, then GB18030, then detection.

    Returns ``(text, encoding)`` with line endings normalised to ``\\n``.
    Raises ``DecodeFailure`` for binary or undecodable content.
    """
    text = None
    encoding = ""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(enc)
                encoding = enc
            except UnicodeDecodeError as e:
                raise DecodeFailure(f"invalid {enc} after its byte-order mark at byte {e.start}") from None
            break
    if text is None:
        if b"\x00" in data[:8192]:
            raise DecodeFailure("binary content (NUL bytes) and no UTF-16 byte-order mark")
        try:
            text = data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            # UTF-8 with a few damaged bytes (a truncated download, a bad copy): keep the text,
            # with U+FFFD where the bytes were, rather than losing the whole file.
            text = data.decode("utf-8", errors="replace")
            encoding = "utf-8 (damaged bytes replaced)"
            if text.count("\ufffd") * 200 > len(text):  # more than 0.5%: another encoding
                text = None
        if text is None:
            try:
                text = data.decode("gb18030")
                encoding = "gb18030"
            except UnicodeDecodeError:
                text = None
            if text is not None and not _plausible_chinese(text):
                text = None
            if text is None:
                from charset_normalizer import from_bytes

                best = from_bytes(data[: 1 << 20]).best()
                if best is None:
                    raise DecodeFailure("undecodable bytes: not UTF-8, UTF-16, GB18030 or another known encoding")
                try:
                    text = data.decode(best.encoding)
                except (UnicodeDecodeError, LookupError):
                    raise DecodeFailure(f"undecodable bytes (best guess {best.encoding} failed)") from None
                encoding = best.encoding
    if _control_ratio(text) > 0.01:
        raise DecodeFailure("binary content (control characters) in a text file")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, encoding


def _plausible_chinese(text: str) -> bool:
    """GB18030 decodes many byte strings; accept it only when the result reads as text."""
    sample = text[:5000]
    if not sample:
        return True
    common = sum(1 for c in sample if "\u4e00" <= c <= "\u9fa5" or c.isascii() or c in "，。、；：？！“”‘’（）《》—…")
    return common / len(sample) > 0.9


# --- dates --------------------------------------------------------------------

_DATE_PATTERNS = (
    (re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"), "ymd"),
    (re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})"), "dmy"),
    (re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?"), "ym"),
    (re.compile(r"(\d{4})\s*年?"), "y"),
)


def normalize_date(value: Any) -> str:
    """ISO ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` from common date spellings; "" when none."""
    if value is None:
        return ""
    s = str(value).strip()
    if not s:
        return ""
    for pattern, kind in _DATE_PATTERNS:
        m = pattern.fullmatch(s) or pattern.match(s)
        if not m:
            continue
        g = [int(x) for x in m.groups()]
        if kind == "dmy":
            d, mo, y = g
            return _iso(y, mo, d)
        if kind == "ymd":
            return _iso(*g)
        if kind == "ym":
            return _iso(g[0], g[1], None)
        return _iso(g[0], None, None)
    return ""


def _iso(y: int, m: int | None, d: int | None) -> str:
    if not 1 <= y <= 9999:
        return ""
    if m is None:
        return f"{y:04d}"
    if not 1 <= m <= 12:
        return f"{y:04d}"
    if d is None:
        return f"{y:04d}-{m:02d}"
    if not 1 <= d <= 31:
        return f"{y:04d}-{m:02d}"
    return f"{y:04d}-{m:02d}-{d:02d}"


_DATE_LINE = re.compile(
    r"^\s*(?:(?:发布|日期|时间|发布时间|来源)[:：]?\s*)?"
    r"(\d{1,2}\.\d{1,2}\.\d{4}|\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?)"
    r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?\s*$"
)
_EDITOR_LINE = re.compile(r"^\s*[\[【(（]\s*(?:责任编辑|编辑|责编)\s*[:：]\s*([^\]】)）]*?)\s*[\]】)）]\s*$")
_EDITOR_PLAIN = re.compile(r"^\s*(?:责任编辑|责编)\s*[:：]\s*(\S{1,20})\s*$")
_SITE = re.compile(r"(?:欢迎下载)?(\S{2,8}?网)客户端")
_SOURCE_LINE = re.compile(r"^\s*来源\s*[:：]\s*(\S{2,30})")


# --- readers -------------------------------------------------------------------


def read_source(sf: SourceFile, manifest: dict[str, Any] | None = None) -> tuple[list[Document], list[Skipped]]:
    """All documents in one file, and what was skipped in it (with reasons)."""
    docs, skipped, _digest = read_source_hashed(sf, manifest)
    return docs, skipped


def read_source_hashed(sf: SourceFile, manifest: dict[str, Any] | None = None
                       ) -> tuple[list[Document], list[Skipped], str]:
    """Like ``read_source``, plus the SHA-1 of the bytes that were read ("" when none were)."""
    docs, skipped, data = _read_source(sf, manifest)
    return docs, skipped, hashlib.sha1(data).hexdigest() if data is not None else ""


def _read_source(sf: SourceFile, manifest) -> tuple[list[Document], list[Skipped], bytes | None]:
    try:
        if sf.size > MAX_FILE_BYTES:
            return [], [Skipped(str(sf.path), f"file too large ({sf.size} bytes; the limit is {MAX_FILE_BYTES})")], None
        data = sf.path.read_bytes()
    except OSError as e:
        return [], [Skipped(str(sf.path), f"cannot read file: {e.strerror or e}")], None
    if not data.strip():
        return [], [Skipped(str(sf.path), "empty file")], data
    try:
        text, _enc = decode_bytes(data)
    except DecodeFailure as e:
        return [], [Skipped(str(sf.path), str(e))], data
    suffix = sf.path.suffix.lower()
    doc_id = _doc_id(sf)
    if suffix == ".jsonl":
        return (*_read_jsonl(sf, text), data)
    if suffix in (".html", ".htm"):
        return (*_read_html(sf, text, doc_id, manifest), data)
    fmt = "md" if suffix in (".md", ".markdown") else "txt"
    doc = _read_text(sf, text, doc_id, fmt, manifest)
    if doc.body is not None and not text[doc.body[0]:doc.body[1]].strip():
        return [], [Skipped(str(sf.path), "no body text after the title")], data
    return [doc], [], data


def _doc_id(sf: SourceFile) -> str:
    rel = sf.rel
    for suf in SUPPORTED_SUFFIXES:
        if rel.lower().endswith(suf):
            return rel[: -len(suf)]
    return rel


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, line) for each line of ``text``; end excludes the newline."""
    pos = 0
    for line in text.split("\n"):
        yield pos, pos + len(line), line
        pos += len(line) + 1


def _apply_manifest(fields: dict[str, Any], manifest: dict[str, Any] | None) -> dict[str, Any]:
    if not manifest:
        return fields
    meta = dict(fields.get("metadata") or {})
    for k, v in manifest.items():
        if k in ("id", "title", "source") and v:
            fields[k] = str(v)
        elif k == "date":
            fields["date"] = normalize_date(v) or fields.get("date", "")
        elif k not in ("file", "text", "chars"):
            meta[k] = v
    fields["metadata"] = meta
    return fields


def _read_text(sf: SourceFile, text: str, doc_id: str, fmt: str, manifest) -> Document:
    lines = list(_lines(text))
    title = ""
    body_start = 0
    date = ""
    source = ""
    editor = ""
    idx = 0
    # Title: the first non-empty line (a Markdown "# " heading in .md files).
    while idx < len(lines) and not lines[idx][2].strip():
        idx += 1
    if idx < len(lines):
        first = lines[idx][2].strip()
        if fmt == "md":
            m = re.match(r"^#\s+(.+?)\s*#*$", first)
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
    fields: dict[str, Any] = {
        "id": doc_id,
        "title": title or sf.path.stem,
        "date": date,
        "source": source,
        "editor": editor,
        "metadata": {},
    }
    fields = _apply_manifest(fields, manifest)
    return Document(
        id=fields["id"],
        title=fields["title"],
        text=text,
        date=fields["date"],
        source=fields["source"],
        editor=fields["editor"],
        path=str(sf.path),
        format=fmt,
        body=(min(body_start, len(text)), body_end),
        metadata=fields["metadata"],
    )


_JSONL_CORE = ("id", "title", "date", "source", "text", "editor")


def _read_jsonl(sf: SourceFile, text: str) -> tuple[list[Document], list[Skipped]]:
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{sf.path}:{lineno}"
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
        doc_id = str(rid).strip() if rid not in (None, "") else f"{_doc_id(sf)}:{lineno}"
        title = str(rec.get("title") or "").strip()
        first_nl = body.find("\n")
        first = (body if first_nl < 0 else body[:first_nl]).strip()
        start = 0
        if title and first == title:
            start = len(body) if first_nl < 0 else first_nl + 1
        if not title:
            title = first[:60]
        meta = {k: v for k, v in rec.items() if k not in _JSONL_CORE}
        meta["line"] = lineno
        docs.append(
            Document(
                id=doc_id,
                title=title,
                text=body,
                date=normalize_date(rec.get("date")),
                source=str(rec.get("source") or ""),
                editor=str(rec.get("editor") or ""),
                path=str(sf.path),
                format="jsonl",
                body=(start, len(body)),
                metadata=meta,
            )
        )
    return docs, skipped


def _read_html(sf: SourceFile, html: str, doc_id: str, manifest) -> tuple[list[Document], list[Skipped]]:
    try:
        import trafilatura
    except ImportError as e:  # pragma: no cover - declared dependency
        return [], [Skipped(str(sf.path), f"HTML support is not installed ({e}); reinstall kb with pip")]
    try:
        result = trafilatura.bare_extraction(
            html,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_links=False,
            favor_precision=True,
        )
    except Exception as e:  # trafilatura/lxml raise many kinds on broken markup
        return [], [Skipped(str(sf.path), f"HTML could not be parsed ({type(e).__name__})")]
    if result is None:
        return [], [Skipped(str(sf.path), "no article text found in the HTML page")]
    data = result.as_dict() if hasattr(result, "as_dict") else dict(result)
    text = (data.get("text") or "").replace("\r\n", "\n")
    if len("".join(text.split())) < MIN_ARTICLE_CHARS:
        # What is left of a page without an article is menu text (首页新闻关于), not a passage.
        return [], [Skipped(str(sf.path), "no article text found in the HTML page")]
    fields: dict[str, Any] = {
        "id": doc_id,
        "title": (data.get("title") or "").strip() or sf.path.stem,
        "date": normalize_date(data.get("date")),
        "source": (data.get("sitename") or data.get("hostname") or "").strip(),
        "editor": (data.get("author") or "").strip(),
        "metadata": {k: data[k] for k in ("url", "description") if data.get(k)},
    }
    fields = _apply_manifest(fields, manifest)
    # Trafilatura repeats the headline as the first line at times; it is the title, not a passage.
    start = 0
    first_nl = text.find("\n")
    first = (text if first_nl < 0 else text[:first_nl]).strip()
    if first and first == fields["title"]:
        start = len(text) if first_nl < 0 else first_nl + 1
    return [
        Document(
            id=fields["id"],
            title=fields["title"],
            text=text,
            date=fields["date"],
            source=fields["source"],
            editor=fields["editor"],
            path=str(sf.path),
            format="html",
            body=(start, len(text)),
            metadata=fields["metadata"],
        )
    ], []
