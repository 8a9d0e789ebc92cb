"""Verbatim recall: every passage's normalised text in one file, scanned for substrings.

The word index finds a query word wherever the segmenter produced it as a
word or as a dictionary word inside a longer one. A string that straddles
the segmenter's word boundaries (or is not a dictionary word) is found here:
``recall.bin`` holds one record per live passage, ``\\x1e<id>\\x1f<normalised
text>``, and a substring search over the memory-mapped file returns the ids
of the passages that contain the string, character for character.

This replaces a character-bigram field, which doubled the index's postings
(and so its build time) and made it many times larger than the corpus.

There is one file per commit (``kb.store.snapshot``), written before the
commit, so a searcher always reads the file that matches the index state it
sees: a commit switches both at once.
"""

from __future__ import annotations

import mmap
import os
import threading
from pathlib import Path
from typing import Iterable

from .atomic import write_chunks_atomic

__all__ = ["RecallFile", "record", "write", "read_records", "record_doc_id"]

# UTF-16-LE: two bytes for a Chinese character instead of UTF-8's three, so a
# scan reads a third fewer bytes. Every unit is two bytes and every record
# starts at an even offset; a byte match at an odd offset straddles two
# characters and is not a match.
_ENC = "utf-16-le"
_MAGIC = "kbrecall 3 "  # then "<commit> <bytes of records>\n": a truncated file is noticed
_RS = "\x1e".encode(_ENC)
_US = "\x1f".encode(_ENC)


def record(pid: str, normalized: str) -> bytes:
    """One record of the file."""
    text = normalized.replace("\x1e", " ").replace("\x1f", " ")
    return ("\x1e" + pid + "\x1f" + text).encode(_ENC, "surrogatepass")


def write(path: Path, records: Iterable[bytes], commit: int) -> None:
    """Write the recall file of ``commit`` to ``path`` atomically."""
    records = records if isinstance(records, list) else list(records)
    header = f"{_MAGIC}{commit} {sum(len(r) for r in records)}\n".encode(_ENC)
    write_chunks_atomic(path, _chunks(header, records))


def _header(head: str) -> tuple[int, int, int] | None:
    """(commit, bytes of records, bytes of header) from the start of a file; None when it is not one."""
    if not head.startswith(_MAGIC) or "\n" not in head:
        return None
    line = head[len(_MAGIC) : head.index("\n")]
    try:
        commit, size = (int(x) for x in line.split())
    except ValueError:
        return None
    return commit, size, (len(_MAGIC) + len(line) + 1) * 2


def _chunks(header: bytes, records: Iterable[bytes]):
    yield header
    buf: list[bytes] = []
    size = 0
    for r in records:
        buf.append(r)
        size += len(r)
        if size > 1 << 20:
            yield b"".join(buf)
            buf, size = [], 0
    if buf:
        yield b"".join(buf)


def read_records(path: Path) -> list[bytes] | None:
    """The records of a recall file (None when there is no such file or it is unreadable)."""
    try:
        data = path.read_bytes()
        text = data.decode(_ENC, "surrogatepass")
    except (OSError, UnicodeDecodeError):
        return None
    head = _header(text[:128])
    if head is None or head[1] + head[2] != len(data):
        return None  # not a recall file, or truncated
    body = text[text.find("\n") + 1 :]
    return [("\x1e" + r).encode(_ENC, "surrogatepass") for r in body.split("\x1e")[1:]]


def record_doc_id(rec: bytes) -> str:
    text = rec.decode(_ENC, "surrogatepass")
    return text[1 : text.index("\x1f")].rsplit("#", 1)[0]


class RecallFile:
    """A read-only, memory-mapped recall file."""

    # Results of ``find`` kept per file (a file never changes): a search that is refined, grouped,
    # faceted and exported scans for the same strings several times. Bounded by the ids held.
    CACHE_IDS = 200_000

    def __init__(self, path: Path):
        self.path = path
        self.commit = -1
        self._map = None
        self._file = None
        self._found: dict[tuple[str, int], list[str] | None] = {}
        self._held = 0
        self._cache_lock = threading.Lock()
        try:
            self._file = open(self.path, "rb")
            size = os.fstat(self._file.fileno()).st_size
            if size:
                self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
                head = _header(self._map[:256].decode(_ENC, "ignore"))
                if head is not None and head[1] + head[2] == size:
                    self.commit = head[0]
                else:  # not a recall file, or truncated: unavailable
                    self.close()
        except (OSError, ValueError):
            self.close()

    @property
    def available(self) -> bool:
        return self._map is not None

    def _aligned(self, sep: bytes, before: int) -> int:
        """The last even offset of ``sep`` before ``before`` (-1 when none)."""
        j = self._map.rfind(sep, 0, before)
        while j > 0 and j % 2:
            j = self._map.rfind(sep, 0, j + 1)
        return j

    def find(self, needle: str, cap: int = 50_000) -> list[str] | None:
        """Ids of passages whose normalised text contains ``needle`` (None past ``cap`` matches)."""
        if self._map is None or not needle:
            return []
        key = (needle, cap)
        with self._cache_lock:
            if key in self._found:
                found = self._found.pop(key)
                self._found[key] = found  # most recently used last
                return list(found) if found is not None else None
        found = self._scan(needle, cap)
        size = len(found) if found is not None else 1
        with self._cache_lock:
            if key not in self._found and size <= self.CACHE_IDS:
                while self._found and self._held + size > self.CACHE_IDS:
                    old = self._found.pop(next(iter(self._found)))
                    self._held -= len(old) if old is not None else 1
                self._found[key] = found
                self._held += size
        return list(found) if found is not None else None

    def _scan(self, needle: str, cap: int) -> list[str] | None:
        if self._map is None:
            return []
        m = self._map
        n = needle.encode(_ENC, "surrogatepass")
        ids: list[str] = []
        i = m.find(n)
        while i >= 0:
            if i % 2:  # straddles two characters
                i = m.find(n, i + 1)
                continue
            rs = self._aligned(_RS, i)
            us = m.find(_US, rs)
            while us >= 0 and us % 2:
                us = m.find(_US, us + 1)
            if rs < 0 or us < 0:
                break
            if i < us:  # inside the record's id, not its text
                i = m.find(n, us + 2)
                continue
            ids.append(m[rs + 2 : us].decode(_ENC, "surrogatepass"))
            if len(ids) > cap:
                return None
            # Continue after this record: one hit per passage is enough.
            nxt = m.find(_RS, i)
            while nxt >= 0 and nxt % 2:
                nxt = m.find(_RS, nxt + 1)
            if nxt < 0:
                break
            i = m.find(n, nxt)
        return ids

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None
