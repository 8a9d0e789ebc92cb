"""CSV/TSV: one document per row; text, title, date and id columns found by name; encodings; bad tables."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from conftest import write_tree
from kb.chunking import chunk
from kb.readers import Source, reader_for

ROWS = [
    ["id", "标题", "发布日期", "正文", "来源", "分类"],
    ["p-1", "关于推进户籍制度改革的意见", "2024-03-05", "推进户籍制度改革，放宽落户条件。\n完善居住证制度，推进基本公共服务均等化。",
     "国务院", "政策"],
    ["p-2", "人工智能产业发展措施", "2024年5月1日", "各地出台措施支持人工智能产业发展，建设智能算力中心。", "新华社", "新闻"],
]


def table(rows, *, encoding="utf-8", delimiter=",") -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter).writerows(rows)
    return buf.getvalue().encode(encoding)


def read(data: bytes, name: str = "t.csv"):
    path = Path(name)
    return reader_for(path)(Source(path=path, rel=name, data=data))


def test_one_document_per_row_with_columns_found_by_name():
    res = read(table(ROWS))
    assert res.skipped == []
    a, b = res.documents
    assert (a.id, a.title, a.date, a.source) == ("p-1", "关于推进户籍制度改革的意见", "2024-03-05", "国务院")
    assert (b.id, b.date) == ("p-2", "2024-05-01")
    assert a.metadata["分类"] == "政策" and a.metadata["row"] == 2
    assert [p.text for p in chunk(a)] == ["推进户籍制度改革，放宽落户条件。", "完善居住证制度，推进基本公共服务均等化。"]


def test_english_column_names_and_an_id_free_table():
    rows = [["title", "publish_date", "full_text", "url"],
            ["Notice", "2023-07-01", "推进长三角一体化发展，加强区域协同。", "http://example.gov.cn/1"]]
    (doc,) = read(table(rows), "news.csv").documents
    assert doc.id == "news:2" and doc.title == "Notice" and doc.date == "2023-07-01"
    assert doc.metadata["url"] == "http://example.gov.cn/1"


def test_bom_gbk_and_tsv():
    for data, name in ((b"\xef\xbb\xbf" + table(ROWS), "bom.csv"), (table(ROWS, encoding="gbk"), "gbk.csv"),
                       (table(ROWS, delimiter="\t"), "tabs.tsv")):
        res = read(data, name)
        assert [d.title for d in res.documents] == ["关于推进户籍制度改革的意见", "人工智能产业发展措施"], name


def test_multi_line_quoted_fields_stay_one_document():
    data = ('id,text\n1,"第一段，很长的内容。\n第二段，还是同一行记录。"\n2,"另一条记录的正文内容。"\n').encode()
    docs = read(data).documents
    assert [d.id for d in docs] == ["1", "2"]
    assert "第二段" in docs[0].text


def test_ragged_rows_are_read_as_far_as_they_go():
    rows = [["id", "title", "text"], ["1", "短行"], ["2", "长行", "正文内容在这里，足够长。", "多出来的单元格"],
            ["3", "正常", "另一段正文内容。"]]
    res = read(table(rows))
    assert [d.id for d in res.documents] == ["2", "3"]
    assert res.documents[0].metadata["extra cells"] == ["多出来的单元格"]
    assert [s.line for s in res.skipped] and "row 2" in res.skipped[0].reason


def test_a_table_without_a_text_column_names_its_columns():
    res = read(table([["名称", "数量", "单价"], ["苹果", "3", "5.0"]]))
    assert res.documents == []
    reason = res.skipped[0].reason
    assert "no text column" in reason and "名称, 数量, 单价" in reason


def test_text_column_found_by_content_when_its_name_is_unknown():
    rows = [["编号", "摘录"], ["1", "推进户籍制度改革，放宽落户条件，完善居住证制度，推进基本公共服务均等化。"],
            ["2", "加快建设全国统一大市场，破除地方保护和市场分割，促进商品要素资源畅通流动。"]]
    docs = read(table(rows)).documents
    assert [d.id for d in docs] == ["1", "2"]


def test_binary_and_empty_tables_are_skipped():
    assert read(b"\x00\x01\x02" * 100).skipped[0].reason
    assert "header" in read(b"\n").skipped[0].reason or read(b"\n").skipped


def test_index_and_search_a_csv(tmp_path):
    from kb import KnowledgeBase

    src = write_tree(tmp_path / "src", {"docs.csv": table(ROWS, encoding="gbk")})
    kb = KnowledgeBase(tmp_path / "ix")
    try:
        summary = kb.index([src])
        assert summary.documents == 2
        hits = kb.search("居住证")
        assert hits and hits[0].title == "关于推进户籍制度改革的意见" and hits[0].date == "2024-03-05"
    finally:
        kb.close()
