"""PDF: paragraphs from lines, page furniture out, sections, pages, metadata, and bad files.

PDFs are made in the tests with reportlab (a test dependency); the real PDFs
of ``shared/corpus/documents`` are read when that folder is there.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from conftest import CORPUS, write_tree
from kb.chunking import chunk
from kb.readers import Source, reader_for
from kb.readers.pdf import NO_TEXT_LAYER

reportlab = pytest.importorskip("reportlab")
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

DOCUMENTS = Path(os.environ.get("KB_DOCUMENTS") or CORPUS / "documents")
FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

W, H = A4
LEFT, RIGHT = 72, 72 + 36 * 12  # 36 characters of 12 pt a line


def build_pdf(items, *, header: str = "江南省人民政府公报", numbers: bool = True, title_size: int = 20,
              encrypt: str | None = None, line_chars: int = 36) -> bytes:
    """A PDF of ``items``: ("title", text), ("center", text), ("para", text), ("line", text) (no indent)
    or ("page", "") (a page break).

    Paragraphs wrap at ``line_chars`` characters with a two-character first-line indent and flow
    across pages; every page gets ``header`` at the top and ``- n -`` at the bottom.
    """
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, encrypt=encrypt)
    page = 1
    y = H - 110

    def furniture():
        c.setFont(FONT, 9)
        if header:
            c.drawCentredString(W / 2, H - 50, header)
        if numbers:
            c.drawCentredString(W / 2, 40, f"- {page} -")

    def newline(step):
        nonlocal y, page
        y -= step
        if y < 90:
            furniture()
            c.showPage()
            page += 1
            y = H - 110

    for kind, text in items:
        if kind == "page":
            furniture()
            c.showPage()
            page += 1
            y = H - 110
            continue
        if kind == "title":
            c.setFont(FONT, title_size)
            c.drawCentredString(W / 2, y, text)
            newline(title_size * 2)
        elif kind == "center":
            c.setFont(FONT, 12)
            c.drawCentredString(W / 2, y, text)
            newline(24)
        else:
            c.setFont(FONT, 12)
            indent = 2 if kind == "para" else 0
            first = line_chars - indent
            chunks = [text[:first]] + [text[i:i + line_chars] for i in range(first, len(text), line_chars)]
            for k, part in enumerate(chunks):
                if not part:
                    continue
                x = LEFT + (indent * 12 if k == 0 else 0)
                c.drawString(x, y, part)
                newline(18)
    furniture()
    c.save()
    return buf.getvalue()


def read_pdf(data: bytes, name: str = "doc.pdf"):
    path = Path(name)
    return reader_for(path)(Source(path=path, rel=name, data=data))


def only_doc(data: bytes):
    res = read_pdf(data)
    assert not res.skipped, res.skipped
    (doc,) = res.documents
    return doc


LONG_1 = "为了加强城镇燃气管理，保障燃气供应，防止和减少燃气安全事故，保障公民生命、财产安全和公共安全，维护燃气经营者和燃气用户的合法权益，促进燃气事业健康发展，制定本条例。"
LONG_2 = "县级以上地方人民政府燃气管理部门应当会同有关部门，依据国民经济和社会发展规划、土地利用总体规划、城乡规划以及能源规划，结合本行政区域燃气资源总量平衡情况，组织编制本行政区域的燃气发展规划，报本级人民政府批准后组织实施。"


def law_items(articles: int = 12):
    items = [("title", "江南省燃气管理条例"), ("center", "第一章 总则")]
    for n in range(1, articles + 1):
        cn = "一二三四五六七八九十"[n - 1] if n <= 10 else "十" + "一二三四五六七八九"[n - 11]
        if n == 6:
            items.append(("center", "第二章 规划与建设"))
        items.append(("para", f"第{cn}条 " + (LONG_1 if n % 2 else LONG_2)))
    items.append(("line", "江南省人民代表大会常务委员会"))
    items.append(("line", "2024年3月5日"))
    return items


def test_lines_join_into_paragraphs_across_lines_and_pages():
    doc = only_doc(build_pdf(law_items()))
    passages = chunk(doc)
    texts = [p.text for p in passages]
    # Every article is one passage whose text is the whole article, however it was wrapped.
    assert sum(1 for t in texts if t.endswith(LONG_1[2:])) + sum(1 for t in texts if LONG_1 in t) >= 6
    whole = [t for t in texts if t.startswith("第") and t.endswith("制定本条例。")]
    assert whole and all("\n" not in t for t in whole)
    assert all(LONG_2 in t for t in texts if t.startswith("第二条"))
    # At least one article crossed a page break and is still one passage.
    pages = {p.page for p in passages}
    assert max(pages) >= 2


def test_running_header_footer_and_page_numbers_are_not_passages():
    doc = only_doc(build_pdf(law_items()))
    for p in chunk(doc):
        assert "江南省人民政府公报" not in p.text, p
        assert "- 1 -" not in p.text and "- 2 -" not in p.text, p


def test_headings_give_section_paths_and_every_passage_knows_its_page():
    doc = only_doc(build_pdf(law_items()))
    passages = chunk(doc)
    by_start = {p.text[:4]: p for p in passages}
    assert by_start["第一条 "].section == "第一章 总则 > 第一条"
    assert by_start["第六条 "].section == "第二章 规划与建设 > 第六条"
    assert all(p.page >= 1 for p in passages)
    assert [p.page for p in passages] == sorted(p.page for p in passages)
    assert passages[0].page == 1 and passages[-1].page >= 2


def test_title_issuer_and_signature_date_come_from_the_document():
    doc = only_doc(build_pdf(law_items()))
    assert doc.title == "江南省燃气管理条例"
    assert doc.date == "2024-03-05"
    assert doc.metadata.get("issuer") == "江南省人民代表大会常务委员会"
    assert doc.metadata.get("pages", 0) >= 2
    assert not any("2024年3月5日" == p.text for p in chunk(doc))


def test_document_number_and_date_line_are_metadata():
    items = [("center", "江南省人民政府办公厅文件"), ("center", "江政办发〔2024〕12号"),
             ("title", "关于加快发展人工智能产业的通知"), ("line", "各市、县人民政府，省政府各部门："),
             ("para", LONG_1), ("para", LONG_2), ("line", "江南省人民政府办公厅"), ("line", "2024年6月18日")]
    doc = only_doc(build_pdf(items, header=""))
    assert doc.title == "关于加快发展人工智能产业的通知"
    assert doc.metadata.get("doc_number") == "江政办发〔2024〕12号"
    assert doc.date == "2024-06-18"
    texts = " ".join(p.text for p in chunk(doc))
    assert "〔2024〕12号" not in texts and "办公厅文件" not in texts


def test_search_shows_the_page(tmp_path):
    from kb import KnowledgeBase

    src = write_tree(tmp_path / "src", {"law.pdf": build_pdf(law_items())})
    kb = KnowledgeBase(tmp_path / "ix")
    try:
        summary = kb.index([src])
        assert summary.indexed == 1 and not summary.skipped
        hits = kb.search("燃气发展规划")
        assert hits
        assert all(h.page is not None and h.page >= 1 for h in hits)
    finally:
        kb.close()


def test_look_alike_and_letter_spaced_text_is_found(tmp_path):
    from kb import KnowledgeBase

    items = [("title", "关于人工智能的通知"), ("para", "各地要加快发展⼈⼯智能产业，推进智能制造。" * 3),
             ("line", "依 法 设 立 的 安 全 生 产 机 构 应 当 履 行 职 责。")]
    src = write_tree(tmp_path / "src", {"ai.pdf": build_pdf(items)})
    kb = KnowledgeBase(tmp_path / "ix")
    try:
        kb.index([src])
        hits = kb.search("人工智能产业")
        assert hits and "⼈⼯智能" in hits[0].text  # the text keeps what the PDF says
        assert kb.search("安全生产")
    finally:
        kb.close()


def test_a_pdf_without_a_text_layer_is_skipped_with_a_reason():
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for _ in range(2):
        c.rect(72, 72, 300, 500, fill=1)  # a "scanned page": drawing, no text
        c.showPage()
    c.save()
    res = read_pdf(buf.getvalue())
    assert res.documents == []
    assert res.skipped[0].reason.startswith(NO_TEXT_LAYER)


def scanned_pdf(items) -> bytes:
    """A PDF whose pages are pictures of text (rendered from ``build_pdf(items)``), with no text layer."""
    import pypdfium2 as pdfium
    from reportlab.lib.utils import ImageReader

    source = pdfium.PdfDocument(build_pdf(items, header="", numbers=False))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for i in range(len(source)):
        image = source[i].render(scale=2).to_pil()
        c.drawImage(ImageReader(image), 0, 0, width=W, height=H)
        c.showPage()
    c.save()
    return buf.getvalue()


def test_scanned_pages_without_the_ocr_extra_say_how_to_read_them():
    from kb.readers.pdf import _ocr_engine

    if _ocr_engine() is not None:
        pytest.skip("the ocr extra is installed")
    res = read_pdf(scanned_pdf([("title", "扫描件"), ("para", LONG_1)]))
    assert res.documents == []
    assert "kb[ocr]" in res.skipped[0].reason


def test_scanned_pages_are_recognised_with_the_ocr_extra():
    from kb.readers.pdf import _ocr_engine

    if _ocr_engine() is None:
        pytest.skip("the ocr extra (rapidocr-onnxruntime) is not installed")
    doc = only_doc(scanned_pdf([("title", "关于燃气安全检查的通知"), ("para", LONG_1)]))
    assert doc.metadata["ocr_pages"] == 1
    assert "燃气" in doc.text and doc.title


def test_encrypted_pdf_is_skipped_with_a_reason():
    res = read_pdf(build_pdf(law_items(3), encrypt="secret"))
    assert res.documents == []
    assert "encrypted" in res.skipped[0].reason and "password" in res.skipped[0].reason


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9])
def test_truncated_pdf_gives_passages_or_one_reason(cut):
    data = build_pdf(law_items(6))
    res = read_pdf(data[: int(len(data) * cut)])
    assert res.documents or (len(res.skipped) == 1 and res.skipped[0].reason)


def test_garbage_and_zero_page_pdfs_are_skipped():
    assert "PDF" in read_pdf(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + os.urandom(2000)).skipped[0].reason
    zero = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")
    res = read_pdf(zero)
    assert res.documents == [] and res.skipped[0].reason


def test_a_long_pdf_is_read_page_by_page(monkeypatch):
    import kb.readers.pdf as pdfmod

    items = [("title", "长文件")]
    for n in range(500):  # 500 pages, one paragraph each
        items += [("para", f"第{n + 1}页的内容。" + LONG_1), ("page", "")]
    data = build_pdf(items[:-1])
    doc = only_doc(data)
    passages = chunk(doc)
    assert doc.metadata["pages"] == 500
    assert passages[-1].page == doc.metadata["pages"]
    # The page limit bounds the work: a file longer than it is read up to it, and says so.
    monkeypatch.setattr(pdfmod, "MAX_PAGES", 10)
    doc = only_doc(data)
    assert max(p.page for p in chunk(doc)) <= 10
    assert "truncated" in doc.metadata


def test_index_run_keeps_other_files_when_a_pdf_is_bad(tmp_path):
    from kb import KnowledgeBase

    src = write_tree(tmp_path / "src", {
        "good.pdf": build_pdf(law_items(3)),
        "bad.pdf": b"%PDF-1.4 not really",
        "locked.pdf": build_pdf(law_items(3), encrypt="pw"),
        "note.txt": "说明\n推进户籍制度改革，放宽落户条件。\n",
    })
    kb = KnowledgeBase(tmp_path / "ix")
    try:
        summary = kb.index([src])
        assert summary.indexed == 2
        assert {Path(s.path).name for s in summary.skipped} == {"bad.pdf", "locked.pdf"}
        assert kb.search("户籍") and kb.search("燃气")
    finally:
        kb.close()


# --- the real PDFs of shared/corpus/documents -----------------------------------------------------------


def _real(name: str):
    path = DOCUMENTS / name
    if not path.exists():
        pytest.skip(f"real documents not available ({path})")
    res = reader_for(path)(Source(path=path, rel=path.name, data=path.read_bytes()))
    return res


def test_real_gazette_law_two_columns_and_footers():
    res = _real("nnzr-中华人民共和国安全生产法（2021年6月修订）.pdf")
    (doc,) = res.documents
    assert doc.title == "中华人民共和国安全生产法"
    assert doc.date == "2021-06-10"
    passages = chunk(doc)
    first = next(p for p in passages if p.text.startswith("第一条"))
    assert first.section.endswith("第一条") and first.section.startswith("第一章")
    assert "制定本法。" in first.text and "\n" not in first.text
    assert not any("常务委员会公报" in p.text for p in passages)
    assert not any("目 录" in p.text or p.text == "目录" for p in passages)


def test_real_web_print_pdf_drops_the_site_chrome():
    res = _real("nnzr-南宁市发展和改革委员会关于南宁市市区管道燃气价格联动有关事项的通知_南发改规〔2025〕4号.pdf")
    (doc,) = res.documents
    assert doc.title == "南宁市发展和改革委员会关于南宁市市区管道燃气价格联动有关事项的通知"
    assert doc.date == "2025-10-11"
    assert doc.metadata.get("doc_number") == "南发改规〔2025〕4号"
    text = " ".join(p.text for p in chunk(doc))
    for chrome in ("无障碍", "当前位置", "网站地图", "ICP", "字体"):
        assert chrome not in text


def test_real_pdfs_each_give_passages_or_a_reason():
    if not DOCUMENTS.is_dir():
        pytest.skip("real documents not available")
    for path in sorted(DOCUMENTS.glob("*.pdf")):
        res = reader_for(path)(Source(path=path, rel=path.name, data=path.read_bytes()))
        if res.documents:
            passages = chunk(res.documents[0])
            assert passages and all(p.page >= 1 for p in passages), path.name
        else:
            assert res.skipped and res.skipped[0].reason, path.name
