"""A fast writer of Whoosh segments: postings built in bulk, written straight in Whoosh's W3 format.

Whoosh's own ``SegmentWriter`` makes several Python calls per posting: a
tuple into an external-sort pool, a sort, then ``add_posting`` with a field
length read back from a column for every posting. kb's schema keeps only
frequencies (no positions), so a segment can be built from one small
``{term: frequency}`` map per record instead:

* ``Analyzer`` turns a record's fields into ``(stored, terms, lengths)``
  exactly as Whoosh's ``add_document`` would index them (kb's word
  tokenizer, ID and keyword fields have fast paths; any other field goes
  through the field's own ``index()``). Its output is plain data, so worker
  processes can analyse and the parent (or the worker itself) can write.
* ``SegmentBuilder`` keeps, per field and term, one ``array('I')`` of
  (document, frequency) pairs and the stored fields already compressed,
  and writes the segment's files (``.trm`` term table, ``.pst`` posting
  blocks, length and stored columns; or one compound file) that Whoosh's
  normal ``FileIndex`` reader opens. Blocks and stored values are pickled with
  protocol 3 (Whoosh's protocol 2 spells bytes as a latin-1 string), a
  block of a few postings is left uncompressed (zlib makes it larger), and
  zlib gets a window no larger than the value (its default 256 KB state
  costs more to set up than a small value costs to compress).
* ``BulkWriter`` is the write transaction on an index: it holds Whoosh's
  write lock, deletes older documents through Whoosh's own deletion marks,
  adds documents or analysed records, optionally merges small segments with
  Whoosh's merge policies, and commits like Whoosh does: the new segment
  file is written and synced first, then the table of contents (TOC) of the
  next generation is written to a temporary file and renamed into place.

What is read back is what ``SegmentWriter`` would have written: the same
terms, postings, frequencies, weights, field lengths, stored fields and so
the same BM25F scores (``tests/test_bulk_writer.py`` checks this).

Supported schemas: fields whose format is ``Existence`` or ``Frequency``
(ID, KEYWORD, TEXT with ``phrase=False``, STORED), without vectors,
sortable columns or separate spelling fields. Anything else raises
``ValueError`` when the writer is created.
"""

from __future__ import annotations

import os
import pickle
import struct
import time
import zlib
from array import array
from collections import Counter
from itertools import chain
from operator import sub as _sub
from typing import Any, Iterable

__all__ = ["Analyzer", "SegmentBuilder", "BulkWriter", "Record", "check_schema"]

# (stored fields or None, {fieldname: {term: frequency}}, {fieldname: length})
Record = tuple

_BLOCK = 128  # postings per block, as W3Codec's default blocklimit
_POSTING_LEVEL = 6  # zlib level of a posting block
_COMPRESS_MIN = 96  # pickled block bytes below which zlib makes a block larger
_MAGIC = b"W3Bl"
_int = struct.Struct("!i").pack
_uint = struct.Struct("!I").pack
_lens = struct.Struct("!ii").pack
_terminfo = struct.Struct("!BfIBBfII").pack
_extent = struct.Struct("!qi").pack
_ushort = struct.Struct("!H").pack
_dir_entry = struct.Struct("!qi").pack
_STORED_LEVEL = 3  # W3Codec's STORED_COLUMN: CompressedBytesColumn(level=3)
# Whoosh pickles blocks and stored fields with protocol 2, which spells every bytes value as
# codecs.encode(<latin-1 str>) (45 bytes of overhead, high bytes doubled). Readers accept any
# protocol; 3 is the first with a bytes opcode and adds no framing to small pickles.
_PICKLE = 3
_LITTLE = struct.pack("=H", 1) == b"\x01\x00"


# --- schema checks and analysis -------------------------------------------------------


def _kinds(schema) -> dict[str, str]:
    """For each field of ``schema``: how it is analysed ("words", "id", "generic" or "" when not indexed)."""
    from whoosh import formats
    from whoosh.analysis import IDTokenizer

    from .tokenizer import WordTokenizer

    out = {}
    for name, field in schema.items():
        if field.vector:
            raise ValueError(f"field {name!r} has term vectors; the bulk writer does not write them")
        if field.column_type is not None:
            raise ValueError(f"field {name!r} is sortable; the bulk writer does not write columns")
        if field.separate_spelling():
            raise ValueError(f"field {name!r} has a spelling field; the bulk writer does not write it")
        if not field.indexed:
            out[name] = ""
            continue
        fmt = field.format
        if type(fmt) not in (formats.Existence, formats.Frequency):
            raise ValueError(f"field {name!r} has format {type(fmt).__name__}; the bulk writer writes "
                             "Existence and Frequency postings only (positions are not supported)")
        ana = field.analyzer
        if type(ana) is WordTokenizer and type(fmt) is formats.Frequency:
            out[name] = "words"
        elif type(ana) is IDTokenizer:
            out[name] = "id"
        else:
            out[name] = "generic"
    return out


def check_schema(schema) -> None:
    """Raise ``ValueError`` when ``schema`` has a field the bulk writer cannot write."""
    _kinds(schema)


class Analyzer:
    """Turns ``add_document`` keyword arguments into a ``Record``, as Whoosh would index them.

    Picklable, so a worker process can hold one. Generic fields with short
    values (topic lists, dates) are analysed once per distinct value.
    ``subwords=False`` indexes kb's word fields without the dictionary words
    inside long words (an experiment; Whoosh's writer always adds them).
    """

    def __init__(self, schema, subwords: bool = True):
        self.schema = schema
        self.subwords = subwords
        self.kinds = _kinds(schema)
        self._memo: dict[tuple[str, str], tuple[dict, int]] = {}
        self._last: dict[str, tuple[str, Counter, int]] = {}  # per word field: the last value analysed

    def __getstate__(self):
        return {"schema": self.schema, "subwords": self.subwords}

    def __setstate__(self, state):
        self.__init__(state["schema"], state.get("subwords", True))

    def __call__(self, fields: dict[str, Any]) -> Record:
        from whoosh.fields import UnknownFieldError

        from ...text.segment import word_tokens

        schema = self.schema
        kinds = self.kinds
        stored = {}
        terms: dict[str, dict[str, int]] = {}
        lengths: dict[str, int] = {}
        for name in sorted(fields):
            value = fields[name]
            if name.startswith("_"):
                raise ValueError(f"{name!r}: boosts and custom stored values are not supported by the bulk writer")
            if name not in schema:
                raise UnknownFieldError(f"No field named {name!r} in {schema}")
            if value is None:
                continue
            field = schema[name]
            kind = kinds[name]
            if kind == "words" and isinstance(value, str):
                last = self._last.get(name)
                if last is not None and last[0] == value:
                    # Consecutive passages share their section path: analyse it once.
                    counts, n = last[1], last[2]
                else:
                    toks = word_tokens(value, index=self.subwords)
                    counts, n = Counter(t[0] for t in toks), len(toks)
                    self._last[name] = (value, counts, n)
                if n:
                    terms[name] = counts  # shared between records: read, never changed
                    if field.scorable:
                        lengths[name] = n
            elif kind == "id" and isinstance(value, str):
                terms[name] = {value: 1}
                if field.scorable:
                    lengths[name] = 1
            elif kind:
                counts, length = self._generic(name, field, value)
                if counts:
                    terms[name] = counts
                    if length:
                        lengths[name] = length
            if field.stored:
                stored[name] = value
        return (stored or None, terms, lengths)

    def _generic(self, name: str, field, value) -> tuple[dict, int]:
        key = (name, value) if isinstance(value, str) and len(value) <= 64 else None
        if key is not None:
            hit = self._memo.get(key)
            if hit is not None:
                return hit
        counts: dict[str, int] = {}
        length = 0
        for tbytes, freq, _weight, _vbytes in field.index(value):
            counts[tbytes.decode("utf-8")] = freq
            if field.scorable:
                length += freq
        out = (counts, length)
        if key is not None and len(self._memo) < 100_000:
            self._memo[key] = out
        return out


# --- the in-memory segment -----------------------------------------------------------------


class SegmentBuilder:
    """Records of one new segment, held as compact postings until ``write``.

    With ``block_stored`` the stored fields are written in compressed blocks
    of documents (``kb.engine.whoosh.storedblocks``) instead of one zlib value per
    document; Whoosh's reader reads either.
    """

    def __init__(self, schema, block_stored: bool = False):
        self.schema = schema
        self.block_stored = block_stored
        self.kinds = _kinds(schema)
        self.doccount = 0
        # Stored fields, compressed as they arrive (so memory holds compressed bytes only):
        # one zlib value per document (b"": none), or full blocks plus the rows of the open block.
        self.stored: list[bytes] = []
        self._rows: list[dict | None] = []
        if block_stored:
            from .storedblocks import STORED_BLOCK_DOCS, compress_block

            self._per_block, self._compress_block = STORED_BLOCK_DOCS, compress_block
        # field -> term -> array("I") of (document, frequency) pairs, documents ascending
        self.postings: dict[str, dict[str, array]] = {}
        self.lengths: dict[str, array] = {}  # scorable field -> per-document length (0: none)
        self.totals: Counter = Counter()  # exact field lengths, summed
        # After write(): per field [terms, postings, term-table bytes, posting bytes].
        self.stats: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return self.doccount

    def add(self, record: Record) -> int:
        """Append one analysed record; returns its document number in the segment."""
        stored, terms, lengths = record
        doc = self.doccount
        self.doccount = doc + 1
        self._store(stored or None)
        postings = self.postings
        for name, counts in terms.items():
            field_post = postings.get(name)
            if field_post is None:
                field_post = postings[name] = {}
            if len(counts) == 1:  # ID-like fields: often a new term (an exception would cost more)
                for term, freq in counts.items():
                    a = field_post.get(term)
                    if a is None:
                        field_post[term] = array("I", (doc, freq))
                    else:
                        a.append(doc)
                        a.append(freq)
                continue
            for term, freq in counts.items():
                try:
                    a = field_post[term]
                except KeyError:
                    field_post[term] = array("I", (doc, freq))
                else:
                    a.append(doc)
                    a.append(freq)
        for name, length in lengths.items():
            col = self.lengths.get(name)
            if col is None:
                col = self.lengths[name] = array("I")
            if len(col) < doc:
                col.extend(bytes(doc - len(col)))  # documents without this field
            col.append(length)
            self.totals[name] += length
        return doc

    def _store(self, row: dict | None) -> None:
        if self.block_stored:
            self._rows.append(row)
            if len(self._rows) == self._per_block:
                self.stored.append(self._compress_block(self._rows))
                self._rows = []
        else:
            self.stored.append(_zcompress(pickle.dumps(row, _PICKLE), _STORED_LEVEL) if row else b"")

    def add_reader(self, reader) -> None:
        """Append the live documents of a segment reader (a merge), as ``SegmentWriter.add_reader`` does."""
        from whoosh import formats

        schema = self.schema
        docmap: dict[int, int] = {}
        names = [n for n in schema.names() if schema[n].scorable]
        for docnum, stored in reader.iter_docs():
            lengths = {}
            for n in names:
                length = reader.doc_field_length(docnum, n)
                if length:
                    lengths[n] = length
            docmap[docnum] = self.add(({k: v for k, v in stored.items() if k in schema} or None, {}, lengths))
        for name in reader.indexed_field_names():
            if name not in schema or not schema[name].indexed:
                continue
            fmt = schema[name].format
            freq_of = fmt.decode_frequency if type(fmt) is formats.Frequency else None
            field_post = self.postings.setdefault(name, {})
            for btext in reader.lexicon(name):
                m = reader.postings(name, btext)
                pairs: list[int] = []
                while m.is_active():
                    new = docmap.get(m.id())
                    if new is not None:
                        pairs.append(new)
                        pairs.append(freq_of(m.value()) if freq_of else 1)
                    m.next()
                if not pairs:
                    continue
                term = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                a = field_post.get(term)
                if a is None:
                    field_post[term] = array("I", pairs)
                else:
                    a.extend(pairs)

    # -- writing ----------------------------------------------------------------------

    def write(self, storage, indexname: str, codec=None, sync: bool = True, compound: bool = False):
        """Write the segment in ``storage``; returns the ``W3Segment``.

        Its parts (postings, term table, columns) are files of their own, or
        with ``compound`` one compound file as Whoosh's writer makes. The
        files are complete (and with ``sync``, on disk) when this returns;
        nothing refers to them until a TOC that lists the segment is written.
        """
        from whoosh.codec.whoosh3 import W3Codec

        if codec is None:
            if self.block_stored:
                from .storedblocks import BlockStoredCodec

                codec = BlockStoredCodec()
            else:
                codec = W3Codec()
        segment = codec.new_segment(storage, indexname)
        segment.set_doc_count(self.doccount)
        # Posting blocks go to the file as they are made; the term table, which needs every
        # term's extent, follows them.
        trm: list[bytes] = []
        files: list[tuple[str, Any]] = [
            (segment.make_filename(W3Codec.POSTS_EXT), lambda out: trm.extend(self._terms_and_postings(out))),
            (segment.make_filename(W3Codec.TERMS_EXT), trm),
        ]
        for name, data in self._columns():
            files.append((W3Codec.column_filename(segment, name), data))
        if compound:
            _write_compound(os.path.join(storage.folder, segment.make_filename(segment.COMPOUND_EXT)), files, sync)
        else:
            _write_files(storage.folder, files, sync)
        segment.compound = compound
        segment._fieldlengths = dict(self.totals)
        return segment

    def _columns(self) -> Iterable[tuple[str, bytes | list[bytes]]]:
        from whoosh.util.numeric import length_to_byte

        n = self.doccount
        for name in sorted(self.lengths):
            col = self.lengths[name]
            lb = bytearray(length_to_byte(x) if x else 0 for x in col)
            lb = lb.rstrip(b"\x00")  # Whoosh's fixed-size column ends at the last non-default value
            if lb:
                yield f"_{name}_len", bytes(lb)
        if self.block_stored:
            from .storedblocks import BLOCK_COLUMN, STORED_BLOCK_DOCS, block_column, compress_block

            blocks = self.stored + ([compress_block(self._rows)] if self._rows else [])
            yield BLOCK_COLUMN, block_column(blocks, STORED_BLOCK_DOCS)
        else:
            yield "_stored", _stored_column(self.stored, n)

    def _terms_and_postings(self, out) -> list[bytes]:
        """Write the postings (``.pst``) of every field with ``out(chunk)``; returns the term table (``.trm``)."""
        from whoosh import formats
        from whoosh.util.numeric import byte_to_length, length_to_byte

        schema = self.schema
        table = _HashTable()
        pos = 0  # offset in the postings file
        fieldmap: dict[str, int] = {}
        dumps = pickle.dumps
        # Field lengths as Whoosh's writer sees them: quantised to a byte and back; and the
        # byte Whoosh then records for such a length in block and term statistics.
        q_of = [byte_to_length(length_to_byte(x)) for x in range(0, 256)]
        l2b: dict = {None: 0}
        for b in range(256):
            q = byte_to_length(b)
            l2b[q] = length_to_byte(q)
        for name in sorted(self.postings):
            field_post = self.postings[name]
            if not field_post:
                continue
            fmt = schema[name].format
            freq_fmt = type(fmt) is formats.Frequency
            fb = float(fmt.field_boost)
            fb32 = array("f", (fb,))[0]
            # A boost with few binary digits: freq * boost and its sums are exact in float32 and
            # float64 alike, so they need not be rounded through array("f") as Whoosh's writer does.
            exact = fb32 == fb and float(fb * 1048576).is_integer()
            fid = fieldmap[name] = len(fieldmap)
            prefix = _ushort(fid)
            qlen = None
            col = self.lengths.get(name)
            if col is not None:
                qlen = array("I", bytes(4 * self.doccount))
                for d, x in enumerate(col):
                    if x:
                        qlen[d] = q_of[x] if x < 256 else byte_to_length(length_to_byte(x))
            keyed = sorted(field_post)  # code point order is UTF-8 byte order, the term table's order
            stat = self.stats[name] = [len(keyed), 0, 0, 0]
            pos0 = pos
            one_w = None if fb == 1.0 else fb32  # the stored weight of a frequency-1 posting
            for term in keyed:
                tbytes = term.encode("utf-8")
                pairs = field_post[term]
                docs = pairs[0::2]
                freqs = pairs[1::2]
                n = len(docs)
                if n == 1 and (exact or not freq_fmt):
                    # Most terms have one posting: inlined in the term table, as Whoosh's own
                    # writer does below its inlinelimit (read back as a ListMatcher). A block of
                    # its own in the postings file cost ~60 bytes more (4 MB of the corpus's index).
                    d = docs[0]
                    f = freqs[0] if freq_fmt else 1
                    if freq_fmt:
                        w = f * fb
                        mini_w = one_w if f == 1 else (None if w == 1.0 else w)
                        values = _uint(f)
                    else:
                        w = fb
                        mini_w = one_w
                        values = None
                    ql = qlen[d] if qlen is not None else 0
                    lb = l2b[ql] if ql else 0
                    ti = _terminfo(1, w if exact else fb32 * f, 1, lb, lb, w, d, d)
                    inline = _inline_posting(d, mini_w, values)
                    table.add(prefix + tbytes, ti + inline)
                    stat[1] += 1
                    stat[2] += 8 + len(prefix) + len(tbytes) + len(ti) + len(inline) + 24 + 4
                    continue
                blob, ti = self._term_blocks(docs, freqs, freq_fmt, fb, fb32, exact, qlen, l2b)
                out(blob)
                table.add(prefix + tbytes, ti + _extent(pos, len(blob)))
                pos += len(blob)
                stat[1] += n
                # key record + terminfo + two hash slots + one index entry
                stat[2] += 8 + len(prefix) + len(tbytes) + len(ti) + 12 + 24 + 4
            stat[3] = pos - pos0
        return table.finish({"fieldmap": fieldmap})

    @staticmethod
    def _term_blocks(docs, freqs, freq_fmt, fb, fb32, exact, qlen, l2b) -> tuple[bytes, bytes]:
        """A posting list of several postings: W3 blocks of up to 128, and its term info (without extent)."""
        dumps = pickle.dumps
        n = len(docs)
        deltas = list(map(_sub, docs, chain((0,), docs)))
        parts = [_MAGIC]
        total_w = 0.0
        max_w = 0.0
        min_len = None
        max_len = 0
        for b0 in range(0, n, _BLOCK):
            ids = docs[b0:b0 + _BLOCK]
            k = len(ids)
            if freq_fmt:
                fr = freqs[b0:b0 + _BLOCK]
                fmax = max(fr)
                if exact and fmax < 1 << 20:
                    fmin = min(fr)
                    if fmin == fmax:
                        mini_w = fmin * fb
                        if mini_w == 1.0:
                            mini_w = None
                    elif fb == 1.0:
                        # The frequencies themselves: a pickled small int takes 2 bytes, a float 9
                        # (a tenth of the postings file); Whoosh's matcher returns a block's
                        # weights as they are stored, and BM25 computes the same score from 3 as
                        # from 3.0.
                        mini_w = tuple(fr)
                    else:
                        mini_w = tuple(map(fb.__mul__, fr))
                    w_sum = fb * sum(fr)
                else:
                    wa = array("f", (f * fb for f in fr))
                    first = wa[0]
                    mini_w = first if all(w == first for w in wa) else tuple(wa)
                    if mini_w == 1.0:
                        mini_w = None
                    w_sum = sum(wa)
                b_maxw = fmax * fb
                if _LITTLE:
                    fr.byteswap()  # a copy (a slice): big-endian, as pack_uint writes each value
                values = fr.tobytes()
            else:
                mini_w = None if fb32 == 1.0 else fb32
                w_sum = fb * k if exact else sum(array("f", (fb,)) * k)
                b_maxw = fb
                values = None
            if b_maxw > max_w:
                max_w = b_maxw
            total_w += w_sum
            if qlen is not None:
                ls = list(map(qlen.__getitem__, ids))
                b_max_len = max(ls)
                b_min_len = min(filter(None, ls), default=None)
            else:
                b_max_len = 0
                b_min_len = None
            if b_min_len is not None and (min_len is None or b_min_len < min_len):
                min_len = b_min_len
            if b_max_len > max_len:
                max_len = b_max_len
            block_deltas = deltas[b0:b0 + _BLOCK]
            block_deltas[0] = ids[0]  # each block's deltas start from 0, as delta_encode does
            data = dumps((tuple(block_deltas), mini_w, values), _PICKLE)
            comp = 0
            if len(data) >= _COMPRESS_MIN:
                # A small window and hash: a block is at most a few KB, and zlib's default
                # 256 KB state costs more to set up than to compress the block. Level 6: 5% smaller
                # than 3 on the corpus's text postings, for 0.02 s more per MB; reading is as fast.
                z = _zcompress(data, _POSTING_LEVEL)
                if len(z) < len(data):
                    data, comp = z, _POSTING_LEVEL
            info = dumps((k, ids[-1], b_maxw, comp, l2b[b_min_len] if b_min_len else 0, l2b[b_max_len] if b_max_len else 0),
                         _PICKLE)
            blen = len(info) + len(data)
            parts.append(_int(-blen if b0 + _BLOCK >= n else blen))
            parts.append(info)
            parts.append(data)
        ti = _terminfo(0, total_w, n, l2b[min_len] if min_len else 0, l2b[max_len] if max_len else 0, max_w,
                       docs[0], docs[n - 1])
        return b"".join(parts), ti


_BININT1 = struct.Struct("<cB").pack
_BININT2 = struct.Struct("<cH").pack
_BININT = struct.Struct("<ci").pack
_BINFLOAT = struct.Struct(">cd").pack


def _inline_posting(d: int, weight: float | None, value: bytes | None) -> bytes:
    """``pickle.dumps(((d,), (weight,) or None, (value,)), 3)`` without its memo opcodes.

    A term's one posting inlined in the term table, as ``W3TermInfo`` reads it
    (``pickle.loads``). Written by hand: 8 bytes smaller than ``dumps`` makes
    it (a memo entry for each tuple and bytes), and no pickler per term.
    """
    parts = [b"\x80\x03"]
    parts.append(_BININT1(b"K", d) if d < 256 else _BININT2(b"M", d) if d < 65536 else _BININT(b"J", d))
    parts.append(b"\x85")  # TUPLE1
    parts.append(b"N" if weight is None else _BINFLOAT(b"G", weight) + b"\x85")
    parts.append(b"N\x85" if value is None else b"C" + bytes((len(value),)) + value + b"\x85")
    parts.append(b"\x87.")  # TUPLE3, STOP
    return b"".join(parts)


def _stored_column(values: list[bytes], doccount: int) -> list[bytes]:
    """Whoosh's ``_stored`` column (``PickleColumn(CompressedBytesColumn())``) of compressed pickles."""
    out = [v for v in values if v]
    lengths = [len(v) for v in values]
    lengths.extend(0 for _ in range(doccount - len(lengths)))
    la = _growable(lengths, "B")
    out.append(_be(la))
    if doccount > 2 ** 15:  # VarBytesColumn's write_offsets_cutoff: write offsets for fast opening
        offsets = []
        base = 0
        for x in lengths:
            offsets.append(base)
            base += x
        oa = _growable(offsets, "B")
        out.append(_be(oa))
        out.append(la.typecode.encode("ascii") + oa.typecode.encode("ascii") + b"X")
    else:
        out.append(la.typecode.encode("ascii"))
    return out


def _zcompress(data: bytes, level: int) -> bytes:
    """``zlib.compress(data, level)`` with a window no larger than ``data`` needs.

    zlib's default 32 KB window and 128 KB hash cost more to allocate and clear
    than a value of a few hundred bytes costs to compress; any zlib reader
    decompresses the result.
    """
    wbits = min(15, max(10, (len(data) - 1).bit_length()))
    c = zlib.compressobj(level, zlib.DEFLATED, wbits, max(1, wbits - 7))
    return c.compress(data) + c.flush()


def _growable(nums: list[int], inittype: str) -> array:
    """The array Whoosh's ``GrowableArray(inittype, allow_longs=False)`` ends up with."""
    mx = max(nums, default=0)
    if inittype == "B" and mx < 256:
        return array("B", nums)
    if mx < 2 ** 16:
        return array("H", nums)
    if mx < 2 ** 31:
        return array("i", nums)
    if mx < 2 ** 32:
        return array("I", nums)
    raise OverflowError(f"{mx} is too big for a stored-fields column")


def _be(a: array) -> bytes:
    """An array's bytes in Whoosh's on-disk (big-endian) order."""
    if a.itemsize > 1 and struct.pack("=H", 1) == b"\x01\x00":
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


class _HashTable:
    """Whoosh's ``OrderedHashWriter`` file format, built in memory with fewer calls per key.

    Same layout (so ``OrderedHashReader`` reads it); the CRC-32 hash
    (hashtype 1, recorded in the header) replaces MD5 to save time.
    """

    HASHTYPE = 1

    def __init__(self):
        self.data = bytearray(b"HSH3" + bytes((self.HASHTYPE,)) + b"\x00" * 8)  # one buffer: no object per key
        self.pos = 13
        self.positions = array("q")
        self.hashes = array("I")
        self.lastkey = b""

    def add(self, key: bytes, value: bytes) -> None:
        if key <= self.lastkey and self.positions:
            raise ValueError(f"Keys must increase: {self.lastkey!r}..{key!r}")
        self.lastkey = key
        self.positions.append(self.pos)
        self.hashes.append(zlib.crc32(key) & 0xFFFFFFFF)
        data = self.data
        data += _lens(len(key), len(value))
        data += key
        data += value
        self.pos = len(data)

    def finish(self, extras: dict) -> list[bytes]:
        parts = [self.data]
        buckets: list[list[int]] = [[] for _ in range(256)]
        for i, h in enumerate(self.hashes):
            buckets[h & 255].append(i)
        directory = []
        pos = self.pos
        hashes, positions = self.hashes, self.positions
        for entries in buckets:
            numslots = 2 * len(entries)
            directory.append(_dir_entry(pos, numslots))
            if not numslots:
                continue
            table = [None] * numslots
            for i in entries:
                h = hashes[i]
                slot = (h >> 8) % numslots
                while table[slot] is not None:
                    slot = (slot + 1) % numslots
                table[slot] = i
            flat = []
            for i in table:
                if i is None:
                    flat.append(0)
                    flat.append(0)
                else:
                    flat.append(hashes[i])
                    flat.append(positions[i])
            blob = struct.pack("!" + "Iq" * numslots, *flat)
            parts.append(blob)
            pos += len(blob)
        parts.extend(directory)
        # OrderedHashWriter's GrowableArray("H") of key positions: H, i, I or q as they grow.
        top = max(positions, default=0)
        index = array("H" if top < 2 ** 16 else "i" if top < 2 ** 31 else "I" if top < 2 ** 32 else "q", positions)
        extras = dict(extras, indextype=index.typecode, indexlen=len(index))
        tail = pickle.dumps(extras, pickle.HIGHEST_PROTOCOL) + _be(index)
        parts.append(tail)
        parts.append(_int(len(tail)))
        return parts


def _write_compound(path: str, files: list[tuple[str, Any]], sync: bool) -> None:
    """A Whoosh compound segment file (``CompoundStorage`` layout) holding ``files``.

    A file's data is bytes, a list of byte chunks, or a function that writes
    its chunks with the ``out(chunk)`` it is given.
    """
    tmp = path + ".tmp"
    directory = {}
    now = time.time()
    with open(tmp, "wb") as f:
        f.write(b"\x00" * 12)  # directory position (long) and length (int), filled in below
        pos = [12]

        def out(chunk: bytes) -> None:
            f.write(chunk)
            pos[0] += len(chunk)

        for name, data in files:
            start = pos[0]
            if callable(data):
                data(out)
            else:
                for c in [data] if isinstance(data, (bytes, bytearray)) else data:
                    out(c)
            directory[name] = {"offset": start, "length": pos[0] - start, "modified": now}
        dirpos = pos[0]
        tail = pickle.dumps(directory, pickle.HIGHEST_PROTOCOL) + pickle.dumps({}, pickle.HIGHEST_PROTOCOL)
        f.write(tail)
        f.seek(0)
        f.write(struct.pack("!qi", dirpos, len(tail)))
        f.flush()
        if sync:
            os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_files(folder: str, files: list[tuple[str, Any]], sync: bool) -> None:
    """Write each of ``files`` (data as for ``_write_compound``) as a file of its own in ``folder``.

    Written under their final names: until a TOC lists the segment nothing
    reads them, and a file left by a crash is deleted by the next commit.
    """
    for name, data in files:
        with open(os.path.join(folder, name), "wb") as f:
            if callable(data):
                data(f.write)
            else:
                for c in [data] if isinstance(data, (bytes, bytearray)) else data:
                    f.write(c)
            f.flush()
            if sync:
                os.fsync(f.fileno())
    if sync:
        _fsync_dir(folder)  # the new names are durable before a TOC can refer to them


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the write transaction ---------------------------------------------------------------


class BulkWriter:
    """A write transaction on a Whoosh ``FileIndex`` that adds one new segment per commit.

    Use like Whoosh's writer: ``add_document(**fields)`` (or ``add_record``
    for records analysed elsewhere), ``delete_by_term`` /
    ``delete_document`` for documents already in the index, then
    ``commit()`` or ``cancel()``. ``generation`` is the generation the
    commit creates. ``add_segment`` adds a segment written by another
    process (see ``SegmentBuilder.write``) to this commit.
    """

    def __init__(self, ix, *, block_stored: bool = False, subwords: bool = True, timeout: float = 0.0,
                 delay: float = 0.1):
        from whoosh.index import LockError
        from whoosh.util.filelock import try_for

        self.ix = ix
        self.storage = ix.storage
        self.indexname = ix.indexname
        self.writelock = ix.lock("WRITELOCK")
        if not try_for(self.writelock.acquire, timeout=timeout, delay=delay):
            raise LockError
        try:
            info = ix._read_toc()
            self.generation = info.generation + 1
            self.schema = info.schema
            self.segments = list(info.segments)
            self.base_segments = list(info.segments)
            self.analyzer = Analyzer(self.schema, subwords)
            self.block_stored = block_stored
            self.builder = SegmentBuilder(self.schema, block_stored)
            self.extra_segments: list = []
        except BaseException:
            self.writelock.release()
            raise
        self.is_closed = False
        self._searcher = None

    # -- reading what is committed (for deletions) ------------------------------------
    def reader(self):
        from whoosh.index import FileIndex

        return FileIndex._reader(self.storage, self.schema, self.segments, self.generation)

    def searcher(self):
        from whoosh.searching import Searcher

        if self._searcher is None:
            self._searcher = Searcher(self.reader())
        return self._searcher

    def _locate(self, docnum: int) -> tuple[Any, int]:
        """(segment, number within it) of a committed document."""
        from bisect import bisect_right

        offsets = []
        base = 0
        for s in self.segments:
            offsets.append(base)
            base += s.doc_count_all()
        if not 0 <= docnum < base:
            raise ValueError(f"No document number {docnum} in this index")
        i = bisect_right(offsets, docnum) - 1
        return self.segments[i], docnum - offsets[i]

    def delete_document(self, docnum: int, delete: bool = True) -> None:
        """Mark a committed document deleted (Whoosh's own deletion set of its segment)."""
        self._check()
        segment, n = self._locate(docnum)
        segment.delete_document(n, delete=delete)

    def is_deleted(self, docnum: int) -> bool:
        """Whether a committed document is deleted (by an earlier commit or by this transaction)."""
        segment, n = self._locate(docnum)
        return segment.is_deleted(n)

    def delete_by_term(self, fieldname: str, text) -> int:
        """Delete the committed documents that have ``text`` in ``fieldname``; returns how many were live."""
        self._check()
        count = 0
        # The searcher's readers remember the deletions they were opened with: check each document.
        for docnum in self.searcher().document_numbers(**{fieldname: text}):
            if not self.is_deleted(docnum):
                self.delete_document(docnum)
                count += 1
        return count

    # -- adding -----------------------------------------------------------------------
    def add_document(self, **fields) -> None:
        self._check()
        self.builder.add(self.analyzer(fields))

    def start_group(self) -> None:
        """Records until ``end_group`` belong together (kept in one segment by ``ParallelBulkWriter``)."""

    def end_group(self) -> None:
        """See ``start_group``."""

    def add_record(self, record: Record) -> None:
        """Add a record from ``Analyzer`` (possibly run in another process)."""
        self._check()
        self.builder.add(record)

    def add_segment(self, segment) -> None:
        """Include a segment another process wrote with ``SegmentBuilder.write`` in this commit."""
        self._check()
        self.extra_segments.append(segment)

    def add_reader(self, reader) -> None:
        """Copy a segment's live documents into the new segment (used by Whoosh's merge policies)."""
        self._check()
        self.builder.add_reader(reader)

    # -- finishing --------------------------------------------------------------------
    def commit(self, merge: bool = True, optimize: bool = False, sync: bool = True, before_toc=None) -> None:
        """Write the new segment, then switch the index to it with one atomic TOC rename.

        ``merge`` merges small segments with Whoosh's ``MERGE_SMALL`` policy
        (as ``writer.commit()`` does); ``optimize`` merges everything.
        ``before_toc()`` runs when every new segment is written, just before
        the TOC (an exception there abandons the commit).
        """
        from whoosh.writing import MERGE_SMALL, NO_MERGE, OPTIMIZE

        self._check()
        try:
            policy = OPTIMIZE if optimize else (MERGE_SMALL if merge else NO_MERGE)
            self._close_searcher()
            segments = policy(self, list(self.segments))
            if len(self.builder):
                segments.append(self.builder.write(self.storage, self.indexname, sync=sync))
            segments.extend(self.extra_segments)
            if before_toc is not None:
                before_toc()
            write_toc(self.storage, self.indexname, self.schema, segments, self.generation, sync=sync)
            from whoosh.index import clean_files

            # The files of the previous commit's segments stay until the next commit: a reader that
            # has just read the previous TOC still opens them.
            clean_files(self.storage, self.indexname, self.generation, segments + self.base_segments)
        finally:
            self._finish()

    def cancel(self) -> None:
        """Abandon the transaction; files of segments it wrote are removed by the next commit."""
        self._check()
        self._finish()

    def _check(self) -> None:
        if self.is_closed:
            raise ValueError("This writer is closed")

    def _close_searcher(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def _finish(self) -> None:
        self._close_searcher()
        self.stats = self.builder.stats
        self.builder = SegmentBuilder(self.schema, self.block_stored)
        self.is_closed = True
        self.writelock.release()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.is_closed:
            return
        if exc_type:
            self.cancel()
        else:
            self.commit()


def write_toc(storage, indexname: str, schema, segments, generation: int, sync: bool = True) -> None:
    """Write generation ``generation``'s TOC as ``whoosh.index.TOC.write`` does, synced before the rename."""
    from whoosh import __version__
    from whoosh.index import _CURRENT_TOC_VERSION, TOC
    from whoosh.filedb.structfile import StructFile
    from whoosh.system import _FLOAT_SIZE, _INT_SIZE, _LONG_SIZE

    from whoosh.fields import ensure_schema

    schema = ensure_schema(schema)
    schema.clean()
    name = TOC._filename(indexname, generation)
    path = os.path.join(storage.folder, name)
    tmp = f"{path}.{time.time()}"
    raw = open(tmp, "wb")
    stream = StructFile(raw)
    stream.write_varint(_INT_SIZE)
    stream.write_varint(_LONG_SIZE)
    stream.write_varint(_FLOAT_SIZE)
    stream.write_int(-12345)
    stream.write_int(_CURRENT_TOC_VERSION)
    for num in __version__[:3]:
        stream.write_varint(num)
    stream.write_string(pickle.dumps(schema, 2))
    stream.write_int(generation)
    stream.write_int(0)
    stream.write_pickle(segments)
    raw.flush()
    if sync:
        os.fsync(raw.fileno())
    raw.close()
    os.replace(tmp, path)
    if sync:
        fd = os.open(storage.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
