"""Word documents (``.docx``): body paragraphs, heading styles, list numbers and tables.

The package is read with ``zipfile`` and lxml (no macro, network or entity
expansion), after its entries' sizes are checked, so a zip bomb or a
non-zip file is a skip reason, not a crash:

- Paragraph styles give sections: ``Title`` is the title, ``Heading 1``–``9``
  (or a style's or paragraph's outline level) are heading blocks of that level.
- Automatic numbering is rendered from ``numbering.xml`` (一、 （一） 1. …), so
  numbered headings give sections as they read.
- Tables become passages one row at a time; when the first row is a header,
  each row reads ``header：cell；header：cell``. A one-column table is read as
  paragraphs.
- Headers, footers, footnotes and comments live in other parts and are not
  read; deleted revisions and field codes are left out.
- Pages come from Word's rendered page breaks (``lastRenderedPageBreak``) and
  hard page breaks, when the file has them.
- The title and date come from the document (via ``kb.readers.cleaning``),
  else from its core properties (``dc:title``, ``dcterms:created``).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from ..text import has_cjk
from ..text.dates import normalize_date
from . import ReadResult, Source, document
from .cleaning import Line, tidy

__all__ = ["read", "safe_zip", "ZipProblem", "MAX_PART_BYTES", "MAX_TOTAL_BYTES"]

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
MAX_PART_BYTES = 64 * 1024 * 1024  # one XML part, uncompressed
MAX_TOTAL_BYTES = 256 * 1024 * 1024  # all parts read, uncompressed
MAX_RATIO = 200  # uncompressed / compressed, for parts over 1 MB: a zip bomb compresses far better
_HEADING_NAME = re.compile(r"^(?:heading|标题|見出し)\s*(\d)$", re.I)


class ZipProblem(Exception):
    """Raised by ``safe_zip`` with the reason an archive is not read."""


class _SafeZip:
    """A zip archive whose parts are read with their declared and actual sizes bounded."""

    def __init__(self, data: bytes):
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as e:
            raise ZipProblem(f"not a zip package ({e})") from None
        self.total = 0
        self.names = {i.filename: i for i in self.zf.infolist()}

    def has(self, name: str) -> bool:
        return name in self.names

    def read(self, name: str) -> bytes:
        info = self.names.get(name)
        if info is None:
            raise ZipProblem(f"the package has no {name}")
        if info.file_size > MAX_PART_BYTES:
            raise ZipProblem(f"{name} is {info.file_size} bytes uncompressed (the limit is {MAX_PART_BYTES})")
        if info.file_size > 1 << 20 and info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise ZipProblem(f"{name} expands {info.file_size // max(1, info.compress_size)}-fold: a zip bomb")
        if self.total + info.file_size > MAX_TOTAL_BYTES:
            raise ZipProblem(f"the package expands beyond {MAX_TOTAL_BYTES} bytes")
        try:
            with self.zf.open(info) as f:
                data = f.read(MAX_PART_BYTES + 1)  # the declared size may lie
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as e:
            raise ZipProblem(f"{name} cannot be read ({e})") from None
        if len(data) > MAX_PART_BYTES:
            raise ZipProblem(f"{name} expands beyond {MAX_PART_BYTES} bytes")
        self.total += len(data)
        return data


def safe_zip(data: bytes) -> _SafeZip:
    """The archive in ``data``, for bounded reads; raises ``ZipProblem``."""
    return _SafeZip(data)


def _xml(data: bytes):
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    return etree.fromstring(data, parser)


def read(source: Source) -> ReadResult:
    """The one document of a ``.docx`` file, or a skip reason."""
    try:
        z = safe_zip(source.data)
        if not z.has("word/document.xml"):
            return source.skip("not a Word document: the package has no word/document.xml")
        body_xml = _xml(z.read("word/document.xml"))
        styles = _styles(_xml(z.read("word/styles.xml"))) if z.has("word/styles.xml") else {}
        numbering = _Numbering(_xml(z.read("word/numbering.xml"))) if z.has("word/numbering.xml") else None
        core = _core(_xml(z.read("docProps/core.xml"))) if z.has("docProps/core.xml") else {}
    except ZipProblem as e:
        return source.skip(f"DOCX not read: {e}")
    except Exception as e:  # lxml's XMLSyntaxError and kin on damaged parts
        return source.skip(f"DOCX not read: damaged XML ({type(e).__name__})")
    body = body_xml.find(f"{W}body")
    if body is None:
        return source.skip("not a Word document: no document body")
    reader = _Body(styles, numbering)
    reader.walk(body)
    if not reader.parts:
        return source.skip("the Word document has no text")
    text = "\n".join(p[0] for p in reader.parts)
    lines: list[Line] = []
    pos = 0
    paged = reader.paged
    for s, kind, level, page, size in reader.parts:
        lines.append(Line(pos, pos + len(s), page=page if paged else 0, kind=kind if kind != "title" else "para",
                          level=level, size=size))
        pos += len(s) + 1
    title = " ".join(p[0] for p in reader.parts if p[1] == "title").strip()
    tidied = tidy(text, lines, find_title=not title, title=title)
    if not tidied.blocks:
        return source.skip("no body text in the Word document")
    fields: dict[str, Any] = {
        "title": title or tidied.title or _meaningful(core.get("title", "")),
        "date": tidied.date,
        "source": tidied.source,
        "editor": tidied.editor,
        "metadata": dict(tidied.metadata),
    }
    if not fields["date"] and core.get("created"):
        fields["date"] = normalize_date(core["created"][:10])
        fields["metadata"]["date_from"] = "core properties (created)"
    if core.get("creator"):
        fields["metadata"].setdefault("author", core["creator"])
    return ReadResult([document(source, fields, text, tidied.blocks, "docx")], [])


def _meaningful(title: str) -> str:
    t = title.strip()
    if len(t) < 4 or not has_cjk(t) or t.lower() in ("标题", "无标题", "title", "untitled"):
        return ""
    return t


def _core(root) -> dict[str, str]:
    out = {}
    for el in root:
        tag = el.tag.rsplit("}", 1)[-1]
        if tag in ("title", "created", "modified", "creator") and (el.text or "").strip():
            out[tag] = el.text.strip()
    return out


def _styles(root) -> dict[str, dict[str, Any]]:
    """styleId → {"name", "level" (heading level or 0), "title", "based"}."""
    out: dict[str, dict[str, Any]] = {}
    for st in root.iter(f"{W}style"):
        sid = st.get(f"{W}styleId")
        if not sid:
            continue
        name_el = st.find(f"{W}name")
        name = (name_el.get(f"{W}val") if name_el is not None else "") or ""
        level = 0
        m = _HEADING_NAME.match(name.strip())
        if m:
            level = int(m.group(1))
        ol = st.find(f"{W}pPr/{W}outlineLvl")
        if ol is not None and not level:
            try:
                v = int(ol.get(f"{W}val", "9"))
                level = v + 1 if 0 <= v <= 8 else 0
            except ValueError:
                pass
        based = st.find(f"{W}basedOn")
        num = st.find(f"{W}pPr/{W}numPr")
        numpr = None
        if num is not None:
            nid, il = num.find(f"{W}numId"), num.find(f"{W}ilvl")
            numpr = (nid.get(f"{W}val", "") if nid is not None else "", il.get(f"{W}val", "0") if il is not None else "0")
        out[sid] = {"name": name, "level": level, "title": name.strip().lower() in ("title", "标题"),
                    "based": based.get(f"{W}val") if based is not None else None, "numpr": numpr}
    # A style based on a heading style is a heading of that level.
    for sid, st in out.items():
        seen = {sid}
        cur = st
        while not cur["level"] and cur["based"] in out and cur["based"] not in seen:
            seen.add(cur["based"])
            cur = out[cur["based"]]
        if cur["level"] and not st["level"]:
            st["level"] = cur["level"]
    return out


_CN = "零一二三四五六七八九"


def _chinese(n: int) -> str:
    if n <= 0:
        return str(n)
    if n < 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n - 10] if n > 10 else "")
    if n < 100:
        return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")
    return str(n)


def _roman(n: int) -> str:
    vals = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
            (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for v, s in vals:
        while n >= v:
            out += s
            n -= v
    return out


def _format(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "chineseLegalSimplified", "ideographTraditional"):
        return _chinese(n)
    if fmt == "ideographDigital":
        return "".join(_CN[int(c)] if c != "0" else "〇" for c in str(n))
    if fmt in ("upperLetter", "lowerLetter"):
        s = chr(ord("A") + (n - 1) % 26)
        return s if fmt == "upperLetter" else s.lower()
    if fmt in ("upperRoman", "lowerRoman"):
        s = _roman(n)
        return s if fmt == "upperRoman" else s.lower()
    if fmt == "decimalEnclosedCircle" or fmt == "decimalEnclosedCircleChinese":
        return chr(0x2460 + n - 1) if 1 <= n <= 20 else str(n)
    if fmt == "bullet" or fmt == "none":
        return ""
    return str(n)


class _Numbering:
    """List numbers as Word renders them (numbering.xml), counted paragraph by paragraph."""

    def __init__(self, root):
        self.abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
        for an in root.iter(f"{W}abstractNum"):
            levels = {}
            for lvl in an.iter(f"{W}lvl"):
                try:
                    il = int(lvl.get(f"{W}ilvl", "0"))
                except ValueError:
                    continue
                fmt_el, text_el, start_el = lvl.find(f"{W}numFmt"), lvl.find(f"{W}lvlText"), lvl.find(f"{W}start")
                try:
                    start = int(start_el.get(f"{W}val", "1")) if start_el is not None else 1
                except ValueError:
                    start = 1
                levels[il] = (fmt_el.get(f"{W}val", "decimal") if fmt_el is not None else "decimal",
                              text_el.get(f"{W}val", "") if text_el is not None else "", start)
            self.abstract[an.get(f"{W}abstractNumId", "")] = levels
        self.num: dict[str, str] = {}
        for num in root.iter(f"{W}num"):
            ref = num.find(f"{W}abstractNumId")
            if ref is not None:
                self.num[num.get(f"{W}numId", "")] = ref.get(f"{W}val", "")
        self.counters: dict[str, list[int]] = {}

    def label(self, num_id: str, ilvl: int) -> str:
        levels = self.abstract.get(self.num.get(num_id, ""), {})
        if ilvl not in levels or num_id in ("", "0"):
            return ""
        key = self.num.get(num_id, "")
        counts = self.counters.setdefault(key, [0] * 10)
        ilvl = max(0, min(ilvl, 9))
        counts[ilvl] += 1
        for deeper in range(ilvl + 1, 10):
            counts[deeper] = 0
        fmt, text, _start = levels[ilvl]
        if fmt in ("bullet", "none"):
            return ""

        def value(k: int) -> str:
            lv = levels.get(k, ("decimal", "", 1))
            n = counts[k] + lv[2] - 1 if counts[k] else lv[2]
            return _format(n, lv[0])

        return re.sub(r"%(\d)", lambda m: value(int(m.group(1)) - 1), text)


class _Body:
    """Walks ``w:body``: (text, kind, level, page, size) for each paragraph, heading and table row."""

    def __init__(self, styles, numbering):
        self.styles = styles
        self.numbering = numbering
        self.parts: list[tuple[str, str, int, int, float]] = []
        self.page = 1
        self.paged = False
        self.chars = 0

    def walk(self, body) -> None:
        for el in body:
            if self.chars > 20_000_000:
                break
            if el.tag == f"{W}p":
                self.paragraph(el)
            elif el.tag == f"{W}tbl":
                self.table(el)
            elif el.tag == f"{W}sdt":  # a content control (a cover page, a table of contents) holds paragraphs
                content = el.find(f"{W}sdtContent")
                if content is not None:
                    self.walk(content)

    def _runs_text(self, p) -> tuple[str, float]:
        out: list[str] = []
        size = 0.0
        in_field_code = 0
        for el in p.iter():
            tag = el.tag
            if not isinstance(tag, str):
                continue
            if tag == f"{W}fldChar":
                kind = el.get(f"{W}fldCharType")
                if kind == "begin":
                    in_field_code += 1
                elif kind == "separate" and in_field_code:
                    in_field_code -= 1
                continue
            if tag == f"{W}t":
                if not in_field_code and not _inside(el, (f"{W}del", f"{MC}Fallback", f"{W}txbxContent")):
                    out.append(el.text or "")
            elif tag == f"{W}tab":
                if not _inside(el, (f"{W}pPr", f"{W}del")):
                    out.append("\t")
            elif tag == f"{W}br":
                if el.get(f"{W}type") == "page":
                    self.page += 1
                    self.paged = True
                else:
                    out.append("\n")
            elif tag == f"{W}lastRenderedPageBreak":
                self.page += 1
                self.paged = True
            elif tag == f"{W}sz" and el.getparent() is not None and el.getparent().tag == f"{W}rPr":
                try:
                    size = max(size, int(el.get(f"{W}val", "0")) / 2)
                except ValueError:
                    pass
        return "".join(out), size

    def paragraph(self, p, *, in_table: bool = False) -> str:
        page = self.page
        text, size = self._runs_text(p)
        if page != self.page and not text[: 1].strip():
            page = self.page  # the break came before the paragraph's text
        ppr = p.find(f"{W}pPr")
        style = {}
        level = 0
        label = ""
        if ppr is not None:
            ps = ppr.find(f"{W}pStyle")
            if ps is not None:
                style = self.styles.get(ps.get(f"{W}val", ""), {})
                level = style.get("level", 0)
            ol = ppr.find(f"{W}outlineLvl")
            if ol is not None:
                try:
                    v = int(ol.get(f"{W}val", "9"))
                    level = v + 1 if 0 <= v <= 8 else level
                except ValueError:
                    pass
            num = ppr.find(f"{W}numPr")
            numpr = style.get("numpr")  # a list style (List Number) numbers its paragraphs
            if num is not None:
                nid, il = num.find(f"{W}numId"), num.find(f"{W}ilvl")
                numpr = (nid.get(f"{W}val", "") if nid is not None else (numpr or ("", "0"))[0],
                         il.get(f"{W}val", "0") if il is not None else (numpr or ("", "0"))[1])
            if numpr is not None and self.numbering is not None:
                try:
                    label = self.numbering.label(numpr[0], int(numpr[1]))
                except ValueError:
                    label = ""
        # A line break inside a sentence (a heading broken to fit) joins; after a sentence it stays a line.
        text = re.sub(r"(?<![。！？；：!?;:])\n(?=\S)", "", text).strip()
        if not text:
            return ""
        if label:
            text = label + ("" if label.endswith(("、", "）", ")", " ", "\t")) else " ") + text
        if in_table:
            return text
        self.chars += len(text)
        if style.get("title"):
            self.parts.append((" ".join(text.split()), "title", 0, page, size))
        elif level:
            self.parts.append((" ".join(text.split()), "heading", level, page, size))
        else:
            # Line breaks inside a paragraph stay: each line is classified (a heading by its wording) by chunking.
            for k, ln in enumerate(t for t in text.split("\n")):
                if ln.strip():
                    self.parts.append((ln.strip(), "para", 0, page, size))
        return text

    def _cell_text(self, tc) -> str:
        texts = []
        for el in tc:
            if el.tag == f"{W}p":
                t = self.paragraph(el, in_table=True)
                if t:
                    texts.append(" ".join(t.split()))
            elif el.tag == f"{W}tbl":
                for tr in el.iter(f"{W}tr"):
                    row = [self._cell_text(c) for c in tr.findall(f"{W}tc")]
                    texts.append(" ".join(c for c in row if c))
        return " ".join(texts).strip()

    def table(self, tbl) -> None:
        rows: list[list[str]] = []
        above: dict[int, str] = {}
        for tr in tbl.findall(f"{W}tr"):
            row: list[str] = []
            col = 0
            for tc in tr.findall(f"{W}tc"):
                tcpr = tc.find(f"{W}tcPr")
                span = 1
                merged_on = False
                if tcpr is not None:
                    gs = tcpr.find(f"{W}gridSpan")
                    if gs is not None:
                        try:
                            span = max(1, int(gs.get(f"{W}val", "1")))
                        except ValueError:
                            span = 1
                    vm = tcpr.find(f"{W}vMerge")
                    merged_on = vm is not None and vm.get(f"{W}val", "continue") != "restart"
                value = self._cell_text(tc)
                if merged_on and not value:
                    value = above.get(col, "")  # a cell merged with the one above repeats its text
                above[col] = value
                row.append(value)
                col += span
            if any(row):
                rows.append(row)
        if not rows:
            return
        width = max(len(r) for r in rows)
        if width == 1:
            for r in rows:  # a one-column table is a layout box: its cells are paragraphs
                for ln in r[0].split("\n"):
                    if ln.strip():
                        self.parts.append((ln.strip(), "para", 0, self.page, 0.0))
            return
        header = rows[0]
        has_header = len(rows) > 1 and all(0 < len(c) <= 16 for c in header)
        start = 0
        if has_header:
            self.parts.append((" | ".join(header), "table", 0, self.page, 0.0))
            start = 1
        for r in rows[start:]:
            if has_header:
                cells = [f"{h}：{c}" if h else c for h, c in zip(header + [""] * (len(r) - len(header)), r) if c]
                s = "；".join(cells)
            else:
                s = " | ".join(c for c in r if c)
            s = " ".join(s.split())
            if s:
                self.chars += len(s)
                self.parts.append((s, "table", 0, self.page, 0.0))


def _inside(el, tags: tuple[str, ...]) -> bool:
    parent = el.getparent()
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.getparent()
    return False
