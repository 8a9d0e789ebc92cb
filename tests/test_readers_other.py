"""Old Word .doc, WPS .wps and OFD: what is read, and what is skipped with a reason that says what to convert to."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from conftest import CORPUS
from kb.chunking import chunk
from kb.readers import Source, reader_for

DOCUMENTS = Path(os.environ.get("KB_DOCUMENTS") or CORPUS / "documents")


def read(data: bytes, name: str):
    path = Path(name)
    return reader_for(path)(Source(path=path, rel=name, data=data))


def _text_object(oid: int, x: float, y: float, size: float, text: str) -> str:
    deltas = " ".join([f"{size:.2f}"] * (len(text) - 1))
    return (f'<ofd:TextObject ID="{oid}" Font="1" Size="{size}" Boundary="{x} {y} {size * len(text) + 2} {size + 2}">'
            f'<ofd:TextCode X="0" Y="{size}" DeltaX="{deltas}">{text}</ofd:TextCode></ofd:TextObject>')


def build_ofd(pages: list[list[tuple[float, float, float, str]]]) -> bytes:
    """An OFD package: each page a list of text runs (x, y, size, text), y downwards in mm."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", f'<ofd:OFD {ns} Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
                              f'<ofd:DocID>x</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>'
                              f'</ofd:DocBody></ofd:OFD>')
        page_refs = "".join(f'<ofd:Page ID="{k + 10}" BaseLoc="Pages/Page_{k}/Content.xml"/>' for k in range(len(pages)))
        z.writestr("Doc_0/Document.xml", f'<ofd:Document {ns}><ofd:CommonData><ofd:PageArea>'
                                         f'<ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>'
                                         f'</ofd:CommonData><ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>')
        for k, runs in enumerate(pages):
            objs = "".join(_text_object(100 + i, *r) for i, r in enumerate(runs))
            z.writestr(f"Doc_0/Pages/Page_{k}/Content.xml",
                       f'<ofd:Page {ns}><ofd:Content><ofd:Layer ID="1">{objs}</ofd:Layer></ofd:Content></ofd:Page>')
    return buf.getvalue()


LINE = "根据省政府工作安排，现将有关事项函告如下，请贵单位按照要求认真"


def test_ofd_runs_join_into_lines_and_paragraphs():
    page1 = [(30, 30, 8, "关于加快涵洞建设的函"), (25, 50, 5, "区政府："),
             # one sentence split into separately positioned runs, down to single digits (2023 → 202 + 3)
             (35, 60, 5, "根据我市"), (55, 60, 5, "202"), (62.5, 60, 5, "3"), (67.5, 60, 5, "年用地供应计划，现函告如下，请贵单位按照要求认真组织实施"),
             (25, 67, 5, "并于月底前报送结果。"), (100, 280, 4, "— 1 —")]
    page2 = [(25, 30, 5, "特此函告，请各单位于本月底前将落实情况书面报送市住房和城乡建设局。"), (130, 60, 5, "2023年7月12日"), (100, 280, 4, "— 2 —")]
    res = read(build_ofd([page1, page2]), "letter.ofd")
    assert res.skipped == []
    (doc,) = res.documents
    assert doc.title == "关于加快涵洞建设的函"
    assert doc.date == "2023-07-12"
    texts = [p.text for p in chunk(doc)]
    assert any("根据我市2023年用地供应计划" in t for t in texts), texts
    assert not any("— 1 —" in t or "— 2 —" in t for t in texts)
    assert {p.page for p in chunk(doc)} == {1, 2}


def test_ofd_without_text_and_broken_packages_are_skipped():
    res = read(build_ofd([[]]), "scan.ofd")
    assert res.documents == [] and "no text layer" in res.skipped[0].reason
    assert "zip" in read(b"not an ofd", "x.ofd").skipped[0].reason
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "x")
    assert "OFD.xml" in read(buf.getvalue(), "y.ofd").skipped[0].reason


@pytest.mark.parametrize("name,data,needle", [
    ("a.doc", b"{\\rtf1\\ansi \\f0 text}", "RTF"),
    ("b.doc", b"<html><body>saved web page</body></html>", "HTML"),
    ("c.doc", b"\x00\x01random bytes" * 50, "docx"),
    ("d.wps", b"\x00\x01random bytes" * 50, "docx"),
])
def test_unreadable_doc_and_wps_say_what_to_convert_to(name, data, needle):
    res = read(data, name)
    assert res.documents == []
    assert needle in res.skipped[0].reason


def test_a_truncated_word97_file_is_skipped():
    path = DOCUMENTS / "nnzr-南宁市燃气管理条例（2021-08-06发布实施）.doc"
    if not path.exists():
        pytest.skip("real documents not available")
    data = path.read_bytes()
    for cut in (100, 5000, len(data) // 2):
        res = read(data[:cut], "cut.doc")
        assert res.documents or res.skipped[0].reason


def _real(name: str):
    path = DOCUMENTS / name
    if not path.exists():
        pytest.skip(f"real documents not available ({path})")
    res = read(path.read_bytes(), path.name)
    (doc,) = res.documents
    return doc


def test_real_doc_law_articles():
    doc = _real("nnzr-南宁市燃气管理条例（2021-08-06发布实施）.doc")
    assert doc.title == "南宁市燃气管理条例"
    passages = chunk(doc)
    first = next(p for p in passages if p.text.startswith("第一条"))
    assert first.section == "第一条"
    assert "为了加强燃气管理" in first.text


def test_real_wps_is_read_as_word97():
    doc = _real("wps2md-sample.wps")
    assert doc.title == "春季露营活动指南"
    assert any(p.section.startswith("一、活动筹备清单 > 1. 必备露营装备") for p in chunk(doc))


def test_real_ofd_letter_and_reply():
    doc = _real("ofdrw-testPathFillOpacity.ofd")
    assert doc.title == "关于加快南货场铁路涵洞下穿建设的函"
    assert doc.date == "2023-07-12"
    assert "根据我市2023年房地产用地供应计划" in doc.text
    doc = _real("ofdrw-n.ofd")
    assert doc.title == "关于同意张阿三同志辞职的批复"
    assert doc.metadata.get("doc_number") == "路卫发〔2011〕76号"
    assert doc.date == "2011-03-10"
