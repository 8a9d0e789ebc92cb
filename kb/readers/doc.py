"""Old Word (``.doc``) and WPS 文字 (``.wps``) files: the Word 97–2003 binary format's main text.

Both are OLE compound files (read with olefile) holding a ``WordDocument``
stream; WPS Office writes its ``.wps`` in the same layout. The text is
assembled from the piece table (the ``Clx`` in the ``0Table``/``1Table``
stream): each piece is either UTF-16 or 8-bit (cp1252) text. Only the main
document (the first ``ccpText`` characters) is read, so headers, footers,
footnotes and comments are left out; field codes are dropped and their
results kept. Paragraph styles are not decoded: headings are found by their
wording (一、 第X条 …), as for plain text.

A file that is not such a compound file (an RTF or HTML file saved as .doc,
a WPS 2000-era file), or that is encrypted, is skipped with a reason that
says what to convert it to.
"""

from __future__ import annotations

import io
import re
import struct

from . import ReadResult, Source, document
from .cleaning import tidy
from .plaintext import text_lines

__all__ = ["read", "word97_text"]

CONVERT = "save it as .docx (or PDF) to index it"
MAX_CHARS = 20_000_000


class _Unreadable(Exception):
    pass


def read(source: Source) -> ReadResult:
    """The one document of a ``.doc``/``.wps`` file, or a skip reason."""
    kind = "WPS" if source.path.suffix.lower() == ".wps" else "Word 97-2003"
    data = source.data
    if data.lstrip()[:5].lower() == b"{\\rtf":
        # Many .doc files on government sites are RTF; its text is not read here.
        return source.skip(f"an RTF file named .doc: {CONVERT}")
    if data.lstrip()[:1] == b"<":
        return source.skip(f"an HTML or XML file named {source.path.suffix}: save it as .html or .docx to index it")
    try:
        text = word97_text(data)
    except _Unreadable as e:
        return source.skip(f"{kind} file not read: {e}; {CONVERT}")
    except Exception as e:  # olefile and struct raise many kinds on damaged files
        return source.skip(f"{kind} file not read ({type(e).__name__}); {CONVERT}")
    if not text.strip():
        return source.skip(f"the {kind} file has no text")
    lines = text_lines(text)
    tidied = tidy(text, lines, find_title=True)
    if not tidied.blocks:
        return source.skip(f"no body text in the {kind} file")
    fields = {"title": tidied.title, "date": tidied.date, "source": tidied.source, "editor": tidied.editor,
              "metadata": dict(tidied.metadata)}
    return ReadResult([document(source, fields, text, tidied.blocks, source.path.suffix.lower().lstrip("."))], [])


def word97_text(data: bytes) -> str:
    """The main text of a Word 97–2003 binary document, one paragraph a line."""
    import olefile

    if not olefile.isOleFile(io.BytesIO(data)):
        raise _Unreadable("not an OLE compound file (an older or a different format)")
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        if not ole.exists("WordDocument"):
            raise _Unreadable("no WordDocument stream")
        wd = ole.openstream("WordDocument").read()
        if len(wd) < 0x200:
            raise _Unreadable("the WordDocument stream is truncated")
        ident, = struct.unpack_from("<H", wd, 0)
        if ident != 0xA5EC:
            raise _Unreadable("not a Word 97 or later document (an older Word or WPS version)")
        flags, = struct.unpack_from("<H", wd, 0x0A)
        if flags & 0x0100:
            raise _Unreadable("encrypted (password protected)")
        table = "1Table" if flags & 0x0200 else "0Table"
        if not ole.exists(table):
            raise _Unreadable(f"no {table} stream")
        tbl = ole.openstream(table).read()
    pos = 32
    csw, = struct.unpack_from("<H", wd, pos)
    pos += 2 + csw * 2
    cslw, = struct.unpack_from("<H", wd, pos)
    rg_lw = pos + 2
    ccp_text, = struct.unpack_from("<i", wd, rg_lw + 12)
    pos = rg_lw + cslw * 4
    cb_fclcb, = struct.unpack_from("<H", wd, pos)
    rg_fclcb = pos + 2
    if cb_fclcb < 34:
        raise _Unreadable("the file information block is too short")
    fc_clx, lcb_clx = struct.unpack_from("<II", wd, rg_fclcb + 33 * 8)
    if lcb_clx == 0 or fc_clx + lcb_clx > len(tbl):
        raise _Unreadable("no piece table")
    clx = tbl[fc_clx:fc_clx + lcb_clx]
    i = 0
    while i < len(clx) and clx[i] == 0x01:  # Prc entries (formatting) before the piece table
        cb, = struct.unpack_from("<H", clx, i + 1)
        i += 3 + cb
    if i >= len(clx) or clx[i] != 0x02:
        raise _Unreadable("damaged piece table")
    lcb, = struct.unpack_from("<I", clx, i + 1)
    plc = clx[i + 5:i + 5 + lcb]
    n = (len(plc) - 4) // 12
    if n <= 0:
        raise _Unreadable("empty piece table")
    cps = struct.unpack_from(f"<{n + 1}i", plc, 0)
    out: list[str] = []
    total = 0
    limit = min(max(ccp_text, 0), MAX_CHARS) if ccp_text > 0 else MAX_CHARS
    for k in range(n):
        start, end = cps[k], cps[k + 1]
        if start >= limit:
            break
        end = min(end, limit)
        count = end - start
        if count <= 0:
            continue
        fc, = struct.unpack_from("<I", plc, (n + 1) * 4 + k * 8 + 2)
        if fc & 0x40000000:
            off = (fc & 0x3FFFFFFF) // 2
            piece = wd[off:off + count].decode("cp1252", errors="replace")
        else:
            piece = wd[fc:fc + count * 2].decode("utf-16-le", errors="replace")
        out.append(piece)
        total += len(piece)
        if total > MAX_CHARS:
            break
    return _clean("".join(out))


_FIELD = re.compile(r"\x13[^\x13\x14\x15]*\x14([^\x13\x14\x15]*)\x15|\x13[^\x13\x14\x15]*\x15")


def _clean(raw: str) -> str:
    """Word's control characters → text: fields keep their result, cells and paragraphs end lines."""
    text = raw
    for _ in range(4):  # nested fields, innermost first
        new = _FIELD.sub(lambda m: m.group(1) or "", text)
        if new == text:
            break
        text = new
    text = text.replace("\r", "\n").replace("\x07", "\n").replace("\x0b", "\n").replace("\x0c", "\n")
    text = re.sub(r"[\x00-\x08\x0e-\x1f\ufffe\uffff]", "", text)
    return text
