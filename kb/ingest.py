"""Files → documents: discovery, and reading each file with the reader of its format.

The formats are in ``kb.readers``. A directory may hold a ``manifest.jsonl``
whose lines carry a ``file`` field: its metadata (id, title, date, source,
...) is applied to those files instead of being indexed as documents.

Nothing here raises for bad input: reading returns the documents it could
read and a ``Skipped`` entry, with a reason, for each one it could not.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .config import MAX_FILE_BYTES
from .models import Document, Skipped
from .readers import SUFFIXES, Source, reader_for

__all__ = [
    "SUPPORTED_SUFFIXES",
    "SourceFile",
    "discover",
    "read_source",
    "read_source_hashed",
]

SUPPORTED_SUFFIXES = SUFFIXES
MANIFEST_NAME = "manifest.jsonl"


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


def _is_index_dir(path: Path) -> bool:
    """A kb index directory (its files are never documents)."""
    return (path / "CURRENT").is_file() and any(path.glob("gen-*"))


def discover(paths: Iterable[Path], *, exclude: Iterable[Path] = ()
             ) -> tuple[list[SourceFile], list[Skipped], dict[str, dict[str, Any]]]:
    """Files under ``paths`` (recursively; hidden entries, symlink loops and kb index directories skipped).

    Directories in ``exclude`` (such as the index being written) are not
    walked. Returns the files, the entries skipped while walking, and manifest
    metadata keyed by file key.
    """
    excluded = set()
    for e in exclude:
        try:
            excluded.add(Path(e).resolve())
        except OSError:
            pass
    files: dict[str, SourceFile] = {}
    skipped: list[Skipped] = []
    manifests: dict[str, dict[str, Any]] = {}
    for given in paths:
        given = Path(given)
        if given.is_file():
            # By its real path, as a walk of its directory finds it: the same file has one key
            # however it is named (through a symbolic link or not).
            real = given.resolve()
            _add_file(real, real.parent, files, skipped)
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
            if Path(dirpath).resolve() in excluded or _is_index_dir(Path(dirpath)):
                dirnames[:] = []
                continue
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


# --- reading ------------------------------------------------------------------


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
    reader = reader_for(sf.path)
    if reader is None:  # discovery only lists supported files; a caller may pass any
        return [], [Skipped(str(sf.path), f"unsupported file type {sf.path.suffix or '(no extension)'}")], data
    docs, skipped = reader(Source(path=sf.path, rel=sf.rel, data=data, meta=manifest or {}))
    return list(docs), list(skipped), data
