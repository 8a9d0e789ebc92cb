"""PDF (``.pdf``): the text layer, read with pypdfium2 (PDFium; Apache-2.0/BSD), one page at a time.

What a PDF gives:

- Lines are joined back into paragraphs from their geometry: a line that
  reaches the column's right edge continues on the next line, and across the
  page break; a short line, an indented line, a change of type size, a wide
  vertical gap, or a heading's wording (第X条, 一、) after a finished sentence
  starts a new paragraph. Chinese has no hyphenation, so lines join without a
  space (Latin words get one).
- Running headers and footers (a line at the top or bottom of the page that
  repeats, digits aside, on many pages) and page numbers (``- 3 -``,
  ``第 3 页``, ``— 1012 —``) are removed.
- Spaces PDFium inserts between ideographs for justified text are dropped;
  look-alike code points (⽉ for 月) stay in the text and are matched as the
  common character (``kb.text.normalize``).
- Every block knows its 1-based page.
- The title is the largest type at the top of the first page (else a
  meaningful ``Title`` in the PDF's metadata); the 发文字号, the issuing body
  and the date come from the document's front matter and signature
  (``kb.readers.cleaning``).
- A PDF without a text layer (scanned pages) is skipped with a reason; so is
  an encrypted, damaged or empty one. Pages are read one by one, and at most
  ``MAX_PAGES`` pages and ``MAX_CHARS`` characters are read from one file.
- Optional OCR: with the ``ocr`` extra installed (``pip install 'kb[ocr]'``:
  RapidOCR's PP-OCR Chinese models on onnxruntime, shipped inside the package,
  no network), pages without a text layer are rendered and recognised, at most
  ``MAX_OCR_PAGES`` a file. It is slow (seconds per page) and large (about
  430 MB installed), so it is not installed by default.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from statistics import median
from typing import Any

from ..text import is_cjk, normalize
from . import ReadResult, Source, document
from .cleaning import Line, clean_title, is_furniture, tidy

__all__ = ["read", "MAX_PAGES", "MAX_CHARS", "pdf_pages"]

MAX_PAGES = 3000
MAX_CHARS = 5_000_000
MAX_OCR_PAGES = 50
NO_TEXT_LAYER = "no text layer: scanned pages are not searchable"
OCR_HINT = " (install kb[ocr] to recognise them)"
_BAND = 0.11  # the top and bottom of a page where running headers, footers and page numbers sit
_DIGITS = re.compile(r"[0-9０-９〇一二三四五六七八九十百]+")
_HEADING_START = re.compile(
    r"^(?:第[一二三四五六七八九十百千零〇\d]+[编章节条]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[）)]"
    r"|\d{1,2}[.．、](?!\d)|附\s*件|目\s*录)"
)
_SENTENCE_DONE = "。！？；：!?;:”」』）)"


@dataclass
class _PLine:
    text: str
    x0: float
    x1: float
    y0: float  # bottom
    y1: float  # top
    page: int
    height: float
    h: float = 0.0  # the type size used for comparisons (at least 1)

    def __post_init__(self) -> None:
        self.h = max(self.height, 1.0)


def read(source: Source) -> ReadResult:
    """The one document of a PDF file, or a skip reason."""
    try:
        import pypdfium2 as pdfium
    except ImportError as e:  # pragma: no cover - declared dependency
        return source.skip(f"PDF support is not installed ({e}); reinstall kb with pip")
    try:
        pdf = pdfium.PdfDocument(source.data)
    except pdfium.PdfiumError as e:
        msg = str(e).lower()
        if "password" in msg:
            return source.skip("encrypted PDF: it needs a password; save an unencrypted copy to index it")
        return source.skip(f"not a readable PDF ({str(e).strip().rstrip('.')}); it may be damaged or truncated")
    except Exception as e:  # anything PDFium's loader raises on hostile bytes
        return source.skip(f"not a readable PDF ({type(e).__name__})")
    ocr_pages = 0
    try:
        n_pages = len(pdf)
        if n_pages == 0:
            return source.skip("the PDF has no pages")
        pages, truncated = pdf_pages(pdf)
        meta = _metadata(pdf)
        engine = _ocr_engine()
        if engine is not None:
            for k, lines in enumerate(pages):
                if ocr_pages >= MAX_OCR_PAGES:
                    break
                if sum(len(ln.text.strip()) for ln in lines) < 20:
                    pages[k] = _ocr_page(engine, pdf, k) or lines
                    ocr_pages += 1
    except Exception as e:  # a page PDFium cannot parse stops the file, not the run
        return source.skip(f"the PDF could not be read ({type(e).__name__})")
    finally:
        pdf.close()
    n_text = sum(1 for p in pages if sum(len(ln.text.strip()) for ln in p) >= 20)
    hint = "" if _ocr_engine() is not None else OCR_HINT
    if n_text == 0:
        return source.skip(NO_TEXT_LAYER + hint)
    text, lines = _paragraphs(pages)
    if not text.strip():
        return source.skip(NO_TEXT_LAYER + hint)
    tidied = tidy(text, lines, find_title=True)
    if not tidied.blocks:
        return source.skip("no body text in the PDF's text layer")
    title = tidied.title or _meaningful_title(meta.get("Title", ""))
    metadata: dict[str, Any] = dict(tidied.metadata)
    metadata["pages"] = n_pages
    scanned = len(pages) - n_text
    if scanned:
        metadata["pages_without_text"] = scanned  # scanned pages inside a born-digital file (a stamped cover letter)
    if truncated:
        metadata["truncated"] = f"read the first {len(pages)} pages"
    if ocr_pages:
        metadata["ocr_pages"] = ocr_pages
    fields = {"title": title, "date": tidied.date, "source": tidied.source, "editor": tidied.editor,
              "metadata": metadata}
    return ReadResult([document(source, fields, text, tidied.blocks, "pdf")], [])


def _metadata(pdf) -> dict[str, str]:
    try:
        return {k: (v or "").strip() for k, v in pdf.get_metadata_dict().items()}
    except Exception:  # metadata is a nicety; a broken Info dictionary is not a reason to skip
        return {}


_PLACEHOLDER = re.compile(r"^(?:标题|无标题|作者|title|untitled|document|文档\d*|新建.*文档.*|microsoft word|wps.*|\W*)$", re.I)


def _meaningful_title(title: str) -> str:
    """The metadata title when it names the document (not 标题, a file name, or an editor's boilerplate)."""
    t = re.sub(r"^Microsoft (?:Word|PowerPoint|Excel) - ", "", title.strip())
    t = re.sub(r"\.(?:docx?|wps|pdf|txt|xlsx?|pptx?)$", "", t, flags=re.I).strip()
    if not t or _PLACEHOLDER.match(t) or not any(is_cjk(c) for c in t) or len(t) < 4:
        return ""
    return clean_title(t)


# --- optional OCR ----------------------------------------------------------------------------------------

_ocr_lock = threading.Lock()
_ocr: Any = None  # None: not looked for yet; False: not installed


def _ocr_engine():
    """RapidOCR's engine when the ``ocr`` extra is installed (loaded once), else None."""
    global _ocr
    if _ocr is None:
        with _ocr_lock:
            if _ocr is None:
                try:
                    from rapidocr_onnxruntime import RapidOCR

                    _ocr = RapidOCR()
                except Exception:  # not installed, or its runtime cannot load here
                    _ocr = False
    return _ocr or None


def _ocr_page(engine, pdf, k: int, scale: float = 2.0) -> list[_PLine]:
    """The lines OCR reads on page ``k`` (rendered at ``scale``), in the text layer's coordinates."""
    page = pdf[k]
    try:
        height = page.get_height()
        image = page.render(scale=scale).to_numpy()
    finally:
        page.close()
    with _ocr_lock:  # one recognition at a time: onnxruntime already uses every core
        result, _elapsed = engine(image)
    out = []
    for box, text, _score in result or []:
        xs = [pt[0] / scale for pt in box]
        ys = [pt[1] / scale for pt in box]
        text = _close_letter_spacing(str(text)).strip()
        if not text:
            continue
        top, bottom = min(ys), max(ys)
        out.append(_PLine(text, min(xs), max(xs), 1 - bottom / height, 1 - top / height, k + 1, bottom - top))
    return out


# --- pages → lines ---------------------------------------------------------------------------------------


def pdf_pages(pdf) -> tuple[list[list[_PLine]], bool]:
    """The text lines of each page, in the text layer's order, with their boxes; True when pages were left unread."""
    out: list[list[_PLine]] = []
    chars = 0
    n = len(pdf)
    for i in range(min(n, MAX_PAGES)):
        page = pdf[i]
        try:
            height = page.get_height()
            tp = page.get_textpage()
            try:
                out.append(_page_lines(tp, i + 1, height))
            finally:
                tp.close()
        finally:
            page.close()
        chars += sum(len(ln.text) for ln in out[-1])
        if chars > MAX_CHARS:
            return out, True
    return out, n > MAX_PAGES


def _page_lines(tp, page_no: int, page_height: float) -> list[_PLine]:
    text = tp.get_text_range()
    lines: list[_PLine] = []
    buf: list[str] = []
    boxes: list[tuple[float, float, float, float]] = []
    box_chars: list[str] = []

    def flush() -> None:
        if not boxes:
            buf.clear()
            return
        line = _close_letter_spacing("".join(buf)).strip()
        if line:
            x0 = min(b[0] for b in boxes)
            x1 = max(b[2] for b in boxes)
            y0 = min(b[1] for b in boxes)
            y1 = max(b[3] for b in boxes)
            # The type size: the height of the tallest ideographs (一 and punctuation are flat), else of any
            # glyph. Fonts without glyph boxes (a non-embedded CID font) give flat boxes: then widths do.
            sample = [b for b, ch in zip(boxes, box_chars) if is_cjk(ch)] or boxes
            hs = sorted(b[3] - b[1] for b in sample)
            h = hs[int(len(hs) * 0.8)]
            if h < 1.0:
                ws = sorted(b[2] - b[0] for b in sample)
                h = ws[int(len(ws) * 0.8)]
            lines.append(_PLine(line, x0, x1, y0, y1, page_no, h))
        buf.clear()
        boxes.clear()
        box_chars.clear()

    # PDFium's C call with reused out-parameters: the per-character wrapper costs more than the call.
    import ctypes

    import pypdfium2.raw as pdfium_c

    get_box = pdfium_c.FPDFText_GetCharBox
    raw_tp = tp.raw
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    left_p, right_p, bottom_p, top_p = (ctypes.byref(v) for v in (left, right, bottom, top))
    for idx, ch in enumerate(text):
        if ch == "\n":
            flush()
            continue
        if ch == "\r":
            continue
        buf.append(ch)
        if not ch.isspace() and ch not in "\ufffe\uffff":
            if not get_box(raw_tp, idx, left_p, right_p, bottom_p, top_p):
                continue
            box = (left.value, bottom.value, right.value, top.value)
            if box[2] >= box[0] and box[3] >= box[1]:
                boxes.append(box)
                box_chars.append(ch)
    flush()
    for ln in lines:
        ln.y0 = ln.y0 / page_height if page_height else 0.0
        ln.y1 = ln.y1 / page_height if page_height else 0.0
    return lines


_LETTER_SPACED = re.compile(r"(?<![^\s])(?:[\u2e80-\u2fdf\u3400-\u9fff][ \u3000]+){3,}[\u2e80-\u2fdf\u3400-\u9fff](?![^\s])")


def _close_letter_spacing(line: str) -> str:
    """A run of four or more single ideographs set apart by spaces (justified or spaced-out text) closed up."""
    return _LETTER_SPACED.sub(lambda m: "".join(m.group(0).split()), line)


# --- lines → paragraphs ----------------------------------------------------------------------------------


def _furniture_keys(pages: list[list[_PLine]]) -> set[tuple[str, str]]:
    """Running headers and footers: (band, line with digits masked) found on many pages."""
    counts: dict[tuple[str, str], int] = {}
    for lines in pages:
        seen = set()
        for ln in lines:
            band = _band(ln)
            if band:
                seen.add((band, _mask(ln.text)))
        for key in seen:
            counts[key] = counts.get(key, 0) + 1
    n = len(pages)
    need = 2 if n <= 3 else max(3, int(n * 0.3))
    return {k for k, c in counts.items() if c >= need and k[1]}


def _band(ln: _PLine) -> str:
    if ln.y0 >= 1 - _BAND:
        return "top"
    if ln.y1 <= _BAND:
        return "bottom"
    return ""


def _mask(s: str) -> str:
    return _DIGITS.sub("#", "".join(normalize(s).split()))


def _paragraphs(pages: list[list[_PLine]]) -> tuple[str, list[Line]]:
    """The document text (one paragraph a line) and a ``Line`` for each paragraph."""
    running = _furniture_keys(pages)
    body: list[_PLine] = []
    for lines in pages:
        for k, ln in enumerate(lines):
            band = _band(ln)
            if band and (band, _mask(ln.text)) in running:
                continue
            edge = k < 3 or k >= len(lines) - 3
            if (band or edge) and is_furniture(ln.text) == "page number":
                continue
            body.append(ln)
    if not body:
        return "", []
    heights = [ln.h for ln in body if len(ln.text) >= 8] or [ln.h for ln in body]
    body_h = median(heights)
    edges = [_edges(body, k) for k in range(len(body))]
    paras: list[list[_PLine]] = []
    for k, ln in enumerate(body):
        if paras and not _breaks(body, k, body_h, edges):
            paras[-1].append(ln)
        else:
            paras.append([ln])
    # Small type before the first and after the last line of body type is a web page's chrome
    # (a site bar, a metadata table, a footer) printed with the article: metadata at most, never a passage.
    def small(para: list[_PLine]) -> bool:
        return max(ln.h for ln in para) < 0.85 * body_h
    lead = 0
    while lead < len(paras) and small(paras[lead]):
        lead += 1
    trail = len(paras)
    while trail > lead and small(paras[trail - 1]):
        trail -= 1
    parts: list[str] = []
    out: list[Line] = []
    pos = 0
    for n, para in enumerate(paras):
        s = para[0].text
        for ln in para[1:]:
            a, b = s[-1:], ln.text[:1]
            s += (" " if a.isascii() and a.isalnum() and b.isascii() and b.isalnum() else "") + ln.text
        parts.append(s)
        out.append(Line(pos, pos + len(s), page=para[0].page, size=max(ln.h for ln in para),
                        chrome=n < lead or n >= trail))
        pos += len(s) + 1
    return "\n".join(parts), out


def _edges(body: list[_PLine], k: int) -> tuple[float, float]:
    """The left and right edge of ``body[k]``'s column: over the lines near it on its page whose spans overlap it."""
    ln = body[k]
    left, right = ln.x0, ln.x1
    width = ln.x1 - ln.x0
    for j in range(max(0, k - 8), min(len(body), k + 9)):
        o = body[j]
        if j == k or o.page != ln.page or abs(o.h - ln.h) > 0.3 * ln.h:
            continue
        overlap = min(o.x1, ln.x1) - max(o.x0, ln.x0)
        if overlap > 0.3 * min(o.x1 - o.x0, width):
            left = min(left, o.x0)
            right = max(right, o.x1)
    return left, right


def _breaks(body: list[_PLine], k: int, body_h: float, edges: list[tuple[float, float]]) -> bool:
    """True when ``body[k]`` starts a new paragraph rather than continuing the line before it."""
    prev, cur = body[k - 1], body[k]
    h = max(cur.h, prev.h, body_h * 0.5)
    if abs(cur.h - prev.h) > 0.25 * max(cur.h, prev.h):
        return True  # a change of type size: a title, a heading, a note
    left, right = edges[k - 1]
    cur_left, cur_right = edges[k]
    # The line before ends short of the column: its paragraph ended. Ragged-right text (Word's
    # left alignment) ends lines up to two characters early, so the margin is wide; such text
    # marks paragraphs by indentation, caught below.
    if prev.x1 < right - 2.5 * h:
        return True
    if _centred(prev, left, right, h):
        return True  # a centred line (a heading) stands alone
    if cur.x0 > cur_left + 0.8 * h:
        return True  # an indented first line
    if _centred(cur, cur_left, cur_right, h):
        return True
    if cur.page == prev.page:
        gap = prev.y0 - cur.y1  # fractions of the page height
        pitch = _pitch(body, k)
        if pitch and gap > 1.8 * pitch:
            return True
    if prev.text.rstrip()[-1:] in _SENTENCE_DONE and _HEADING_START.match(normalize(cur.text)):
        return True
    return False


def _centred(ln: _PLine, left: float, right: float, h: float) -> bool:
    """Set in the middle of its column: both margins wide and about equal."""
    a, b = ln.x0 - left, right - ln.x1
    return a > 2 * h and b > 2 * h and abs(a - b) < 2.5 * h


def _pitch(body: list[_PLine], k: int) -> float:
    """The usual gap between lines near ``body[k]`` (fractions of the page height)."""
    gaps = []
    for j in range(max(1, k - 6), min(len(body), k + 6)):
        a, b = body[j - 1], body[j]
        if a.page == b.page and abs(a.h - b.h) < 0.2 * a.h:
            g = a.y0 - b.y1
            if g > 0:
                gaps.append(g)
    return median(gaps) if gaps else 0.0
