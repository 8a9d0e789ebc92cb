"""A Whoosh codec whose stored fields are compressed in blocks of documents.

Whoosh's W3 codec compresses each document's stored fields on its own
(``PickleColumn(CompressedBytesColumn())``): a 70-character passage barely
compresses alone. ``BlockStoredCodec`` is ``W3Codec`` with one difference on
the read side: when a segment has a ``_storedblocks`` column, stored fields
come from it, ``STORED_BLOCK_DOCS`` documents per zlib block (as Lucene
does). Terms, postings, lengths and deletions are W3's, untouched.

The codec object is pickled into the index's TOC with each segment, so
Whoosh's ordinary ``FileIndex`` reader picks this class up by itself; the
module path ``kb.engine.whoosh.storedblocks`` is therefore part of the index
format. Segments that Whoosh's own writer produces (merges through
``SegmentWriter``) use W3's per-document column, which this reader also
reads.

Segments that are not compound (kb's writer writes each part of a segment
as a file of its own) are read through memory maps: Whoosh's compound
storage copies every part of a segment into a private ``BytesIO`` per
reader (about 170 MB per reader of the whole corpus), and a plain file
would cost a system call per look-up. A map shares the operating system's
page cache between readers and processes, and a reader opens every file of
its segments when it opens (columns too, which W3 opens on first use), so a
later commit that deletes merged segments' files cannot pull them away from
a reader that is still using them.

Block file layout (all integers big-endian)::

    block 0 | block 1 | ... | offsets: (n + 1) × uint64 | docs per block: uint32 | n: uint32 | b"KBSB"

Each block is ``zlib(pickle([stored dict or None, ...]))``.
"""

from __future__ import annotations

import mmap
import os
import pickle
import struct
import threading
import zlib
from array import array
from collections import OrderedDict

from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader
from whoosh.filedb.structfile import StructFile

__all__ = ["BlockStoredCodec", "STORED_BLOCK_DOCS", "BLOCK_COLUMN", "compress_block", "block_column"]

BLOCK_COLUMN = "_storedblocks"
STORED_BLOCK_DOCS = 32  # documents per block: ~10 KB of passages, decompressed in ~0.1 ms
BLOCK_CACHE = 256  # decompressed blocks kept per segment reader (~8,000 rows, ~15 MB at most)
_LEVEL = 6
_TAIL = struct.Struct("!II4s")
_MAGIC = b"KBSB"
_BIG = struct.pack("=H", 1) == b"\x00\x01"


def compress_block(rows: list) -> bytes:
    """One block: the stored dicts (None: nothing stored) of up to ``STORED_BLOCK_DOCS`` documents."""
    return zlib.compress(pickle.dumps(rows, 4), _LEVEL)


def block_column(blocks: list[bytes], per_block: int = STORED_BLOCK_DOCS) -> list[bytes]:
    """The ``_storedblocks`` column of a segment: its blocks (every one full but the last) and their index."""
    parts: list[bytes] = list(blocks)
    offsets = array("Q", [0])
    pos = 0
    for block in blocks:
        pos += len(block)
        offsets.append(pos)
    n = len(offsets) - 1
    if not _BIG:
        offsets.byteswap()
    parts.append(offsets.tobytes())
    parts.append(_TAIL.pack(per_block, n, _MAGIC))
    return parts


class MappedStorage:
    """The files of a folder (a Whoosh ``FileStorage``), opened as read-only memory maps."""

    def __init__(self, storage):
        self._storage = storage
        self.folder = storage.folder

    def open_file(self, name, **kwargs):
        with open(os.path.join(self.folder, name), "rb") as f:
            try:
                m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file cannot be mapped
                return StructFile(open(os.path.join(self.folder, name), "rb"), name=name, **kwargs)
        # The map stays valid after the file is closed, and after it is deleted.
        return StructFile(m, name=name, **kwargs)

    def file_length(self, name):
        return self._storage.file_length(name)

    def file_exists(self, name):
        return self._storage.file_exists(name)

    def list(self):
        return self._storage.list()

    def close(self):
        pass


def _mapped(storage):
    """``storage`` with its files memory-mapped (a compound segment's storage is left as it is)."""
    return MappedStorage(storage) if hasattr(storage, "folder") else storage


class BlockStoredCodec(W3Codec):
    """``W3Codec`` that reads stored fields from compressed blocks when a segment has them,
    and the files of a segment that is not compound through memory maps."""

    def per_document_reader(self, storage, segment):
        return BlockStoredPerDocReader(_mapped(storage), segment)

    def terms_reader(self, storage, segment):
        return super().terms_reader(_mapped(storage), segment)


class BlockStoredPerDocReader(W3PerDocReader):
    """Per-document reader: stored fields from ``_storedblocks``, everything else from W3."""

    def __init__(self, storage, segment):
        super().__init__(storage, segment)
        self._blocks = None  # (file, offsets, per_block), opened on first use
        # Blocks read lately, newest last: a search reads its ~100 candidates' rows, then their
        # documents' and neighbours' rows, often from blocks it has just read; the next page or a
        # refined query reads many of them again. A block's rows cost ~90 us to decompress and unpickle.
        self._cache: OrderedDict[int, list] = OrderedDict()
        self._lock = threading.Lock()
        if isinstance(storage, MappedStorage):
            # Every column now, while the files surely exist (W3 would open them on first use).
            prefix, ext = segment.segment_id() + ".", W3Codec.COLUMN_EXT
            try:
                for name in storage.list():
                    if name.startswith(prefix) and name.endswith(ext):
                        field = name[len(prefix):-len(ext)]
                        self._colfiles[field] = (storage.open_file(name), 0, storage.file_length(name))
            except BaseException:
                self.close()
                raise

    def has_column(self, fieldname):
        if isinstance(self._storage, MappedStorage):
            return fieldname in self._colfiles
        return super().has_column(fieldname)

    def _get_column_file(self, fieldname):
        if fieldname in self._colfiles:
            return self._colfiles[fieldname]
        return super()._get_column_file(fieldname)

    def _open_blocks(self):
        if self._blocks is None:
            with self._lock:
                if self._blocks is None:
                    if not self.has_column(BLOCK_COLUMN):
                        self._blocks = False
                    else:
                        f, base, length = self._get_column_file(BLOCK_COLUMN)
                        self._colfiles[BLOCK_COLUMN] = (f, base, length)
                        per_block, n, magic = _TAIL.unpack(f.get(base + length - _TAIL.size, _TAIL.size))
                        if magic != _MAGIC:
                            raise ValueError(f"{BLOCK_COLUMN} column of segment {self._segment} is damaged")
                        size = 8 * (n + 1)
                        offsets = array("Q")
                        offsets.frombytes(bytes(f.get(base + length - _TAIL.size - size, size)))
                        if not _BIG:
                            offsets.byteswap()
                        self._blocks = (f, base, offsets, per_block)
        return self._blocks

    def _block(self, b: int) -> list:
        cache = self._cache
        with self._lock:
            rows = cache.get(b)
            if rows is not None:
                cache.move_to_end(b)
                return rows
        f, base, offsets, _per = self._blocks
        data = f.get(base + offsets[b], offsets[b + 1] - offsets[b])
        rows = pickle.loads(zlib.decompress(data))
        with self._lock:
            cache[b] = rows
            if len(cache) > BLOCK_CACHE:
                cache.popitem(last=False)
        return rows

    def stored_fields(self, docnum):
        blocks = self._open_blocks()
        if not blocks:
            return super().stored_fields(docnum)
        per = blocks[3]
        v = self._block(docnum // per)[docnum % per]
        return dict(v) if v else {}
