"""One snapshot per commit: every side file kb keeps beside the engine's index.

For commit N of a generation directory:
  * ``manifest-N.json``: the files the index holds and their fingerprints,
    and the listing of the recall parts that hold commit N's passages;
  * ``recall-M.bin``: the recall parts (``kb.store.recall``), each written by
    the commit M that added its passages and shared by later commits;
  * ``pinyin-M.tsv``: toneless pinyin → the index's words, written by each
    commit M that added words (``kb.store.pinyin``).
Every side file of commit N is written *before* the engine's commit N, so
the commit switches the index and its side files at once: a reader that
sees commit N finds its files, and a run killed at any moment leaves the old
or the new state. A reader uses the newest pinyin map not newer than its
commit. Snapshots are pruned together (``Snapshot.prune``), keeping every
recall part a kept commit lists.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Iterable

from ..errors import IndexCorruptError, IndexVersionError
from . import recall
from .atomic import write_atomic
from .manifest import Manifest
from .pinyin import write_map

__all__ = ["Snapshot", "ManifestMissing"]

_KINDS = {"manifest": "json", "recall": "bin", "pinyin": "tsv"}
_NAME = re.compile(r"^(manifest|recall|pinyin)-(\d+)\.(json|bin|tsv)$")


class ManifestMissing(IndexCorruptError):
    """The commit has no manifest (written by a run that was killed before it, or deleted)."""


def _path(gen: Path, kind: str, commit: int) -> Path:
    return gen / f"{kind}-{commit}.{_KINDS[kind]}"


class Snapshot:
    """The side files of one commit of a generation directory, opened lazily."""

    def __init__(self, gen: Path, commit: int, fmt: int):
        self.gen = gen
        self.commit = commit
        self.format = fmt
        self._lock = threading.Lock()
        self._recall: recall.RecallSet | None = None
        self._listing: recall.Listing | None = None

    # -- writing -----------------------------------------------------------------------------------
    @staticmethod
    def write(gen: Path, commit: int, fmt: int, manifest: Manifest) -> None:
        """Write the manifest of ``commit`` (call before the engine commits it, after its recall part)."""
        manifest.commit = commit
        write_atomic(_path(gen, "manifest", commit), json.dumps(manifest.to_json(fmt), ensure_ascii=False))

    @staticmethod
    def write_pinyin(gen: Path, commit: int, pinyin_map) -> None:
        """Write the whole pinyin map of ``commit``."""
        write_atomic(_path(gen, "pinyin", commit), pinyin_map.dumps())

    def add_pinyin(self, commit: int, entries) -> bool:
        """Write the pinyin map of ``commit``: this snapshot's map plus ``entries`` (reading → words).

        Nothing is written (False) when every word is in the map already.
        """
        return write_map(_path(self.gen, "pinyin", commit), self.pinyin_path(), entries)

    @staticmethod
    def prune(gen: Path, keep: Iterable[int]) -> None:
        """Delete the side files of commits not in ``keep`` (the recall parts and pinyin maps they use stay)."""
        keep = set(keep)
        pinyin = [int(m.group(2)) for p in gen.iterdir() if (m := _NAME.match(p.name)) and m.group(1) == "pinyin"]
        keep_pinyin = set(keep)
        for k in keep:  # a reader at commit k uses the newest map not newer than k
            older = [n for n in pinyin if n <= k]
            if older:
                keep_pinyin.add(max(older))
        if pinyin:
            keep_pinyin.add(max(pinyin))
        keep_parts: set[int] | None = set()
        for k in keep:
            listing = Snapshot(gen, k, -1).listing()
            if listing is None:
                if _path(gen, "manifest", k).exists():
                    keep_parts = None  # a kept commit's parts are unknown: keep them all
                    break
                continue
            keep_parts.update(c for c, _b, _n in listing.parts)
        for p in gen.iterdir():
            m = _NAME.match(p.name)
            if not m:
                continue
            n = int(m.group(2))
            kind = m.group(1)
            if kind == "pinyin":
                kept = n in keep_pinyin
            elif kind == "recall":
                kept = keep_parts is None or n in keep_parts
            else:
                kept = n in keep
            if kept:
                continue
            try:
                p.unlink()
            except OSError:
                pass

    # -- reading -----------------------------------------------------------------------------------
    def read_manifest(self) -> Manifest:
        """The manifest of this commit; raises ``ManifestMissing``, ``IndexVersionError`` or ``IndexCorruptError``."""
        path = _path(self.gen, "manifest", self.commit)
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            if (self.gen / "kb.json").exists():  # the manifest's name in older formats
                raise IndexVersionError(f"The index at {self.gen.parent} was written by an older kb; rebuild it.") from None
            raise ManifestMissing(f"The index at {self.gen.parent} has no {path.name}; rebuild it.") from None
        except (OSError, ValueError) as e:
            raise IndexCorruptError(f"The index at {self.gen.parent} has an unreadable {path.name} ({e}); rebuild it.") from None
        if not isinstance(data, dict):
            raise IndexCorruptError(f"The index at {self.gen.parent} has an unreadable {path.name}; rebuild it.")
        fmt = data.get("format")
        if fmt != self.format:
            raise IndexVersionError(
                f"The index at {self.gen.parent} has format {fmt}; this kb reads format {self.format}; rebuild it."
            )
        self._listing = recall.Listing.from_json(data.get("recall"))
        return Manifest.from_json(data)

    def listing(self) -> recall.Listing | None:
        """The listing of this commit's recall parts (None when the manifest or its listing is unreadable)."""
        if self._listing is None:
            try:
                data = json.loads(_path(self.gen, "manifest", self.commit).read_text("utf-8"))
            except (OSError, ValueError):
                return None
            self._listing = recall.Listing.from_json(data.get("recall") if isinstance(data, dict) else None)
        return self._listing

    def intact_listing(self) -> recall.Listing | None:
        """The listing, when every part it names is there and whole (else None: rebuild the recall file)."""
        listing = self.listing()
        return listing if listing is not None and listing.intact(self.gen) else None

    def recall(self) -> recall.RecallSet:
        """The recall parts of this commit, memory-mapped on first use.

        Raises ``IndexCorruptError`` when one is missing or damaged: without
        it, verbatim matches would be missed silently. (The next index run
        rebuilds it.)
        """
        with self._lock:
            if self._recall is None:
                listing = self.listing()
                rs = listing.open(self.gen) if listing is not None else None
                if rs is None or not rs.available:
                    if rs is not None:
                        bad = next(p.path.name for p in rs.parts if not p.available)
                        rs.close()
                    else:
                        bad = _path(self.gen, "manifest", self.commit).name
                    raise IndexCorruptError(f"The index at {self.gen.parent} has a missing or damaged {bad}; "
                                            f"rebuild it.")
                self._recall = rs
            return self._recall

    def pinyin_path(self) -> Path | None:
        """The newest pinyin map not newer than this commit (None also when the generation is gone)."""
        best = None
        try:
            names = os.listdir(self.gen)  # (Path.glob lets a directory deleted meanwhile raise)
        except OSError:
            return None
        for name in names:
            m = _NAME.match(name)
            if m and m.group(1) == "pinyin":
                n = int(m.group(2))
                if n <= self.commit and (best is None or n > best[0]):
                    best = (n, self.gen / name)
        return best[1] if best else None

    def close(self) -> None:
        with self._lock:
            if self._recall is not None:
                self._recall.close()
                self._recall = None
