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

Block file layout (all integers big-endian)::

    block 0 | block 1 | ... | offsets: (n + 1) × uint64 | docs per block: uint32 | n: uint32 | b"KBSB"

Each block is ``zlib(pickle([stored dict or None, ...]))``.
"""

from __future__ import annotations

import pickle
import struct
import threading
import zlib
from array import array

from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader

__all__ = ["BlockStoredCodec", "STORED_BLOCK_DOCS", "BLOCK_COLUMN", "compress_block", "block_column"]

BLOCK_COLUMN = "_storedblocks"
STORED_BLOCK_DOCS = 32  # documents per block: ~10 KB of passages, decompressed in ~0.1 ms
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


class BlockStoredCodec(W3Codec):
    """``W3Codec`` that reads stored fields from compressed blocks when a segment has them."""

    def per_document_reader(self, storage, segment):
        return BlockStoredPerDocReader(storage, segment)


class BlockStoredPerDocReader(W3PerDocReader):
    """Per-document reader: stored fields from ``_storedblocks``, everything else from W3."""

    def __init__(self, storage, segment):
        super().__init__(storage, segment)
        self._blocks = None  # (file, offsets, per_block), opened on first use
        self._cache: tuple[int, list] | None = None  # the last block read
        self._lock = threading.Lock()

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
        cached = self._cache
        if cached is not None and cached[0] == b:
            return cached[1]
        f, base, offsets, _per = self._blocks
        data = f.get(base + offsets[b], offsets[b + 1] - offsets[b])
        rows = pickle.loads(zlib.decompress(data))
        self._cache = (b, rows)
        return rows

    def stored_fields(self, docnum):
        blocks = self._open_blocks()
        if not blocks:
            return super().stored_fields(docnum)
        per = blocks[3]
        v = self._block(docnum // per)[docnum % per]
        return dict(v) if v else {}
