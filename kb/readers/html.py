"""Saved web pages (``.html``, ``.htm``): title, date and main text extracted by trafilatura.

Menus, scripts, footers and link lists are dropped by the extractor; a page
without article text is skipped.
"""

from __future__ import annotations

from typing import Any

from ..text.dates import normalize_date
from ..text.decode import DecodeFailure, decode_bytes
from . import ReadResult, Source, document, line_blocks

__all__ = ["read"]

MIN_ARTICLE_CHARS = 20


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
    try:
        result = trafilatura.bare_extraction(
            html,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_links=False,
            favor_precision=True,
        )
    except Exception as e:  # trafilatura/lxml raise many kinds on broken markup
        return source.skip(f"HTML could not be parsed ({type(e).__name__})")
    if result is None:
        return source.skip("no article text found in the HTML page")
    data = result.as_dict() if hasattr(result, "as_dict") else dict(result)
    text = (data.get("text") or "").replace("\r\n", "\n")
    if len("".join(text.split())) < MIN_ARTICLE_CHARS:
        # What is left of a page without an article is menu text (首页新闻关于), not a passage.
        return source.skip("no article text found in the HTML page")
    fields: dict[str, Any] = {
        "title": (data.get("title") or "").strip(),
        "date": normalize_date(data.get("date")),
        "source": (data.get("sitename") or data.get("hostname") or "").strip(),
        "editor": (data.get("author") or "").strip(),
        "metadata": {k: data[k] for k in ("url", "description") if data.get(k)},
    }
    # Trafilatura repeats the headline as the first line at times; it is the title, not a passage.
    title = fields["title"] or (source.meta or {}).get("title") or source.path.stem
    start = 0
    first_nl = text.find("\n")
    first = (text if first_nl < 0 else text[:first_nl]).strip()
    if first and first == title:
        start = len(text) if first_nl < 0 else first_nl + 1
    return ReadResult([document(source, fields, text, line_blocks(text, start), "html")], [])
