"""Clean passages from real pages: page furniture out, metadata lines into fields, front and back matter read.

Every reader that finds lines of text (plain text, Markdown, HTML, PDF, Word,
OFD) hands them to ``tidy`` as ``Line`` spans of the document text. ``tidy``
decides, from structural signals and the vocabularies of ``data/furniture.txt``,
which lines are

- page furniture (print and font-size bars, breadcrumbs, share prompts, app
  prompts, decorated links, copyright footers, page numbers, related-link
  blocks at the end): dropped;
- metadata (来源：…, 时间：…, 责任编辑：…, a 发文字号 such as 国发〔2024〕3号, a
  date line under the title, the issuing body and date of the signature):
  dropped as passages and read into the document's fields;
- photo captions (…作政府工作报告 / 本报记者 … 摄): dropped;
- the title, when the reader has none;

and returns the blocks of what is left. Rules look at a line's length, its
position (header zone, signature zone), its punctuation and its neighbours,
never at whole exact strings, so they hold on pages nobody tuned for.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..models import Block
from ..text import CJK_CLASS, has_cjk, normalize
from ..text.dates import dates_in_text, normalize_date

__all__ = ["Line", "Tidied", "tidy", "is_furniture", "clean_title", "labelled_fields"]

# Lines of this many characters or more are body text whatever words they hold.
SHORT = 40
HEADER_ZONE = 6  # lines after the title that may hold metadata (来源, 时间, a date line, a 文号)
FOOTER_ZONE = 6  # lines at the end that may hold the signature (issuing body and date) or an editor


@dataclass
class Line:
    """One line (or one already-joined paragraph) of a document, as a span of its text.

    ``brk`` marks a paragraph boundary before the line (a blank line, a new
    block); lines without it continue the paragraph before them. ``kind`` and
    ``level`` are a heading or table the format marks, as in ``Block``.
    """

    start: int
    end: int
    page: int = 0
    kind: str = "para"
    level: int = 0
    brk: bool = True
    size: float = 0.0  # the font size where the format knows it (PDF): the title is the largest
    chrome: bool = False  # a web page's chrome printed with it: read for metadata, never a passage


@dataclass
class Tidied:
    """What ``tidy`` found: the body blocks and the fields read from the lines it dropped."""

    blocks: list[Block]
    title: str = ""
    date: str = ""
    source: str = ""
    editor: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)  # reason → lines

    def merge_into(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` with what the reader left empty filled from the lines."""
        out = dict(fields)
        for k in ("title", "date", "source", "editor"):
            if not out.get(k) and getattr(self, k):
                out[k] = getattr(self, k)
        meta = dict(self.metadata)
        meta.update(out.get("metadata") or {})
        out["metadata"] = meta
        return out


# --- vocabularies -------------------------------------------------------------------------------------------

_lock = threading.Lock()
_vocab: dict[str, Any] | None = None


def _load() -> dict[str, Any]:
    global _vocab
    if _vocab is not None:
        return _vocab
    with _lock:
        if _vocab is not None:
            return _vocab
        raw = resources.files("kb").joinpath("data/furniture.txt").read_text("utf-8")
        sections: dict[str, list[str]] = {}
        cur = None
        for line in raw.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = sections.setdefault(line[1:-1], [])
                continue
            if cur is not None:
                cur.extend(line.split())
        v: dict[str, Any] = {}

        def alt(words):
            words = sorted({normalize(w) for w in words}, key=len, reverse=True)
            return "|".join(re.escape(w) for w in words)

        controls = [w for w in sections.get("controls", [])]
        v["controls_multi"] = re.compile(alt([w for w in controls if len(w) > 1]))
        v["controls_all"] = re.compile(alt(controls))
        v["phrases"] = re.compile(alt(sections.get("phrases", [])))
        v["crumb_starts"] = tuple(normalize(w) for w in sections.get("breadcrumb", []))
        v["tail"] = re.compile(rf"^(?:{alt(sections.get('tail', []))})")
        meta: dict[str, str] = {}
        for entry in sections.get("meta", []):
            label, _, fld = entry.rpartition(":")
            meta[normalize(label).replace(" ", "")] = fld
        v["meta"] = meta
        labels = sorted(meta, key=len, reverse=True)
        # A label may be letter-spaced (来 源：); values run to the next label.
        spaced = ["\\s*".join(re.escape(c) for c in lab) for lab in labels]
        v["meta_label"] = re.compile(rf"(?:^|(?<=[\s|｜/，,;；\]】)）]))({'|'.join(spaced)})\s*[:：]\s*")
        cap = {"credit": [], "act": []}
        for entry in sections.get("caption", []):
            if entry.endswith(":"):
                cur_key = entry[:-1]
                continue
            cap.setdefault(cur_key, []).append(entry)  # noqa: F821 - set by the key before
        v["credit"] = re.compile(rf"(?:{alt(cap['credit'])})\s*[)）\]】]?$")
        v["act"] = re.compile(alt(cap["act"]))
        v["notice"] = re.compile(rf"^[【\[(（]?(?:{alt(sections.get('notice', []))})")
        _vocab = v
        return v


# --- single-line roles --------------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s\[\]【】()（）|｜/\\·•・:：,，、;；>》<《«»›‹\-—_~*#=+\"'“”‘’]+")
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–_~－‒―·•\s]*\d{1,4}[-—–_~－‒―·•\s]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,/，、]?\s*共\s*\d{1,4}\s*页)?"
    r"|共\s*\d{1,4}\s*页\s*[,，]?\s*第\s*\d{1,4}\s*页"
    r"|\d{1,4}\s*/\s*\d{1,4}"
    r"|page\s*\d{1,4}(?:\s*of\s*\d{1,4})?"
    r"|[-—–]?\s*[ivxlc]{1,6}\s*[-—–]?)$"
)
_SENTENCE_END = re.compile(r"[。！？!?]")
_CRUMB_SEP = re.compile(r"\s*(?:>>|>|›|»|→|/|＞|\\\\)\s*")
_DECORATED = re.compile(r"^(?:>>|》》|»|>|→|【\s*更多|更多)|(?:>>|》》|《《|«|»|→|>)$")
_COPYRIGHT = re.compile(r"版权所有|copyright|©|\(c\)\s*\d{4}|icp备|icp证|公网安备|不得转载|禁止转载|未经授权")
_DATE_ONLY = re.compile(
    r"^[(\[【]?\s*(?:发布|日期|时间|发布时间|发布日期|成文日期)?\s*[:]?\s*"
    r"(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?|\d{1,2}\.\d{1,2}\.\d{4}"
    r"|[〇○零一二三四五六七八九]{4}\s*年\s*[一二三四五六七八九十]{1,3}\s*月\s*[一二三四五六七八九十]{1,3}\s*日)"
    r"(?:\s*(?:星期|周)[一二三四五六日天])?"
    r"(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?\s*[)\]】]?$"
)
_LEADING_DATETIME = re.compile(r"^\s*\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?\s*")
_HAN = re.compile(f"[{CJK_CLASS}]")
_DOC_NUMBER = re.compile(rf"[{CJK_CLASS}]{{1,14}}\s*[〔\[［(【]\s*\d{{4}}\s*[〕\]］)】]\s*\d{{1,5}}\s*号")
_RED_HEADER = re.compile(r"^.{2,30}(?:文件|公告|公报|通知|简报|纪要|令)$")
_TOC_LEADER = re.compile(r"(?:[.…·．_—-]\s*){4,}\s*\(?\d{1,4}\)?$")
_HEADING_MARK = re.compile(r"^(?:第[一二三四五六七八九十百零〇\d]+[编章节条]|[一二三四五六七八九十]+[、.]|[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[.、])")
_CAPTION_DATE = re.compile(r"^\d{1,2}月\d{1,2}日")
_CAPTION_START = re.compile(r"^[(\[【]?\s*(?:图为|图片|图:|图/|资料图|视频截图|照片)")


def _squash(s: str) -> str:
    return "".join(s.split())


def _meta_pairs(norm: str, orig: str | None = None) -> list[tuple[str, str]] | None:
    """(field, value) pairs when the whole line is labels and values (来源：新华社 编辑：张三); else None.

    ``norm`` is the normalised line; values are taken from ``orig`` (the same
    line as written, same length) when given.
    """
    v = _load()
    orig = norm if orig is None or len(orig) != len(norm) else orig
    lo, hi = 0, len(norm)
    while lo < hi and (norm[lo].isspace() or norm[lo] in "[]【】()（）"):
        lo += 1
    while hi > lo and (norm[hi - 1].isspace() or norm[hi - 1] in "[]【】()（）"):
        hi -= 1
    rest, rest_orig = norm[lo:hi], orig[lo:hi]
    lead = _LEADING_DATETIME.match(rest)
    pairs: list[tuple[str, str]] = []
    if lead and lead.end() < len(rest):
        pairs.append(("date", lead.group(0).strip()))
        rest, rest_orig = rest[lead.end():], rest_orig[lead.end():]
    matches = list(v["meta_label"].finditer(rest))
    if not matches or rest[: matches[0].start()].strip(" |｜/[]【】()（）"):
        return None
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(rest)
        label = _squash(m.group(1))
        value = rest_orig[m.end():end].strip(" |｜/,，;；[]【】()（）\t\u3000")
        fld = v["meta"].get(label, "-")
        if fld == "date" and not _is_date_value(value):
            return None  # 时间：2024年3月至6月 in a notice is content, not the page's date
        if len(_squash(value)) > 40:
            return None
        pairs.append((fld, value))
    return pairs


def _is_date_value(value: str) -> bool:
    m = _LEADING_DATETIME.match(value)
    if m:
        return len(value[m.end():].strip()) <= 6  # a weekday or nothing after the date
    return _DATE_ONLY.match(_squash(value)) is not None


def _is_site_bar(norm: str) -> bool:
    """A bar of short items split by | (2025年10月15日 星期三 | 无障碍浏览 | 中国政府网)."""
    parts = [p.strip() for p in re.split(r"\s*[|｜]\s*", norm) if p.strip()]
    if len(parts) < 2 or any(len(_squash(p)) > 24 for p in parts) or _SENTENCE_END.search(norm):
        return False
    v = _load()
    return any(v["controls_multi"].search(_squash(p)) or _DATE_ONLY.match(_squash(p)) or _is_controls(p) for p in parts)


def _is_breadcrumb(norm: str) -> bool:
    parts = [p for p in _CRUMB_SEP.split(norm) if p.strip()]
    if len(parts) < 2 or len(_CRUMB_SEP.findall(norm)) < 1:
        return False
    if any(len(_squash(p)) > 14 for p in parts) or _SENTENCE_END.search(norm):
        return False
    first = re.sub(r"^(?:当前位置|您的位置|您现在的位置|现在位置|所在位置|位置)\s*[:：]\s*", "", norm.strip())
    starts = _load()["crumb_starts"]
    return norm.strip().startswith(starts) or first.startswith(starts) or len(parts) >= 3


def _is_controls(norm: str) -> bool:
    """A line made only of page-control words (打印 全屏 收藏 【字号：加大 还原 减小】)."""
    v = _load()
    core = _SEPARATORS.sub("", norm)
    if not core or len(core) > 60:
        return False
    if not v["controls_multi"].search(core):
        return False
    return v["controls_all"].sub("", core) == "" or re.fullmatch(r"[\d次人]*", v["controls_all"].sub("", core)) is not None


def is_furniture(line: str) -> str | None:
    """Why one line is page furniture on its own (no context needed), or None."""
    norm = normalize(line).strip()
    if not norm:
        return None
    squashed = _squash(norm)
    if _PAGE_NUMBER.match(norm) or _PAGE_NUMBER.match(squashed):
        return "page number"
    if _load()["notice"].match(squashed):
        return "site notice"
    if len(squashed) > 120:
        return None
    if _COPYRIGHT.search(norm):
        return "copyright"
    if len(squashed) > 60:
        return None
    if _is_controls(norm):
        return "page controls"
    if _is_breadcrumb(norm):
        return "breadcrumb"
    if _is_site_bar(norm):
        return "site bar"
    has_sentence = _SENTENCE_END.search(norm[:-1]) is not None or norm.endswith("。")
    if not has_sentence and len(squashed) <= SHORT and _load()["phrases"].search(squashed):
        return "page prompt"
    if len(squashed) <= 30 and not has_sentence and _DECORATED.search(norm):
        return "link"
    return None


def labelled_fields(text: str, limit: int = 40) -> dict[str, str]:
    """Fields of the labelled lines (来源：… 时间：… 编辑：…) among the first ``limit`` lines of ``text``."""
    out: dict[str, str] = {}
    for line in [ln for ln in text.split("\n") if ln.strip()][:limit]:
        if len(line) > 120:
            continue
        pairs = _meta_pairs(normalize(line), line)
        for f, value in pairs or ():
            if f == "date":
                iso = normalize_date(value)
                if iso and "date" not in out:
                    out["date"] = iso
            elif f in ("source", "editor") and value and f not in out:
                if f == "source" and _COPYRIGHT.search(normalize(value)):
                    continue
                out[f] = re.split(r"\s{2,}", value)[0]
    return out


def clean_title(title: str) -> str:
    """A page title without the site name after it (…_网易订阅, …-新华网, …|人民网)."""
    t = " ".join(title.split())
    # A separator, then a short name with no sentence in it, at the end; repeat for chains (标题_频道_网站).
    for _ in range(3):
        m = re.search(r"\s*(?:[_|｜]|\s[-–—]\s|[-–—](?=[^-–—]{2,12}$))\s*([^_|｜]{1,16})$", t)
        if not m or m.start() < 4:
            break
        tail = m.group(1)
        if _SENTENCE_END.search(tail) or _DOC_NUMBER.search(tail) or not re.search(r"[^\W\d_]", tail):
            break  # a site name has letters or ideographs; -2015 is part of the title
        t = t[: m.start()].rstrip()
    return t


# --- the whole page -----------------------------------------------------------------------------------------


def tidy(text: str, lines: list[Line], *, find_title: bool = True, title: str = "") -> Tidied:
    """The body blocks of ``lines`` with furniture, metadata lines and captions removed, and what they said.

    With ``find_title`` and no ``title``, the title is the first line that can
    be one (or, where lines carry font sizes, the lines of the largest size at
    the top). A title given by the reader is not repeated as a passage.
    """
    v = _load()
    out = Tidied(blocks=[])
    keep = [True] * len(lines)
    norms = [normalize(text[ln.start:ln.end]).strip() for ln in lines]

    def drop(i: int, why: str) -> None:
        if keep[i]:
            keep[i] = False
            out.dropped[why] = out.dropped.get(why, 0) + 1

    dates: dict[int, str] = {}  # priority → date (1: a labelled date line, 2: under the title, 3: signature, 4: history)

    def note_date(prio: int, value: str) -> None:
        iso = normalize_date(value) if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else value
        if not iso:
            found = dates_in_text(value)
            iso = found[0] if found else ""
        if iso and prio not in dates:
            dates[prio] = iso

    # 1. Lines that are furniture on their own.
    for i, ln in enumerate(lines):
        if ln.kind == "table":
            continue
        why = is_furniture(text[ln.start:ln.end])
        if why:
            drop(i, why)

    for i, ln in enumerate(lines):
        if ln.chrome:
            keep[i] = False
            pairs = _meta_pairs(norms[i], text[ln.start:ln.end].strip())
            _take_pairs(out, pairs or (), lambda v: note_date(1, v))
            out.dropped["page chrome"] = out.dropped.get("page chrome", 0) + 1

    # 1b. A table of contents: 目录 and the heading-like lines after it, up to where the body repeats the first.
    for i in range(min(len(lines), 400)):
        if _squash(norms[i]) not in ("目录", "目次") or not keep[i]:
            continue
        entries: list[int] = []
        first = ""
        for j in range(i + 1, min(len(lines), i + 400)):
            sq = _squash(norms[j])
            if not sq:
                continue
            if first and sq == first:
                break  # the body starts with the first entry again
            if sq[0] in "①②③④⑤⑥⑦⑧⑨⑩*※":
                continue  # a footnote printed on the contents page
            if len(sq) > 40 or _SENTENCE_END.search(_TOC_LEADER.sub("", sq)):
                break
            if not first:
                first = sq
            entries.append(j)
        if entries:
            drop(i, "contents")
            for j in entries:
                drop(j, "contents")
        break
    for i, ln in enumerate(lines):
        if keep[i] and _TOC_LEADER.search(_squash(norms[i])):
            drop(i, "contents")

    # 2. Related-link blocks at the end: a short 相关报道 line in the last part closes the article.
    n = len(lines)
    for i in range(n):
        if not keep[i] or i < n // 3:
            continue
        sq = _squash(norms[i])
        if len(sq) <= 20 and v["tail"].match(sq) and not _SENTENCE_END.search(sq):
            for j in range(i, n):
                drop(j, "related links")
            break

    live = [i for i in range(n) if keep[i]]

    # 3. The title.
    title_idx: list[int] = []
    if not title and find_title and live:
        title_idx = _title_lines(text, lines, live)
        if title_idx:
            out.title = "".join(_join_title(text[lines[i].start:lines[i].end]) for i in title_idx)
    elif title and live:
        # The reader's title repeated as a first line is not a passage.
        t = _squash(normalize(title))
        for i in live[:3]:
            if _squash(norms[i]) == t:
                title_idx = [i]
                break
    for i in title_idx:
        drop(i, "title")
    first_body = (title_idx[-1] + 1) if title_idx else (live[0] if live else 0)

    # 4. Metadata lines: labelled lines near the top or the end; editor lines anywhere.
    live = [i for i in range(n) if keep[i]]
    head = [i for i in live if i >= first_body][:HEADER_ZONE]
    before_title = [i for i in live if title_idx and i < title_idx[0]]
    tail_zone = live[-FOOTER_ZONE:]
    for i in live:
        ln = lines[i]
        if ln.kind != "para" or len(_squash(norms[i])) > 120:
            continue
        pairs = _meta_pairs(norms[i], text[lines[i].start:lines[i].end].strip())
        if not pairs:
            continue
        fields = {f for f, _v in pairs}
        anywhere = fields <= {"editor", "author", "-"}
        if not (anywhere or i in head or i in tail_zone or i in before_title):
            continue
        drop(i, "metadata")
        _take_pairs(out, pairs, lambda v: note_date(1, v))

    # 5. Front matter of an official document: the red header (XX文件), the 发文字号, a date line.
    live = [i for i in range(n) if keep[i]]
    for i in [j for j in live if j < first_body + HEADER_ZONE + 2][:HEADER_ZONE + 2]:
        sq = _squash(norms[i])
        if lines[i].kind != "para":
            continue
        if i >= first_body and (len(sq) > 40 or re.search(r"[，。；,;]", sq)):
            break  # the body has begun: a date line after it is a signature, not front matter
        m = _DOC_NUMBER.search(sq)
        if m and len(sq) <= len(m.group(0)) + 16 and not _SENTENCE_END.search(sq):
            drop(i, "metadata")
            out.metadata.setdefault("doc_number", m.group(0))
            continue
        if _DATE_ONLY.match(sq) or _DATE_ONLY.match(norms[i]):
            drop(i, "metadata")
            note_date(2, sq)
            continue
        if (title_idx and i < title_idx[0]) and _RED_HEADER.match(sq) and sq.endswith("文件"):
            drop(i, "metadata")
            out.metadata.setdefault("issuer", sq[:-2])
    # A parenthesised history under the title (（2010年11月19日…公布 根据2016年2月6日…修订）): its latest date.
    live = [i for i in range(n) if keep[i]]
    after = [j for j in live if j >= first_body]
    for k, i in enumerate(after[:3]):
        s = norms[i]
        if s[:1] in "(（" and lines[i].kind == "para":
            # The history may run over several lines or pages: read on until its parenthesis closes.
            parts: list[str] = []
            depth = 0
            for j in after[k:k + 12]:
                part = norms[j]
                parts.append(part)
                depth += part.count("(") + part.count("（") - part.count(")") - part.count("）")
                if depth <= 0:
                    break
            found = dates_in_text("".join(parts))  # a date may be broken over two lines (… 2020 / 年 12 月 …)
            if found:
                dates.setdefault(4, max(found))
                break

    # 6. The signature: the issuing body and a date line under it, wherever the pair stands (a 公告
    # before the law it promulgates signs off mid-file); else a date line near the end.
    live = [i for i in range(n) if keep[i]]
    for k in range(1, len(live)):
        i, j = live[k], live[k - 1]
        sq, sj = _squash(norms[i]), _squash(norms[j])
        if (lines[i].kind == "para" and lines[j].kind == "para" and _DATE_ONLY.match(sq)
                and 4 <= len(sj) <= 30 and not re.search(r"[。，,；;：:！？!?、]", sj) and not _HEADING_MARK.match(sj)
                and re.search(r"(?:委员会|政府|办公厅|办公室|局|厅|部|委|院|会|署|司|处|中心|公司|集团|党委|指挥部|小组)$", sj)):
            drop(i, "signature")
            drop(j, "signature")
            note_date(3, sq)
            out.metadata.setdefault("issuer", text[lines[j].start:lines[j].end].strip())
    live = [i for i in range(n) if keep[i]]
    for k in range(len(live) - 1, max(-1, len(live) - FOOTER_ZONE - 1), -1):
        i = live[k]
        sq = _squash(norms[i])
        if lines[i].kind == "para" and (_DATE_ONLY.match(sq) or _DATE_ONLY.match(norms[i])):
            drop(i, "signature")
            note_date(3, sq)
            for kk in (k - 1, k - 2):
                if kk < 0:
                    break
                j = live[kk]
                sj = _squash(norms[j])
                if 2 <= len(sj) <= 30 and not re.search(r"[。，,；;：:！？!?、]", sj) and not _HEADING_MARK.match(sj):
                    drop(j, "signature")
                    out.metadata.setdefault("issuer", text[lines[j].start:lines[j].end].strip())
                else:
                    break
            break

    # 7. Photo captions: a credit line (… 摄), a short dated line beside it, a short dated act (…作政府工作报告).
    live = [i for i in range(n) if keep[i]]
    for k, i in enumerate(live):
        if lines[i].kind == "table":
            continue
        s = norms[i]
        sq = _squash(s)
        if len(sq) > 60:
            continue
        credit = v["credit"].search(sq) is not None and len(sq) <= 40
        if credit or _CAPTION_START.match(sq):
            drop(i, "caption")
            for kk in (k - 1, k + 1):
                if 0 <= kk < len(live):
                    j = live[kk]
                    sj = _squash(norms[j])
                    if len(sj) <= 80 and _CAPTION_DATE.match(sj) and sj.count("。") <= 2:
                        drop(j, "caption")
            continue
        if (_CAPTION_DATE.match(sq) and v["act"].search(sq) and sq.count("。") <= 1
                and not re.search(r"[，,；;]", sq.rstrip("。"))):
            drop(i, "caption")

    labelled = out.metadata.pop("labelled_title", "")
    if not out.title and not title and labelled:
        out.title = clean_title(labelled)
    if dates:
        out.date = dates[min(dates)]
    issuer = out.metadata.get("issuer")
    if issuer and not out.source:
        out.source = issuer

    # 8. Blocks of what is left: consecutive kept lines without a break form one paragraph.
    blocks: list[Block] = []
    cur: list[int] | None = None  # [start, end, page]
    for i, ln in enumerate(lines):
        if not keep[i]:
            if cur is not None:
                blocks.append(Block(cur[0], cur[1], page=cur[2]))
                cur = None
            continue
        if ln.kind != "para":
            if cur is not None:
                blocks.append(Block(cur[0], cur[1], page=cur[2]))
                cur = None
            blocks.append(Block(ln.start, ln.end, kind=ln.kind, level=ln.level, page=ln.page))
            continue
        if cur is not None and not ln.brk:
            cur[1] = ln.end
            continue
        if cur is not None:
            blocks.append(Block(cur[0], cur[1], page=cur[2]))
        cur = [ln.start, ln.end, ln.page]
    if cur is not None:
        blocks.append(Block(cur[0], cur[1], page=cur[2]))
    out.blocks = blocks
    return out


def _take_pairs(out: Tidied, pairs, note_date) -> None:
    """Fields from a metadata line's (field, value) pairs into ``out``; the first value of a field wins."""
    for f, value in pairs:
        if f == "date":
            note_date(value)
        elif f in ("source", "issuer") and value:
            value = re.split(r"\s{2,}", value)[0]
            if f == "source" and not _COPYRIGHT.search(normalize(value)):
                out.source = out.source or value
            else:
                out.metadata.setdefault(f, value)
        elif f == "editor" and value:
            out.editor = out.editor or value
        elif f == "title" and value:
            out.metadata.setdefault("labelled_title", value)
        elif f != "-" and value:
            out.metadata.setdefault(f, value)


def _join_title(s: str) -> str:
    """One line of a title: runs of spaces made one; a letter-spaced line (公　 　 告) closed up."""
    s = s.strip()
    if re.fullmatch(r"(?:\S\s+)+\S", s) and all(len(w) == 1 for w in s.split()):
        return "".join(s.split())
    return " ".join(s.split())


def _can_be_title(s: str) -> bool:
    sq = _squash(s)
    if not sq or len(sq) > 100 or (has_cjk(sq) and len(_HAN.findall(sq)) < 2) or s.rstrip().endswith(("。", "；", "，", ";", ",", "：", ":")):
        return False
    if _DATE_ONLY.match(sq) or _DOC_NUMBER.fullmatch(sq) or _PAGE_NUMBER.match(sq) or dates_in_text(sq):
        return False  # a title names no full date (2009-04-07发布 is a date line)
    return "。" not in sq[:-1]


def _title_lines(text: str, lines: list[Line], live: list[int]) -> list[int]:
    """The line(s) of the title: the largest font at the top where sizes are known, else the first title-like line."""
    top = [i for i in live[:12] if lines[i].kind in ("para", "heading")]
    if not top:
        return []
    norms = {i: normalize(text[lines[i].start:lines[i].end]).strip() for i in top}
    # Where type sizes are known, the title is the largest Chinese type at the top (two to four lines).
    han = {i: len(_HAN.findall(norms[i])) for i in top}
    sized = [i for i in top if lines[i].size > 0 and han[i] >= 4 and _can_be_title(norms[i])]
    # A red header (某某局文件), set larger than anything else, names the issuer, not the document.
    sized = [i for i in sized if not (_RED_HEADER.match(_squash(norms[i])) and _squash(norms[i]).endswith("文件")
                                      and any(j > i for j in sized))]
    if sized:
        body = sorted(lines[i].size for i in live if lines[i].size > 0)
        median = body[len(body) // 2]
        big = max(lines[i].size for i in sized)
        if big >= median * 1.15 and median > 2:  # an OCR layer's invisible text has no real sizes
            first = next(i for i in sized if lines[i].size >= big * 0.9)
            group = [first]
            k = top.index(first) + 1
            while (k < len(top) and lines[top[k]].size >= big * 0.9 and _can_be_title(norms[top[k]])
                   and han[top[k]] * 2 >= len(_squash(norms[top[k]])) and len(group) < 4
                   and sum(len(norms[g]) for g in group) + len(norms[top[k]]) <= 80):
                group.append(top[k])
                k += 1
            head = _squash(norms[group[0]])
            if len(group) > 1 and _RED_HEADER.match(head) and head.endswith("文件"):
                group = group[1:]  # 某某局文件 set in the same large type above the title
            return group
    for k, i in enumerate(top[:6]):
        sq = _squash(norms[i])
        nxt = norms.get(top[k + 1], "") if k + 1 < len(top) else ""
        if _RED_HEADER.match(sq) and sq.endswith("文件") and (_DOC_NUMBER.search(_squash(nxt)) or _can_be_title(nxt)):
            continue  # 某某局文件 above the 文号 and the title: the issuing body, not the title
        m = _DOC_NUMBER.search(sq)
        if (m and len(sq) <= len(m.group(0)) + 16) or _DATE_ONLY.match(sq):
            continue  # the 文号 or a date line above the title
        if not has_cjk(sq) and any(has_cjk(norms[j]) for j in top[k + 1:k + 4]):
            continue  # a code or label in Latin letters (UDC, ICS) above a Chinese title
        if lines[i].kind == "heading" or (_can_be_title(norms[i]) and not _HEADING_MARK.match(sq)):
            return [i]
        return []
    return []
