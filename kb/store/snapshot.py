"""One snapshot per commit: every side file kb keeps beside the engine's index.

For commit N of a generation directory:
  * ``manifest-N.json``: the files the index holds and their fingerprints;
  * ``recall-N.bin``: every live passage's normalised text, for verbatim recall;
  * ``pinyin-N.tsv``: toneless pinyin → the index's words.
The manifest and the recall file are written *before* the engine's commit N
(``Snapshot.write``), so the commit switches the index and both side files at
once: a reader that sees commit N finds its files, and a run killed at any
moment leaves the old or the new state. The pinyin map is written after the
commit; a reader uses the newest map not newer than its commit (a map may
hold a few words the index no longer has, which only costs a look-up).
Snapshots are pruned together (``Snapshot.prune``).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Iterable

from ..errors import IndexCorruptError, IndexVersionError
from . import recall
from .atomic import write_atomic
from .manifest import Manifest

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
        self._recall: recall.RecallFile | None = None
        self._pinyin = None

    # -- writing -----------------------------------------------------------------------------------
    @staticmethod
    def write(gen: Path, commit: int, fmt: int, manifest: Manifest, recall_records: Iterable[bytes]) -> None:
        """Write the manifest and recall file of ``commit`` (call before the engine commits it)."""
        recall.write(_path(gen, "recall", commit), recall_records, commit)
        manifest.commit = commit
        write_atomic(_path(gen, "manifest", commit), json.dumps(manifest.to_json(fmt), ensure_ascii=False))

    @staticmethod
    def write_pinyin(gen: Path, commit: int, pinyin_map) -> None:
        """Write the pinyin map of ``commit`` (after the engine committed it)."""
        write_atomic(_path(gen, "pinyin", commit), pinyin_map.dumps())

    @staticmethod
    def prune(gen: Path, keep: Iterable[int]) -> None:
        """Delete the side files of commits not in ``keep`` (the newest pinyin map stays)."""
        keep = set(keep)
        pinyin = [int(m.group(2)) for p in gen.iterdir() if (m := _NAME.match(p.name)) and m.group(1) == "pinyin"]
        keep_pinyin = set(keep)
        for k in keep:  # a reader at commit k uses the newest map not newer than k
            older = [n for n in pinyin if n <= k]
            if older:
                keep_pinyin.add(max(older))
        if pinyin:
            keep_pinyin.add(max(pinyin))
        for p in gen.iterdir():
            m = _NAME.match(p.name)
            if not m:
                continue
            n = int(m.group(2))
            if n in (keep_pinyin if m.group(1) == "pinyin" else keep):
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
        return Manifest.from_json(data)

    def recall(self) -> recall.RecallFile:
        """The recall file, memory-mapped on first use.

        Raises ``IndexCorruptError`` when it is missing or damaged: without it,
        verbatim matches would be missed silently. (The next index run rebuilds it.)
        """
        with self._lock:
            if self._recall is None:
                path = _path(self.gen, "recall", self.commit)
                rf = recall.RecallFile(path)
                if not rf.available or rf.commit != self.commit:
                    rf.close()
                    raise IndexCorruptError(f"The index at {self.gen.parent} has a missing or damaged {path.name}; "
                                            f"rebuild it.")
                self._recall = rf
            return self._recall

    def recall_records(self) -> list[bytes] | None:
        """The records of this commit's recall file (None when it is missing or unreadable)."""
        return recall.read_records(_path(self.gen, "recall", self.commit))

    def pinyin_path(self) -> Path | None:
        """The newest pinyin map not newer than this commit."""
        best = None
        for p in self.gen.glob("pinyin-*.tsv"):
            m = _NAME.match(p.name)
            if m and int(m.group(2)) <= self.commit and (best is None or int(m.group(2)) > best[0]):
                best = (int(m.group(2)), p)
        return best[1] if best else None

    def close(self) -> None:
        with self._lock:
            if self._recall is not None:
                self._recall.close()
                self._recall = None
