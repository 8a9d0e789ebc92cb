"""Verbatim recall: every passage's normalised text in one file, scanned for substrings.

The word index finds a query word wherever the segmenter produced it as a
word or as a dictionary word inside a longer one. A string that straddles
the segmenter's word boundaries (or is not a dictionary word) is found here:
``recall.bin`` holds one record per live passage, ``\\x1e<id>\\x1f<normalised
text>``, and a substring search over the memory-mapped file returns the ids
of the passages that contain the string, character for character.

This replaces a character-bigram field, which doubled the index's postings
(and so its build time) and made it many times larger than the corpus.

There is one file per Whoosh generation, ``recall-<generation>.bin``,
written before the commit that creates that generation, so a searcher always
reads the file that matches the index state it sees: a commit switches both
at once. Files of older generations are pruned by later runs.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Iterable

__all__ = ["RecallFile", "record", "write", "read_records", "prune", "path_for"]
_MAGIC = b"kbrecall 1 "
_RS = b"\x1e"
_US = b"\x1f"


def record(pid: str, normalized: str) -> bytes:
    """One record of the file."""
    text = normalized.replace("\x1e", " ").replace("\x1f", " ")
    return _RS + pid.encode("utf-8") + _US + text.encode("utf-8")


def path_for(gen: Path, generation: int) -> Path:
    return gen / f"recall-{generation}.bin"


def write(gen: Path, records: Iterable[bytes], generation: int) -> None:
    """Write the file for Whoosh ``generation`` atomically."""
    tmp = gen / f".recall-{generation}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(_MAGIC + str(generation).encode() + b"\n")
        for r in records:
            f.write(r)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path_for(gen, generation))


def prune(gen: Path, keep: Iterable[int]) -> None:
    """Delete the files of generations not in ``keep``."""
    keep = set(keep)
    for p in gen.glob("recall-*.bin"):
        try:
            if int(p.stem.split("-", 1)[1]) not in keep:
                p.unlink()
        except (ValueError, OSError):
            pass


def read_records(gen: Path, generation: int) -> list[bytes] | None:
    """The records of a generation's file (None when there is no such file)."""
    try:
        data = path_for(gen, generation).read_bytes()
    except OSError:
        return None
    nl = data.find(b"\n")
    body = data[nl + 1 :] if data.startswith(_MAGIC) and nl >= 0 else b""
    return [_RS + r for r in body.split(_RS)[1:]]


def record_doc_id(rec: bytes) -> str:
    pid = rec[1 : rec.index(_US)].decode("utf-8")
    return pid.rsplit("#", 1)[0]


class RecallFile:
    """A read-only, memory-mapped recall file."""

    def __init__(self, gen: Path, generation: int):
        self.path = path_for(gen, generation)
        self.generation = -1
        self._map = None
        self._file = None
        try:
            self._file = open(self.path, "rb")
            size = os.fstat(self._file.fileno()).st_size
            if size:
                self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
                head = self._map[: 64]
                if head.startswith(_MAGIC):
                    self.generation = int(head[len(_MAGIC) : head.index(b"\n")])
        except (OSError, ValueError):
            self.close()

    @property
    def available(self) -> bool:
        return self._map is not None

    def find(self, needle: str, cap: int = 50_000) -> list[str] | None:
        """Ids of passages whose normalised text contains ``needle`` (None past ``cap`` matches)."""
        if self._map is None or not needle:
            return []
        m = self._map
        n = needle.encode("utf-8")
        ids: list[str] = []
        seen_rec = -1
        i = m.find(n)
        while i >= 0:
            rs = m.rfind(_RS, 0, i)
            us = m.find(_US, rs)
            if i < us:  # inside the record's id, not its text
                i = m.find(n, us + 1)
                continue
            if rs != seen_rec:
                seen_rec = rs
                ids.append(m[rs + 1 : us].decode("utf-8"))
                if len(ids) > cap:
                    return None
                # Continue after this record: one hit per passage is enough.
                nxt = m.find(_RS, i)
                if nxt < 0:
                    break
                i = m.find(n, nxt)
                continue
            i = m.find(n, i + 1)
        return ids

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None
