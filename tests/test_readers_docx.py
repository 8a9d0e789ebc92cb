"""DOCX: styles and numbering give sections, tables row by row, headers/footers/comments left out, bad packages.

Word files are made in the tests with python-docx (a test dependency); the
real DOCX files of ``shared/corpus/documents`` are read when that folder is there.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from pathlib import Path

import pytest

from conftest import CORPUS, write_tree
from kb.chunking import chunk
from kb.readers import Source, reader_for

docx = pytest.importorskip("docx")
from docx.oxml.ns import qn  # noqa: E402
from docx.oxml import OxmlElement  # noqa: E402

DOCUMENTS = Path(os.environ.get("KB_DOCUMENTS") or CORPUS / "documents")
BODY = "各地要加快发展人工智能产业，推进智能制造和数字化转型，培育一批具有核心竞争力的企业。"


def save(d) -> bytes:
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def read_docx(data: bytes, name: str = "doc.docx"):
    path = Path(name)
    return reader_for(path)(Source(path=path, rel=name, data=data))


def only_doc(data: bytes):
    res = read_docx(data)
    assert not res.skipped, res.skipped
    (doc,) = res.documents
    return doc


def styled_document():
    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = "江南省人民政府办公厅（页眉）"
    d.sections[0].footer.paragraphs[0].text = "第 1 页 共 3 页 页脚文字"
    d.add_paragraph("江南省人工智能产业发展规划", style="Title")
    d.add_paragraph("为加快人工智能产业发展，制定本规划。" + BODY)
    d.add_heading("总体要求", level=1)
    p = d.add_paragraph("坚持创新驱动，强化应用牵引。" + BODY)
    d.add_comment(p.runs[0], text="批注：这句需要再斟酌", author="审稿人")
    d.add_heading("发展目标", level=2)
    d.add_paragraph("到2027年，全省人工智能核心产业规模突破1000亿元。" + BODY)
    d.add_heading("重点任务", level=1)
    d.add_paragraph("建设算力基础设施", style="List Number")
    d.add_paragraph("培育行业大模型", style="List Number")
    d.add_paragraph("推进场景应用示范。" + BODY)
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([("项目", "牵头单位", "完成时间"), ("智能算力中心", "省发展改革委", "2025年"),
                             ("行业大模型", "省工业和信息化厅", "2026年")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_paragraph("江南省人民政府")
    d.add_paragraph("2024年3月5日")
    d.core_properties.title = "核心属性里的标题"
    d.core_properties.created = dt.datetime(2023, 1, 2)
    return d


def test_heading_styles_and_title_give_sections():
    doc = only_doc(save(styled_document()))
    assert doc.title == "江南省人工智能产业发展规划"
    passages = chunk(doc)
    sections = {p.text[:6]: p.section for p in passages}
    assert sections["坚持创新驱动"] == "总体要求"
    assert sections["到2027年"] == "总体要求 > 发展目标"
    assert sections["推进场景应用"].startswith("重点任务")


def test_list_numbers_are_rendered():
    doc = only_doc(save(styled_document()))
    text = doc.text
    assert "1. 建设算力基础设施" in text or "1.建设算力基础设施" in text
    assert "2" in text[text.index("培育行业大模型") - 3: text.index("培育行业大模型")]


def test_tables_are_passages_one_row_at_a_time_with_their_header():
    doc = only_doc(save(styled_document()))
    rows = [p.text for p in chunk(doc) if "牵头单位" in p.text]
    assert any("项目：智能算力中心" in r and "牵头单位：省发展改革委" in r and "完成时间：2025年" in r for r in rows)
    assert any("行业大模型" in r and "省工业和信息化厅" in r for r in rows)
    # One row per passage, not a soup of the whole table.
    assert not any("智能算力中心" in r and "行业大模型" in r for r in rows)


def test_headers_footers_and_comments_are_left_out():
    doc = only_doc(save(styled_document()))
    assert "页眉" not in doc.text and "页脚" not in doc.text
    assert "批注" not in doc.text and "斟酌" not in doc.text


def test_date_from_the_signature_before_core_properties():
    doc = only_doc(save(styled_document()))
    assert doc.date == "2024-03-05"
    assert doc.metadata.get("issuer") == "江南省人民政府"
    d = docx.Document()
    d.add_paragraph("一份没有落款日期的文件")
    d.add_paragraph(BODY)
    d.core_properties.title = "核心属性里的标题"
    d.core_properties.created = dt.datetime(2023, 1, 2)
    doc = only_doc(save(d))
    assert doc.date == "2023-01-02"
    assert doc.title == "一份没有落款日期的文件"


def test_core_title_when_the_document_has_none():
    d = docx.Document()
    d.add_paragraph(BODY)
    d.add_paragraph(BODY)
    d.core_properties.title = "核心属性里的标题"
    assert only_doc(save(d)).title == "核心属性里的标题"


def _chinese_numbering(d) -> str:
    """Add a 一、/（一） list definition to ``d``'s numbering part; returns its numId."""
    numbering = d.part.numbering_part.element
    absn = OxmlElement("w:abstractNum")
    absn.set(qn("w:abstractNumId"), "90")
    for ilvl, fmt, text in ((0, "chineseCounting", "%1、"), (1, "chineseCounting", "（%2）")):
        lvl = OxmlElement("w:lvl")
        lvl.set(qn("w:ilvl"), str(ilvl))
        for tag, val in (("w:start", "1"), ("w:numFmt", fmt), ("w:lvlText", text)):
            el = OxmlElement(tag)
            el.set(qn("w:val"), val)
            lvl.append(el)
        absn.append(lvl)
    numbering.insert(0, absn)
    num = OxmlElement("w:num")
    num.set(qn("w:numId"), "90")
    ref = OxmlElement("w:abstractNumId")
    ref.set(qn("w:val"), "90")
    num.append(ref)
    numbering.append(num)
    return "90"


def _numbered(d, text: str, num_id: str, ilvl: int):
    p = d.add_paragraph(text)
    ppr = p._p.get_or_add_pPr()
    numpr = OxmlElement("w:numPr")
    for tag, val in (("w:ilvl", str(ilvl)), ("w:numId", num_id)):
        el = OxmlElement(tag)
        el.set(qn("w:val"), val)
        numpr.append(el)
    ppr.append(numpr)
    return p


def test_automatic_chinese_numbering_gives_sections():
    d = docx.Document()
    d.add_paragraph("关于做好2024年工作的通知", style="Title")
    nid = _chinese_numbering(d)
    _numbered(d, "总体要求", nid, 0)
    d.add_paragraph(BODY)
    _numbered(d, "重点任务", nid, 0)
    _numbered(d, "扩大有效需求", nid, 1)
    d.add_paragraph("实施消费提振行动。" + BODY)
    _numbered(d, "发展新质生产力", nid, 1)
    d.add_paragraph("推动科技创新。" + BODY)
    doc = only_doc(save(d))
    assert "一、总体要求" in doc.text and "二、重点任务" in doc.text
    assert "（一）扩大有效需求" in doc.text and "（二）发展新质生产力" in doc.text
    sections = [p.section for p in chunk(doc)]
    assert any(s.startswith("二、重点任务 > （一）扩大有效需求") for s in sections)
    assert any(s.startswith("二、重点任务 > （二）发展新质生产力") for s in sections)
    assert sections[0] == "一、总体要求"


def test_not_a_zip_and_damaged_packages_are_skipped():
    assert "zip" in read_docx(b"this is not a zip file at all").skipped[0].reason
    data = save(styled_document())
    res = read_docx(data[: len(data) // 2])
    assert res.documents == [] and res.skipped[0].reason
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "no word document here")
    assert "document.xml" in read_docx(buf.getvalue()).skipped[0].reason


def test_a_zip_bomb_is_refused_before_it_is_expanded():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"<" + b" " * (8 * 1024 * 1024))  # 8 MB that deflates a thousandfold
    data = buf.getvalue()
    assert len(data) < 100_000
    res = read_docx(data)
    assert res.documents == []
    assert "zip bomb" in res.skipped[0].reason


def test_declared_sizes_over_the_limit_are_refused(monkeypatch):
    import kb.readers.docx as mod

    monkeypatch.setattr(mod, "MAX_PART_BYTES", 1000)
    res = read_docx(save(styled_document()))
    assert res.documents == [] and "limit" in res.skipped[0].reason


def test_index_run_with_docx_files(tmp_path):
    from kb import KnowledgeBase

    src = write_tree(tmp_path / "src", {"plan.docx": save(styled_document()), "bad.docx": b"PK\x03\x04broken"})
    kb = KnowledgeBase(tmp_path / "ix")
    try:
        summary = kb.index([src])
        assert summary.indexed == 1
        assert [Path(s.path).name for s in summary.skipped] == ["bad.docx"]
        hits = kb.search("智能算力中心")
        assert hits and "牵头单位" in hits[0].text
    finally:
        kb.close()


# --- the real DOCX files ------------------------------------------------------------------------------


def _real(name: str):
    path = DOCUMENTS / name
    if not path.exists():
        pytest.skip(f"real documents not available ({path})")
    res = reader_for(path)(Source(path=path, rel=path.name, data=path.read_bytes()))
    (doc,) = res.documents
    return doc


def test_real_docx_auto_numbered_paragraphs_and_headings():
    doc = _real("wps2txt-综合观测司2011年工作总结和2012年重点工作.docx")
    assert doc.title == "综合观测司2011年工作总结和2012年重点工作"
    passages = chunk(doc)
    assert any(p.section.startswith("一、2011年工作总结 > （1）") for p in passages)
    assert any(p.section.startswith("二、2012年工作思路及重点工作") for p in passages)
    assert all(p.page >= 1 for p in passages)  # Word's rendered page breaks give pages


def test_real_docx_plain_paragraph_headings():
    doc = _real("wps2txt-计划财务司2011年度述职述廉述学报告.docx")
    assert doc.title == "2011年度述职述廉述学报告"
    sections = {p.section for p in chunk(doc)}
    assert any(s.startswith("二、强化改革突出发展") and "（一）注重参与强化指导" in s for s in sections)
