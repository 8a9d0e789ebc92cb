"""Verbatim recall: every passage's normalised text, scanned for substrings.

The word index finds a query word wherever the segmenter produced it as a
word or as a dictionary word inside a longer one. A string that straddles
the segmenter's word boundaries (or is not a dictionary word) is found here:
a recall file holds one record per passage, ``\\x1e<n>\\x1f<normalised
text>`` (``n`` the part of the passage id after its document's id and
``#``), after a ``\\x1d<document id>`` line where the document changes, and a
substring search over the memory-mapped file returns the ids of the passages
that contain the string, character for character. (A document's id once
instead of with every passage: ids were a quarter of the file.)

This replaces a character-bigram field, which doubled the index's postings
(and so its build time) and made it many times larger than the corpus.

Parts: a commit writes only the records of the passages it adds, as one part
``recall-<commit>.bin`` (never changed afterwards), and lists in its
manifest (``Listing``) the parts that hold its passages and the documents
deleted since a part was written (a record of document D in a part written
before D's deletion is dead; dead records are skipped when searching). So
an update costs what it changes, not the size of the corpus. Parts are
merged when there are too many (the small ones only), and everything is
rewritten into one part when dead records make up too much of it, or on a
rebuild. A commit's listing is written before the commit, so a searcher
always reads the parts that match the index state it sees.
"""

from __future__ import annotations

import mmap
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .atomic import write_chunks_atomic

__all__ = ["RecallFile", "RecallSet", "Listing", "record", "write", "read_records", "record_doc_id", "part_path",
           "commit_parts"]

MAX_PARTS = 8  # more parts than this: the small ones are merged into one
DEAD_SHARE = 0.25  # dead records above this share of all records: everything is rewritten into one part

# UTF-16-LE: two bytes for a Chinese character instead of UTF-8's three, so a
# scan reads a third fewer bytes. Every unit is two bytes and every record
# starts at an even offset; a byte match at an odd offset straddles two
# characters and is not a match.
_ENC = "utf-16-le"
_MAGIC = "kbrecall 5 "  # then "<commit> <bytes of records>\n": a truncated file is noticed
_DS = "\x1d".encode(_ENC)
_RS = "\x1e".encode(_ENC)
_US = "\x1f".encode(_ENC)


def record(pid: str, normalized: str) -> bytes:
    """One passage's record (as ``read_records`` returns it: ``\\x1e<id>\\x1f<text>``)."""
    text = normalized.replace("\x1d", " ").replace("\x1e", " ").replace("\x1f", " ")
    return ("\x1e" + pid + "\x1f" + text).encode(_ENC, "surrogatepass")


def _split_id(pid: str) -> tuple[str, str]:
    """(document id, the rest) of a passage id ``<doc>#<n>``; ("", id) for an id without ``#``."""
    doc, sep, n = pid.rpartition("#")
    return (doc, n) if sep and doc else ("", pid)


def _join_id(doc: str, n: str) -> str:
    return f"{doc}#{n}" if doc else n


def _file_records(records: list[bytes]):
    """The records as the file holds them: a ``\\x1d<doc>`` line where the document changes."""
    doc = None
    for rec in records:
        pid = record_id(rec)
        d, n = _split_id(pid)
        if d != doc:
            doc = d
            yield ("\x1d" + d).encode(_ENC, "surrogatepass")
        yield b"".join((_RS, n.encode(_ENC, "surrogatepass"), rec[len(pid) * 2 + 2 :]))


def write(path: Path, records: Iterable[bytes], commit: int) -> int:
    """Write a recall file (a part written at ``commit``) to ``path`` atomically; returns its bytes of records."""
    body = list(_file_records(records if isinstance(records, list) else list(records)))
    size = sum(len(r) for r in body)
    header = f"{_MAGIC}{commit} {size}\n".encode(_ENC)
    write_chunks_atomic(path, _chunks(header, body))
    return size


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
    out = []
    doc = ""
    for chunk in body.split("\x1d")[1:]:
        doc, *recs = chunk.split("\x1e")
        for r in recs:
            n, _, t = r.partition("\x1f")
            out.append(("\x1e" + _join_id(doc, n) + "\x1f" + t).encode(_ENC, "surrogatepass"))
    return out


def record_doc_id(rec: bytes) -> str:
    """The id of the document a record's passage belongs to."""
    return record_id(rec).rsplit("#", 1)[0]


def record_id(rec: bytes) -> str:
    """The passage id of a record."""
    end = rec.find(_US)
    while end >= 0 and end % 2:
        end = rec.find(_US, end + 1)
    return rec[2:end].decode(_ENC, "surrogatepass")


class RecallFile:
    """A read-only, memory-mapped recall file."""

    # Results of ``find`` kept per file (a file never changes): a search that is refined, grouped,
    # faceted and exported scans for the same strings several times. Bounded by the ids held.
    CACHE_IDS = 200_000

    def __init__(self, path: Path, dead: Mapping[str, int] | None = None):
        """``dead``: document id → the commit that deleted it; records of such a document in a file
        written before that commit are skipped."""
        self.path = path
        self.commit = -1
        self._dead = dead or {}
        self._size = -1
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
                    self._size = head[1]
                else:  # not a recall file, or truncated: unavailable
                    self.close()
        except (OSError, ValueError):
            self.close()

    @property
    def available(self) -> bool:
        return self._map is not None

    @property
    def size(self) -> int:
        """Bytes of records (from the header)."""
        return self._size

    def _aligned(self, sep: bytes, before: int, after: int = 0) -> int:
        """The last even offset of ``sep`` in [``after``, ``before``) (-1 when none)."""
        j = self._map.rfind(sep, after, before)
        while j > 0 and j % 2:
            j = self._map.rfind(sep, after, j + 1)
        return j

    def _next(self, sep: bytes, start: int) -> int:
        """The first even offset of ``sep`` from ``start`` (-1 when none)."""
        j = self._map.find(sep, start)
        while j >= 0 and j % 2:
            j = self._map.find(sep, j + 1)
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
        dead, commit = self._dead, self.commit
        n = needle.encode(_ENC, "surrogatepass")
        ids: list[str] = []
        # The document of the hits: the last \x1d line before them. Hits come in file order, so
        # only the bytes since the previous hit are searched for a newer one.
        doc_at, doc, seen_to = -1, "", 0
        i = m.find(n)
        while i >= 0:
            if i % 2:  # straddles two characters
                i = m.find(n, i + 1)
                continue
            rs = self._aligned(_RS, i)
            us = self._next(_US, rs) if rs >= 0 else -1
            if rs >= 0 and us < 0:
                break
            if rs < 0 or i < us or self._aligned(_DS, i, us) >= 0:
                # In the file's header line, a record's id or a document line: not passage text.
                nxt = self._next(_RS, i)
                if nxt < 0:
                    break
                i = m.find(n, nxt)
                continue
            if rs > seen_to:
                j = self._aligned(_DS, rs, seen_to)
                if j >= 0:
                    doc_at, doc = j, None
                seen_to = rs
            if doc is None:
                doc = m[doc_at + 2 : self._next(_RS, doc_at)].decode(_ENC, "surrogatepass")
            if not dead or dead.get(doc, -1) <= commit:
                ids.append(_join_id(doc, m[rs + 2 : us].decode(_ENC, "surrogatepass")))
                if len(ids) > cap:
                    return None
            # Continue after this record: one hit per passage is enough.
            nxt = self._next(_RS, i)
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


class RecallSet:
    """The recall parts of one commit, searched as one file (``Recall`` of ``kb.engine.base``)."""

    def __init__(self, parts: list[RecallFile]):
        self.parts = parts

    @property
    def available(self) -> bool:
        return all(p.available for p in self.parts)

    def find(self, needle: str, cap: int = 50_000) -> list[str] | None:
        """Ids of live passages whose normalised text contains ``needle`` (None past ``cap`` matches)."""
        out: list[str] = []
        for part in self.parts:
            found = part.find(needle, cap)
            if found is None:
                return None
            out.extend(found)
            if len(out) > cap:
                return None
        return out

    def close(self) -> None:
        for p in self.parts:
            p.close()


def part_path(gen: Path, commit: int) -> Path:
    """The recall part written at ``commit``."""
    return gen / f"recall-{commit}.bin"


@dataclass
class Listing:
    """Which recall parts hold a commit's passages (kept in the commit's manifest).

    ``parts``: ``[commit, bytes of records, records]`` of each part;
    ``dead``: document id → the commit that deleted (or replaced) it;
    ``live``: the passages of the commit (records not dead).
    """

    parts: list[list[int]] = field(default_factory=list)
    dead: dict[str, int] = field(default_factory=dict)
    live: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"parts": self.parts, "dead": self.dead, "live": self.live}

    @classmethod
    def from_json(cls, data: Any) -> "Listing | None":
        """The listing in a manifest's ``recall`` entry (None when it is missing or malformed)."""
        if not isinstance(data, dict):
            return None
        try:
            parts = [[int(c), int(b), int(n)] for c, b, n in data["parts"]]
            dead = {str(k): int(v) for k, v in data.get("dead", {}).items()}
            return cls(parts, dead, int(data["live"]))
        except (KeyError, TypeError, ValueError):
            return None

    def records(self) -> int:
        return sum(n for _c, _b, n in self.parts)

    def open(self, gen: Path) -> RecallSet:
        """The parts, memory-mapped; a part whose header does not match the listing is unavailable."""
        files = []
        for commit, size, _n in self.parts:
            rf = RecallFile(part_path(gen, commit), self.dead)
            if rf.available and (rf.commit != commit or rf.size != size):
                rf.close()
            files.append(rf)
        return RecallSet(files)

    def intact(self, gen: Path) -> bool:
        """Whether every part is there, whole (from the headers: nothing is read beyond them)."""
        rs = self.open(gen)
        try:
            return rs.available
        finally:
            rs.close()


def _live_records(gen: Path, listing: Listing, parts: list[list[int]]) -> list[bytes]:
    """The live records of some of a listing's parts."""
    out: list[bytes] = []
    dead = listing.dead
    for commit, _size, _n in parts:
        records = read_records(part_path(gen, commit))
        if records is None:
            raise OSError(f"{part_path(gen, commit).name} cannot be read")
        if dead:
            records = [r for r in records if dead.get(record_doc_id(r), -1) <= commit]
        out.extend(records)
    return out


def commit_parts(gen: Path, commit: int, base: Listing | None, added: list[bytes], gone: Iterable[str],
                 live: int, everything: Callable[[], list[bytes]] | None = None) -> Listing:
    """Write the recall part of ``commit`` and return the commit's listing.

    ``base`` is the previous commit's listing (None: write every record into
    one part, from ``everything()`` (the live records of the base, when there
    is one) and ``added``). ``gone`` are the documents this commit deleted or
    replaced; ``live`` is the number of passages after the commit.
    """
    if base is None:
        records = (everything() if everything is not None else []) + added
        size = write(part_path(gen, commit), records, commit)
        return Listing([[commit, size, len(records)]], {}, live)
    dead = dict(base.dead)
    for d in gone:
        dead[d] = commit
    listing = Listing([list(p) for p in base.parts if p[0] != commit], dead, live)
    total = listing.records() + len(added)
    if total and total - live > DEAD_SHARE * total:
        # Too much of what is scanned is dead: one part with the live records only.
        records = _live_records(gen, listing, listing.parts) + added
        size = write(part_path(gen, commit), records, commit)
        return Listing([[commit, size, len(records)]], {}, live)
    merge: list[list[int]] = []
    if len(listing.parts) + bool(added) > MAX_PARTS:
        # Merge the parts smaller than a quarter of the largest (with the new records): the cost is
        # that of the small parts, and the big ones are not rewritten for every few updates.
        largest = max(b for _c, b, _n in listing.parts)
        merge = [p for p in listing.parts if p[1] < largest / 4] or sorted(listing.parts, key=lambda p: p[1])[:-1]
    if added or merge:
        records = _live_records(gen, listing, merge) + added
        size = write(part_path(gen, commit), records, commit)
        listing.parts = [p for p in listing.parts if p not in merge] + [[commit, size, len(records)]]
    oldest = min((c for c, _b, _n in listing.parts), default=commit)
    listing.dead = {d: k for d, k in dead.items() if k > oldest}  # a deletion before every part is moot
    return listing
