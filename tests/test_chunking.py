"""Documents → passages: ids, exact spans, boilerplate, section paths, long and tiny paragraphs."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import CORPUS, SEED, SEED_ID, write_tree
from kb.chunking import LEAD_SECTION, MAX_PASSAGE_CHARS, MIN_PASSAGE_CHARS, chunk
from kb.ingest import discover, read_source
from kb.models import Document
from kb.readers import line_blocks

TASK_SECTIONS = [
    "完善促进新型城镇化与城乡融合发展的措施和规划",
    "促进城乡基础设施一体化发展",
    "加快推进城乡产业融合发展",
    "加快推进基本公共服务均等化",
    "深化“人地钱”等体制机制改革",
]


def make_doc(body: str, *, doc_id: str = "t", title: str = "测试标题") -> Document:
    text = f"{title}\n{body}"
    return Document(id=doc_id, title=title, text=text, blocks=tuple(line_blocks(text, len(title) + 1)))


def checked(doc: Document):
    """The passages of ``doc``, after checking the span invariant on every one."""
    passages = chunk(doc)
    for p in passages:
        assert p.text == doc.text[p.start : p.end], p.id
        assert p.text.strip() == p.text and p.text, p.id
        assert p.doc_id == doc.id
    assert [p.seq for p in passages] == list(range(1, len(passages) + 1))
    return passages


@pytest.fixture
def seed_passages(tmp_path):
    d = write_tree(tmp_path / "src", {SEED.name: SEED.read_bytes()})
    files, _, _ = discover([d])
    (doc,), _ = read_source(files[0])
    return doc, checked(doc)


# --- the seed -----------------------------------------------------------------------


def test_seed_has_ten_body_passages(seed_passages):
    _doc, passages = seed_passages
    assert [p.id for p in passages] == [f"{SEED_ID}#{n}" for n in range(1, 11)]
    assert [p.paragraph for p in passages] == list(range(1, 11))
    assert all(p.part == 0 for p in passages)


def test_seed_passage_spans_are_exact(seed_passages):
    doc, passages = seed_passages
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
    assert passages[0].text.startswith("11月25-27日")
    assert passages[-1].text.endswith("解决农业农村融资难的问题。")
    assert [p.start for p in passages] == sorted(p.start for p in passages)


def test_seed_passages_hold_no_boilerplate(seed_passages):
    _doc, passages = seed_passages
    for p in passages:
        for noise in ("责任编辑", "新华网客户端", "法院", "编辑:", "01.12.2020"):
            assert noise not in p.text, (p.id, noise)


def test_seed_task_paragraphs_carry_their_sections(seed_passages):
    _doc, passages = seed_passages
    assert [p.section for p in passages[5:]] == TASK_SECTIONS
    for p, section in zip(passages[5:], TASK_SECTIONS):
        assert p.text.startswith(section + "。")


def test_seed_lead_paragraphs_get_the_lead_section(seed_passages):
    _doc, passages = seed_passages
    assert [p.section for p in passages[:5]] == [LEAD_SECTION] * 5


# --- long and tiny paragraphs ---------------------------------------------------------

SENTENCES = [
    "推进以人为核心的新型城镇化需要持续深化户籍制度改革。",
    "各地要完善农业转移人口市民化配套政策，提高城镇基本公共服务覆盖面！",
    "如何让进城农民住得下、留得住？",
    "要坚持存量优先、带动增量，统筹推进户籍制度改革和城镇基本公共服务均等化；",
    "健全以居住证为载体的基本公共服务提供机制。",
]


def long_paragraph(min_chars: int = 3000) -> str:
    out, i = [], 0
    while sum(map(len, out)) < min_chars:
        out.append(SENTENCES[i % len(SENTENCES)])
        i += 1
    return "".join(out)


def test_long_paragraph_is_split_at_sentence_ends():
    para = long_paragraph()
    assert len(para) >= 3000
    doc = make_doc(f"第一段是普通的开头文字，用来说明背景情况。\n{para}\n最后一段也是普通文字，用来收尾总结。\n")
    passages = checked(doc)
    parts = [p for p in passages if p.paragraph == 2]
    assert len(parts) >= 3000 // MAX_PASSAGE_CHARS
    assert [p.id for p in parts] == [f"t#2.{k}" for k in range(1, len(parts) + 1)]
    assert [p.part for p in parts] == list(range(1, len(parts) + 1))
    for p in parts:
        assert len(p.text) <= MAX_PASSAGE_CHARS
        assert p.text[-1] in "。！？；", f"{p.id} does not end at a sentence end: {p.text[-10:]!r}"
    # The parts tile the paragraph: contiguous, nothing lost, nothing repeated.
    start = doc.text.index(para)
    assert parts[0].start == start
    assert parts[-1].end == start + len(para)
    for a, b in zip(parts, parts[1:]):
        assert a.end <= b.start
        assert doc.text[a.end : b.start].strip() == ""
    assert "".join(p.text for p in parts) == para
    # Paragraph numbering goes on after the split paragraph.
    assert [p.id for p in passages if p.paragraph != 2] == ["t#1", "t#3"]


def test_long_paragraph_without_sentence_ends_is_still_bounded():
    para = "、".join(["城乡融合发展试验区建设"] * 200)  # one 2,000+ char "sentence"
    doc = make_doc(para + "\n")
    passages = checked(doc)
    assert len(passages) > 1
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)
    assert "".join(p.text for p in passages) == para


def test_tiny_line_is_merged_not_its_own_passage():
    tiny = "附件"
    assert len(tiny) < MIN_PASSAGE_CHARS
    doc = make_doc(f"这是第一段正常长度的文字内容，用于测试合并。\n{tiny}\n这是第三段正常长度的文字内容，也用于测试。\n")
    passages = checked(doc)
    assert len(passages) == 2
    assert not any(p.text == tiny for p in passages)
    assert sum(tiny in p.text for p in passages) == 1


def test_tiny_first_line_joins_the_next_paragraph():
    doc = make_doc("各位代表：\n现在，我代表国务院，向大会报告政府工作，请予审议。\n")
    passages = checked(doc)
    assert len(passages) == 1
    assert passages[0].text.startswith("各位代表：")
    assert passages[0].text.endswith("请予审议。")


# --- section paths from document structure ---------------------------------------------

LAW = """第一章 总则
第一条 为了加强土地管理，维护土地的社会主义公有制，制定本法。
第二条 中华人民共和国实行土地的社会主义公有制，即全民所有制和劳动群众集体所有制。
第二章 土地的所有权和使用权
第九条 城市市区的土地属于国家所有。
农村和城市郊区的土地，除由法律规定属于国家所有的以外，属于农民集体所有；宅基地和自留地、自留山，属于农民集体所有。
第十条 国有土地和农民集体所有的土地，可以依法确定给单位或者个人使用。
"""


def test_law_articles_give_chapter_and_article_paths():
    passages = checked(make_doc(LAW, doc_id="law", title="中华人民共和国测试法"))
    got = [(p.section, p.text[:12]) for p in passages]
    assert got == [
        ("第一章 总则 > 第一条", "第一条 为了加强土地管理"),
        ("第一章 总则 > 第二条", "第二条 中华人民共和国实"),
        ("第二章 土地的所有权和使用权 > 第九条", "第九条 城市市区的土地属"),
        ("第二章 土地的所有权和使用权 > 第九条", "农村和城市郊区的土地，除"),
        ("第二章 土地的所有权和使用权 > 第十条", "第十条 国有土地和农民集"),
    ]
    # Headings are sections, never passages.
    assert not any(p.text.startswith("第二章") for p in passages)


WORK_REPORT = """各位代表：
现在，我代表国务院，向大会报告政府工作，请予审议。
一、2018年工作回顾
过去一年是全面贯彻党的十九大精神开局之年，我国发展面临多年少有的国内外复杂严峻形势。
（一）创新和完善宏观调控，经济运行保持在合理区间。
积极的财政政策取向更加积极，稳健的货币政策保持松紧适度。
（二）扎实推进供给侧结构性改革，促进经济结构优化。
加大破除无效供给力度，继续推进钢铁、煤炭等行业去产能。
二、2019年经济社会发展总体要求和政策取向
今年是新中国成立70周年，是全面建成小康社会关键之年。
"""


def test_work_report_numbered_headings_nest():
    passages = checked(make_doc(WORK_REPORT, doc_id="gwr", title="政府工作报告"))
    got = [(p.section, p.text[:8]) for p in passages]
    assert got == [
        (LEAD_SECTION, "各位代表：\n现在"),
        ("一、2018年工作回顾", "过去一年是全面贯"),
        ("一、2018年工作回顾 > （一）创新和完善宏观调控，经济运行保持在合理区间", "积极的财政政策取"),
        ("一、2018年工作回顾 > （二）扎实推进供给侧结构性改革，促进经济结构优化", "加大破除无效供给"),
        ("二、2019年经济社会发展总体要求和政策取向", "今年是新中国成立"),
    ]


# --- the real corpus (one record / one file each) ------------------------------------------


def _need_corpus(rel: str):
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"real corpus not available ({path})")
    return path


def test_real_land_administration_law_has_article_nine_under_chapter_two(tmp_path):
    shard = _need_corpus("laws/national-xingzhengfa.jsonl")
    record = None
    with open(shard, encoding="utf-8") as f:
        for line in f:
            if '"中华人民共和国土地管理法"' in line:
                rec = json.loads(line)
                if rec.get("title") == "中华人民共和国土地管理法":
                    record = line
                    break
    assert record is not None, "土地管理法 is missing from the corpus shard"
    d = write_tree(tmp_path / "src", {"law.jsonl": record})
    files, _, _ = discover([d])
    docs, skipped = read_source(files[0])
    assert skipped == []
    (doc,) = docs
    passages = checked(doc)
    ninth = [p for p in passages if p.section == "第二章 土地的所有权和使用权 > 第九条"]
    assert ninth, sorted({p.section for p in passages})[:20]
    assert ninth[0].text.startswith("第九条")
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)


def test_real_2019_work_report_sections(tmp_path):
    report = _need_corpus("gov-work-reports/txt/gwr-2019.txt")
    manifest = _need_corpus("gov-work-reports/manifest.jsonl")
    line = next(ln for ln in manifest.read_text("utf-8").splitlines() if json.loads(ln).get("id") == "gwr-2019")
    d = write_tree(tmp_path / "gwr", {"manifest.jsonl": line + "\n"})
    (d / "txt").mkdir()
    shutil.copy(report, d / "txt" / "gwr-2019.txt")
    files, _, manifests = discover([d])
    (sf,) = files
    (doc,), skipped = read_source(sf, manifests.get(sf.key))
    assert skipped == []
    assert doc.id == "gwr-2019"
    assert doc.title == "2019年中华人民共和国国务院政府工作报告"
    assert doc.date == "2019"
    passages = checked(doc)
    review = [p for p in passages if p.section.split(" > ")[0] == "一、2018年工作回顾"]
    assert len(review) >= 5
    assert any(p.section == "一、2018年工作回顾" for p in review)
    assert any(p.section.startswith("二、2019年") for p in passages)
    assert passages[0].section == LEAD_SECTION
