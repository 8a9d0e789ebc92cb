"""The manifest: which files an index holds, their fingerprints, and what to do on the next run.

``plan_changes`` compares the files found under the given roots with the
manifest and decides, without touching the index, which files to read
(new or changed), which to drop (gone), and which are unchanged. A file is
unchanged when its size and mtime match, or failing that its content hash. A
file that was skipped (unreadable, unsupported content) is remembered with
its reasons, so an unchanged skipped file is not parsed again: its reasons
are reported from the manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..models import Skipped

__all__ = ["Manifest", "Changes", "plan_changes", "sha1_of", "meta_fingerprint"]


def sha1_of(path: Path) -> str:
    """The SHA-1 of a file's content."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def meta_fingerprint(record: Mapping[str, Any] | None) -> str:
    """A hash of the manifest.jsonl record that describes a file ("" when there is none)."""
    if not record:
        return ""
    return hashlib.sha1(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


@dataclass
class Manifest:
    """Per-file fingerprints, the documents each file produced, and what was skipped in it.

    ``files[key]`` is ``{"size", "mtime_ns", "sha1", "meta", "docs", "passages", "skipped"}``;
    ``skipped`` lists ``[path, reason, line, kind]`` of the file's skipped parts.
    A file that produced no document at all has ``docs == []``.
    """

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: str = ""
    updated: str = ""
    commit: int = -1
    # What the index was built with: users' segmentation words and topic fingerprints (kb.vocabulary).
    lexicon: dict[str, Any] | None = None
    # The recall parts of the commit (kb.store.recall.Listing, as JSON).
    recall: dict[str, Any] | None = None

    def owner_of(self) -> dict[str, str]:
        """Document id → key of the file it came from."""
        owners = {}
        for key, rec in self.files.items():
            for d in rec.get("docs", ()):
                owners[d] = key
        return owners

    def documents(self) -> int:
        return sum(len(r.get("docs", ())) for r in self.files.values())

    def indexed_files(self) -> list[str]:
        """Keys of the files that produced at least one document."""
        return sorted(k for k, r in self.files.items() if r.get("docs"))

    def to_json(self, fmt: int) -> dict[str, Any]:
        out = {"format": fmt, "created": self.created, "updated": self.updated, "commit": self.commit,
               "files": self.files}
        if self.lexicon is not None:
            out["lexicon"] = self.lexicon
        if self.recall is not None:
            out["recall"] = self.recall
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Manifest":
        return cls(files=dict(data.get("files", {})), created=data.get("created", ""),
                   updated=data.get("updated", ""), commit=int(data.get("commit", data.get("generation", -1))),
                   lexicon=data.get("lexicon") if isinstance(data.get("lexicon"), dict) else None,
                   recall=data.get("recall") if isinstance(data.get("recall"), dict) else None)


def skipped_entries(rec: Mapping[str, Any]) -> list[Skipped]:
    """The skipped parts a manifest record remembers."""
    out = []
    for item in rec.get("skipped") or ():
        try:
            path, reason, line, kind = item
            out.append(Skipped(str(path), str(reason), int(line), str(kind)))
        except (TypeError, ValueError):
            continue
    return out


@dataclass
class Changes:
    """What an index run must do."""

    todo: list[tuple[Any, bool]] = field(default_factory=list)  # (source file, was indexed before)
    removed: list[str] = field(default_factory=list)  # keys of indexed files that are gone
    forgotten: list[str] = field(default_factory=list)  # keys of skipped files that are gone
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)  # reported again, or unreadable now
    unchanged_skips: list[str] = field(default_factory=list)  # keys of skipped files that did not change
    refreshed: dict[str, int] = field(default_factory=dict)  # key → new mtime (content unchanged)


def _under(key: str, roots: Iterable[str]) -> bool:
    return any(key == r or key.startswith(r.rstrip("/") + "/") for r in roots)


def plan_changes(files: Iterable[Any], manifest: Manifest, metas: Mapping[str, Mapping[str, Any]],
                 roots: Iterable[str], digest: Callable[[Path], str] = sha1_of) -> Changes:
    """Compare found ``files`` (with ``key``, ``path``, ``size``, ``mtime_ns``) with the manifest.

    Files gone from under ``roots`` are removed; files outside them are left
    alone. ``metas`` are the manifest.jsonl records by key (a changed record
    means the file is read again).
    """
    files = list(files)
    roots = list(roots)
    found = {f.key for f in files}
    gone = [k for k in manifest.files if k not in found and _under(k, roots)]
    out = Changes(removed=[k for k in gone if manifest.files[k].get("docs")],
                  forgotten=[k for k in gone if not manifest.files[k].get("docs")])
    for sf in files:
        rec = manifest.files.get(sf.key)
        if rec is None:
            out.todo.append((sf, False))
            continue
        had_docs = bool(rec.get("docs"))
        if rec.get("meta", "") != meta_fingerprint(metas.get(sf.key)):
            out.todo.append((sf, had_docs))  # its manifest.jsonl record changed
            continue
        same = rec.get("size") == sf.size and rec.get("mtime_ns") == sf.mtime_ns
        if not same:
            try:
                d = digest(sf.path)
            except OSError as e:
                kept = "; the indexed version is kept" if had_docs else ""
                out.skipped.append(Skipped(str(sf.path), f"cannot read file: {e.strerror}{kept}"))
                continue
            if d != rec.get("sha1"):
                out.todo.append((sf, had_docs))
                continue
            out.refreshed[sf.key] = sf.mtime_ns
        if had_docs:
            out.unchanged += 1
            out.skipped.extend(s for s in skipped_entries(rec) if s.kind == "line")
        else:
            out.unchanged_skips.append(sf.key)
            out.skipped.extend(skipped_entries(rec))
    return out
