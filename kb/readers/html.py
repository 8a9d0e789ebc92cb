"""Saved web pages (``.html``, ``.htm``): the article's title, date, source and text.

The text comes from one of two extractors, whichever found the article:
trafilatura (precision settings; recall settings when those find no
article), and a text-density
reader of the page's own blocks (the element holding the most prose that is
not link text, after comment, navigation, recommendation and footer elements
are pruned). trafilatura's answer is kept when it looks like an article and
the density reader agrees with it; when it returned nothing, only furniture,
or text the density reader does not hold (comments and trending headlines
instead of the body), the better-looking answer wins. A page whose body is a
single paragraph (a resolution) is an article; a page with no prose is
skipped as "no article text".

Lines then go through ``kb.readers.cleaning`` like plain text: furniture,
metadata lines (来源：…) and captions are left out. The title loses the site
name after it (…_网易订阅, …-新华网); the source comes from a 来源： line, else
the site name, and is never a copyright notice (网易版权所有).
"""

from __future__ import annotations

import re
from typing import Any

from ..text import CJK_CLASS, normalize
from ..text.dates import normalize_date
from ..text.decode import DecodeFailure, decode_bytes
from . import ReadResult, Source, document
from .cleaning import Line, clean_title, is_furniture, labelled_fields, tidy

__all__ = ["read", "density_text"]

MIN_ARTICLE_CHARS = 20
_HAN = re.compile(f"[{CJK_CLASS}]")
_PROSE = re.compile(r"[，。；！？,;]")
_INDENT = re.compile(r"\s*\u3000\u3000+")  # a paragraph's indent inside a line that merged several
_COPYRIGHT = re.compile(r"版权|copyright|©|all rights", re.I)
# Elements whose class or id says they are not the article.
_NOT_ARTICLE = re.compile(
    r"comment|reply|tie-|discuss|recommend|related|relate|hot|rank|share|footer|foot\b|nav|menu|breadcrumb|crumb"
    r"|sidebar|side\b|aside|copyright|statement|disclaimer|banner|advert|\bad\b|ads|login|toolbar|tool-|print|qrcode"
    r"|more|tags?\b|subscribe|popup|modal|header\b|top-?bar",
    re.I,
)
_BLOCK_TAGS = {"p", "div", "section", "article", "li", "td", "th", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4",
               "h5", "h6", "blockquote", "pre", "dd", "dt", "dl", "center", "form", "main", "figure", "figcaption"}
_DROP_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "select", "button",
              "textarea", "svg", "canvas", "template", "object", "embed", "figcaption")


def read(source: Source) -> ReadResult:
    """The article of a saved HTML page."""
    try:
        html, _encoding = decode_bytes(source.data)
    except DecodeFailure as e:
        return source.skip(str(e))
    try:
        import trafilatura
    except ImportError as e:  # pragma: no cover - declared dependency
        return source.skip(f"HTML support is not installed ({e}); reinstall kb with pip")
    meta: dict[str, Any] = {}

    def extract(**settings) -> str:
        nonlocal meta
        try:
            result = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                                 include_tables=True, include_links=False, **settings)
        except Exception:  # trafilatura/lxml raise many kinds on broken markup; the density reader may still work
            return ""
        if result is None:
            return ""
        data = result.as_dict() if hasattr(result, "as_dict") else dict(result)
        if not meta:
            meta = data
        return (data.get("text") or "").replace("\r\n", "\n")

    precise = extract(favor_precision=True)
    try:
        dense, pruned, page_text = density_text(html)
    except Exception:  # a page lxml cannot parse at all
        dense, pruned, page_text = "", "", ""
    # The recall settings are a third opinion, asked only when the precise answer is not an article.
    recall = extract(favor_recall=True) if _prose_chars(precise) < MIN_ARTICLE_CHARS else ""
    text = _choose(precise, recall, dense, pruned)
    if _prose_chars(text) < MIN_ARTICLE_CHARS:
        # What is left of a page without an article is menu text (首页新闻关于), not a passage.
        return source.skip("no article text found in the HTML page")
    text = _split_merged(text)
    title = clean_title((meta.get("title") or "").strip())
    sitename = (meta.get("sitename") or meta.get("hostname") or "").strip()
    if _COPYRIGHT.search(sitename):
        sitename = ""
    lines = [Line(ln.start, ln.end) for ln in _text_lines(text)]
    tidied = tidy(text, lines, find_title=not title, title=title)
    if not tidied.blocks:
        return source.skip("no article text found in the HTML page")
    # The page's labelled lines (来源：… 时间：…) may sit outside the article's block: read the whole page's text.
    around = labelled_fields(page_text or recall or precise)
    fields: dict[str, Any] = {
        "title": title or tidied.title,
        "date": tidied.date or around.get("date") or normalize_date(meta.get("date")),
        "source": tidied.source or around.get("source") or sitename,
        "editor": tidied.editor or around.get("editor") or (meta.get("author") or "").strip(),
        "metadata": {**tidied.metadata, **{k: meta[k] for k in ("url", "description") if meta.get(k)}},
    }
    return ReadResult([document(source, fields, text, tidied.blocks, "html")], [])


def _text_lines(text: str):
    pos = 0
    for raw in text.split("\n"):
        s, e = pos, pos + len(raw)
        pos = e + 1
        while s < e and (text[s].isspace() or text[s] in "|｜"):
            s += 1
        while e > s and (text[e - 1].isspace() or text[e - 1] in "|｜"):
            e -= 1
        if e > s:
            yield Line(s, e)


def _split_merged(text: str) -> str:
    """Lines that hold several paragraphs (table cells flattened: 　　第一段。 　　第二段。) split at the indents."""
    out = []
    for line in text.split("\n"):
        parts = [p for p in _INDENT.split(line) if p.strip(" |｜")]
        out.append("\n".join(parts) if len(parts) > 1 else line)
    return "\n".join(out)


def _prose_chars(text: str) -> int:
    """Han characters in lines that read as prose and are not page furniture."""
    n = 0
    for line in text.split("\n"):
        line = line.strip()
        if not line or is_furniture(line):
            continue
        han = len(_HAN.findall(line))
        if han >= 8 and (_PROSE.search(line) or han >= 30):
            n += han
    return n


def _shingles(text: str, step: int = 1, k: int = 8) -> set[str]:
    """8-character runs of the Han text (every ``step``-th), to tell whether one text holds another."""
    han = "".join(_HAN.findall(normalize(text)))
    return {han[i:i + k] for i in range(0, max(0, len(han) - k + 1), step)}


def _choose(precise: str, recall: str, dense: str, pruned: str) -> str:
    """The candidate that holds the article (see the module docstring).

    ``pruned`` is the text of the page's comment, recommendation, navigation
    and footer elements: a candidate drawn mostly from there is not the article.
    """
    p, r, d = _prose_chars(precise), _prose_chars(recall), _prose_chars(dense)
    if p >= MIN_ARTICLE_CHARS:
        mine = _shingles(precise, 4)
        outside = len(mine & _shingles(pruned)) / max(1, len(mine))
        if d < MIN_ARTICLE_CHARS or (outside < 0.5 and p >= d * 0.5):
            return precise
        if outside < 0.5 and len(mine & _shingles(dense)) / max(1, len(mine)) >= 0.5:
            return precise
        # trafilatura kept comments or headlines: the densest block of the page is the article.
        return dense
    best = max((r, 1, recall), (d, 0, dense))
    return best[2] if best[0] >= MIN_ARTICLE_CHARS else ""


def density_text(html: str) -> tuple[str, str, str]:
    """The text of the page's densest prose block, one line per paragraph (``<p>``, ``<br>``, block child);
    the text of the elements pruned before looking (comments, navigation, footers...); and the text of
    every block left, one a line (where a 来源：/时间： line outside the article is found)."""
    import lxml.html

    if not html.strip():
        return "", "", ""
    try:
        root = lxml.html.document_fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (ValueError, TypeError):
        return "", "", ""
    pruned: list[str] = []
    for el in list(root.iter(*_DROP_TAGS)):
        if el.getparent() is not None:
            pruned.append(el.text_content())
            el.drop_tree()
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        marks = f"{el.get('class', '')} {el.get('id', '')}"
        if marks.strip() and _NOT_ARTICLE.search(marks) and el.tag not in ("body", "html"):
            pruned.append(el.text_content())
            el.drop_tree()
    pruned_text = "\n".join(pruned)
    # Paragraphs: runs of inline text between block boundaries and <br>, with the element that holds them.
    # Each keeps its whole text and its text outside links: density is scored without link text.
    paras: list[tuple[Any, str, str]] = []

    def walk(el, buf: list[tuple[str, bool]], holder, in_link: bool) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                if child.tail:
                    buf.append((child.tail, in_link))
                continue
            tag = child.tag.lower()
            if tag == "br":
                flush(buf, holder)
            elif tag in _BLOCK_TAGS:
                flush(buf, holder)
                inner = child if tag != "p" else holder_of(child)
                if child.text:
                    buf.append((child.text, in_link))
                walk(child, buf, inner, in_link)
                flush(buf, inner)
            else:
                link = in_link or tag == "a"
                if child.text:
                    buf.append((child.text, link))
                walk(child, buf, holder, link)
            if child.tail:
                buf.append((child.tail, in_link))

    def holder_of(p):
        parent = p.getparent()
        return parent if parent is not None else p

    def flush(buf: list[tuple[str, bool]], holder) -> None:
        whole = " ".join("".join(t for t, _link in buf).split())
        prose = " ".join("".join(t for t, link in buf if not link).split())
        buf.clear()
        if whole:
            paras.append((holder, whole, prose))

    body = root.find("body")
    if body is None:
        body = root
    buf: list[tuple[str, bool]] = []
    if body.text:
        buf.append((body.text, False))
    walk(body, buf, body, False)
    flush(buf, body)
    if not paras:
        return "", pruned_text, ""
    page_text = "\n".join(whole for _holder, whole, _prose in paras)
    score: dict[Any, int] = {}
    for holder, _whole, prose in paras:
        han = len(_HAN.findall(prose))
        if han >= 8 and _PROSE.search(prose):
            score[holder] = score.get(holder, 0) + han
    if not score:
        return "", pruned_text, page_text
    best = max(score, key=lambda h: score[h])
    return "\n".join(whole for holder, whole, _prose in paras if holder is best), pruned_text, page_text
