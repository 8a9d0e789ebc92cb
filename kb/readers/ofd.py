"""OFD (``.ofd``, GB/T 33190, China's format for electronic official documents): the pages' text.

An OFD file is a zip of XML parts (read with the size checks of the DOCX
reader). ``OFD.xml`` names each document's root; its ``Document.xml`` lists the
pages; each page's ``Content.xml`` holds ``TextObject``s whose ``TextCode``
runs carry the characters and their positions (``Boundary``, ``X``, ``Y``,
``DeltaX``). Runs are put on lines by their baseline and joined left to right
without separators (a run may be a single digit of 2023), and lines are
joined into paragraphs by the PDF reader's geometry rules, so running
headers, page numbers (— 1 —) and headings are handled the same way.
Signatures, seals and annotations are not text and are not read. An OFD
whose pages are images only (a scan) is skipped with the PDF reader's reason.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from . import ReadResult, Source, document
from .cleaning import tidy
from .docx import ZipProblem, _xml, safe_zip
from .pdf import NO_TEXT_LAYER, _paragraphs, _PLine

__all__ = ["read"]

MAX_PAGES = 3000
_DELTA = re.compile(r"g\s+(\d+)\s+([-\d.]+)|([-\d.]+)")


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el, name: str):
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _floats(s: str | None) -> list[float]:
    out = []
    for x in (s or "").split():
        try:
            out.append(float(x))
        except ValueError:
            return []
    return out


def _deltas(s: str | None) -> list[float]:
    """DeltaX values, with OFD's ``g N v`` shorthand (N times v) expanded."""
    out: list[float] = []
    for m in _DELTA.finditer(s or ""):
        try:
            if m.group(1):
                out.extend([float(m.group(2))] * min(int(m.group(1)), 10000))
            else:
                out.append(float(m.group(3)))
        except ValueError:
            break
    return out


def read(source: Source) -> ReadResult:
    """The documents of an OFD file (usually one), or a skip reason."""
    try:
        z = safe_zip(source.data)
        if not z.has("OFD.xml"):
            return source.skip("not an OFD package: it has no OFD.xml; export it as PDF to index it")
        root = _xml(z.read("OFD.xml"))
        docs = []
        for body in root.iter():
            if _local(body.tag) != "DocBody":
                continue
            info = _child(body, "DocInfo")
            doc_root = _child(body, "DocRoot")
            if doc_root is None or not (doc_root.text or "").strip():
                continue
            docs.append((info, (doc_root.text or "").strip().lstrip("/")))
        if not docs:
            return source.skip("the OFD package names no document")
        out = []
        for n, (info, doc_path) in enumerate(docs):
            pages = _pages(z, doc_path)
            text, lines = _paragraphs(pages) if pages else ("", [])
            if not text.strip():
                continue
            tidied = tidy(text, lines, find_title=True)
            if not tidied.blocks:
                continue
            meta: dict[str, Any] = dict(tidied.metadata)
            meta["pages"] = len(pages)
            title = tidied.title
            date = tidied.date
            if info is not None:
                t = _child(info, "Title")
                if not title and t is not None and (t.text or "").strip():
                    title = t.text.strip()
            fields = {"title": title, "date": date, "source": tidied.source, "editor": tidied.editor,
                      "metadata": meta}
            if len(docs) > 1:
                fields["id"] = f"{source.doc_id}#doc{n + 1}"
            out.append(document(source, fields, text, tidied.blocks, "ofd"))
    except ZipProblem as e:
        return source.skip(f"OFD not read: {e}")
    except Exception as e:  # lxml and float parsing on damaged parts
        return source.skip(f"OFD not read: damaged package ({type(e).__name__})")
    if not out:
        return source.skip(NO_TEXT_LAYER)
    return ReadResult(out, [])


def _pages(z, doc_path: str) -> list[list[_PLine]]:
    base = posixpath.dirname(doc_path)
    doc = _xml(z.read(doc_path))
    default_box = [0.0, 0.0, 210.0, 297.0]
    for el in doc.iter():
        if _local(el.tag) == "PhysicalBox":
            box = _floats(el.text)
            if len(box) == 4:
                default_box = box
            break
    page_locs = []
    for el in doc.iter():
        if _local(el.tag) == "Page" and el.get("BaseLoc"):
            page_locs.append(el.get("BaseLoc"))
    pages: list[list[_PLine]] = []
    for k, loc in enumerate(page_locs[:MAX_PAGES]):
        path = posixpath.normpath(posixpath.join(base, loc.lstrip("/"))) if not loc.startswith("/") else loc.lstrip("/")
        if not z.has(path):
            pages.append([])
            continue
        page = _xml(z.read(path))
        box = default_box
        for el in page.iter():
            if _local(el.tag) == "PhysicalBox":
                b = _floats(el.text)
                if len(b) == 4:
                    box = b
                break
        pages.append(_page_lines(page, k + 1, box[3] or 297.0))
    return pages


def _page_lines(page, page_no: int, height: float) -> list[_PLine]:
    """Text runs of one page grouped into lines by baseline, left to right."""
    runs: list[tuple[float, float, float, float, str]] = []  # (baseline, x0, x1, size, text)
    for obj in page.iter():
        if _local(obj.tag) != "TextObject":
            continue
        bound = _floats(obj.get("Boundary"))
        if len(bound) != 4:
            continue
        size = _floats(obj.get("Size")) or [3.5]
        for code in obj:
            if _local(code.tag) != "TextCode" or not code.text:
                continue
            x = _floats(code.get("X")) or [0.0]
            y = _floats(code.get("Y")) or [0.0]
            deltas = _deltas(code.get("DeltaX"))
            x0 = bound[0] + x[0]
            width = sum(deltas[: max(0, len(code.text) - 1)]) + size[0]
            runs.append((bound[1] + y[0], x0, x0 + width, size[0], code.text))
    runs.sort(key=lambda r: (round(r[0] / max(r[3] * 0.5, 0.5)), r[1]))
    lines: list[_PLine] = []
    cur: list[tuple[float, float, float, float, str]] = []

    def flush() -> None:
        if not cur:
            return
        cur.sort(key=lambda r: r[1])
        parts = [cur[0][4]]
        for prev, nxt in zip(cur, cur[1:]):
            gap = nxt[1] - prev[2]
            # Runs of one line join as they are; a wide gap (a tab stop, a signature block) is a space.
            parts.append((" " if gap > 2 * max(prev[3], nxt[3]) else "") + nxt[4])
        text = "".join(parts).strip()
        if text:
            size = max(r[3] for r in cur)
            base = cur[0][0]
            lines.append(_PLine(text, min(r[1] for r in cur), max(r[2] for r in cur),
                                1 - base / height, 1 - (base - size) / height, page_no, size))
        cur.clear()

    for r in runs:
        if cur and abs(r[0] - cur[0][0]) > 0.5 * min(r[3], cur[0][3]):
            flush()
        cur.append(r)
    flush()
    return lines
