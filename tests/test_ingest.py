"""Files → documents: metadata, boilerplate, encodings, formats, manifests, dates."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conftest import SEED, SEED_ID, write_tree
from kb import KnowledgeBase
from kb.chunking import chunk
from kb.ingest import discover, read_source
from kb.text.dates import normalize_date

SEED_TITLE = "山东省新型城镇化暨城乡融合发展工作培训举办"


def ingest(path: Path):
    """Documents and skips for every file under ``path``, as the indexer reads them."""
    files, skipped, manifests = discover([path])
    docs = []
    skipped = list(skipped)
    for sf in files:
        d, s = read_source(sf, manifests.get(sf.key))
        docs.extend(d)
        skipped.extend(s)
    return docs, skipped


def seed_doc(tmp_path):
    docs, skipped = ingest(write_tree(tmp_path / "src", {SEED.name: SEED.read_bytes()}))
    assert skipped == []
    assert len(docs) == 1
    return docs[0]


def passage_view(doc):
    """What a reader sees of a document's passages, independent of its file name."""
    return [(p.paragraph, p.part, p.section, p.text) for p in chunk(doc)]


# --- the seed article ---------------------------------------------------------


def test_seed_metadata(tmp_path):
    doc = seed_doc(tmp_path)
    assert doc.id == SEED_ID
    assert doc.title == SEED_TITLE
    assert doc.date == "2020-12-01"
    assert doc.editor == "秦来玲"
    assert doc.source == "新华网"
    assert doc.format == "txt"


def test_seed_body_ends_before_editor_line(tmp_path):
    doc = seed_doc(tmp_path)
    b0, b1 = doc.blocks[0].start, doc.blocks[-1].end
    body = doc.text[b0:b1]
    assert body.rstrip().endswith("解决农业农村融资难的问题。")
    assert doc.text[b1:].lstrip().startswith("[ 责任编辑:秦来玲 ]")
    for boilerplate in ("责任编辑", "新华网客户端", "法院", "一图读懂"):
        assert boilerplate not in body
    # The header (title and date line) is not body either.
    assert SEED_TITLE not in body
    assert "01.12.2020" not in body
    assert body.strip().startswith("11月25-27日")


# --- encodings ------------------------------------------------------------------


def _encodings():
    raw = SEED.read_text("utf-8")
    return {
        "gb18030": raw.encode("gb18030"),
        "utf-16-bom": raw.encode("utf-16"),  # BOM + native order
        "utf-16-be-bom": b"\xfe\xff" + raw.encode("utf-16-be"),
        "utf-8-bom": raw.encode("utf-8-sig"),
        "crlf": raw.replace("\n", "\r\n").encode("utf-8"),
        "gb18030-crlf": raw.replace("\n", "\r\n").encode("gb18030"),
        "utf-16-crlf": raw.replace("\n", "\r\n").encode("utf-16"),
        "cr-only": raw.replace("\n", "\r").encode("utf-8"),
    }


@pytest.mark.parametrize("name", sorted(_encodings()))
def test_encodings_decode_to_same_passages(tmp_path, name):
    reference = seed_doc(tmp_path / "ref")
    docs, skipped = ingest(write_tree(tmp_path / "enc", {f"{name}.txt": _encodings()[name]}))
    assert skipped == []
    assert len(docs) == 1
    doc = docs[0]
    assert (doc.title, doc.date, doc.source, doc.editor) == (SEED_TITLE, "2020-12-01", "新华网", "秦来玲")
    assert doc.text == reference.text
    assert "\r" not in doc.text and "\ufeff" not in doc.text
    assert passage_view(doc) == passage_view(reference)
    assert len(passage_view(doc)) == 10


def test_binary_and_undecodable_files_are_skipped_and_others_index(tmp_path):
    rng = random.Random(7)
    src = write_tree(
        tmp_path / "src",
        {
            SEED.name: SEED.read_bytes(),
            "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(2000)),
            "garbled.txt": bytes(rng.randrange(0x80, 0x100) for _ in range(3000)),
            "bad-bom.txt": b"\xef\xbb\xbf" + "正文".encode("utf-8") + b"\xff\xfe\xc3\x28" * 20,
        },
    )
    kb = KnowledgeBase(tmp_path / "ix")
    try:
        summary = kb.index([src])
        by_name = {Path(s.path).name: s for s in summary.skipped}
        assert set(by_name) == {"image.txt", "garbled.txt", "bad-bom.txt"}
        for name, s in by_name.items():
            assert Path(s.path) == (src / name).absolute(), "the skip names the file"
            assert s.reason.strip(), f"{name} was skipped without a reason"
            assert s.kind == "file"
        assert "binary" in by_name["image.txt"].reason
        assert summary.indexed == 1
        assert summary.total_documents == 1
        hits = kb.search("户籍")
        assert hits and hits[0].id == f"{SEED_ID}#6"
    finally:
        kb.close()


def test_empty_and_unsupported_files_are_reported(tmp_path):
    docs, skipped = ingest(
        write_tree(tmp_path / "src", {"empty.txt": "", "scan.pdf": b"%PDF-1.4\n", "ok.txt": "标题\n推进户籍制度改革，放宽落户条件。\n"})
    )
    assert [d.id for d in docs] == ["ok"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert set(reasons) == {"empty.txt", "scan.pdf"}
    assert "pdf" in reasons["scan.pdf"].lower()  # a truncated PDF: "not a readable PDF (...)"


# --- Markdown --------------------------------------------------------------------

MD = """# 关于深化改革的说明

引言部分的一段文字，介绍本文的背景情况。

## 户籍制度

推进户籍制度改革，放宽城市落户条件，促进人口有序流动。

### 居住证

全面实施居住证制度，推动基本公共服务覆盖常住人口。

## 土地制度

深化农村宅基地制度改革试点，稳慎推进。
同一段落的第二行，仍然属于土地制度这一节。
"""


def test_markdown_headings_give_sections(tmp_path):
    docs, skipped = ingest(write_tree(tmp_path / "src", {"note.md": MD}))
    assert skipped == []
    (doc,) = docs
    assert doc.title == "关于深化改革的说明"
    assert doc.format == "md"
    got = [(p.section, p.text) for p in chunk(doc)]
    assert got == [
        ("导语", "引言部分的一段文字，介绍本文的背景情况。"),
        ("户籍制度", "推进户籍制度改革，放宽城市落户条件，促进人口有序流动。"),
        ("户籍制度 > 居住证", "全面实施居住证制度，推动基本公共服务覆盖常住人口。"),
        ("土地制度", "深化农村宅基地制度改革试点，稳慎推进。\n同一段落的第二行，仍然属于土地制度这一节。"),
    ]
    assert all("#" not in p.text for p in chunk(doc))


# --- JSONL ------------------------------------------------------------------------


def _jsonl(*records) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records) + "\n"


GOOD_1 = {
    "id": "law-0001",
    "title": "测试管理条例",
    "date": "2019-08-26",
    "source": "国务院",
    "text": "测试管理条例\n第一条 为了加强土地管理，维护土地的社会主义公有制，制定本条例。\n第二条 本条例适用于全国。",
    "category": "行政法规",
    "path": "行政法规/测试管理条例(2019-08-26).md",
    "url": "https://example.org/law/1",
}
GOOD_2 = {"id": "news-0002", "title": "城乡融合新闻", "date": "2021年6月1日", "source": "新闻联播", "text": "城乡融合发展试验区建设取得积极进展，各地探索形成一批经验。"}


def test_jsonl_fields_and_extra_metadata(tmp_path):
    docs, skipped = ingest(write_tree(tmp_path / "src", {"shard.jsonl": _jsonl(GOOD_1, GOOD_2)}))
    assert skipped == []
    first, second = docs
    assert (first.id, first.title, first.date, first.source) == ("law-0001", "测试管理条例", "2019-08-26", "国务院")
    assert first.format == "jsonl"
    assert first.metadata["category"] == "行政法规"
    assert first.metadata["path"] == "行政法规/测试管理条例(2019-08-26).md"
    assert first.metadata["url"] == "https://example.org/law/1"
    for core in ("id", "title", "date", "source", "text"):
        assert core not in first.metadata
    # The title line repeated at the top of the text is not a passage.
    assert [p.text for p in chunk(first)] == [
        "第一条 为了加强土地管理，维护土地的社会主义公有制，制定本条例。",
        "第二条 本条例适用于全国。",
    ]
    assert (second.id, second.date, second.source) == ("news-0002", "2021-06-01", "新闻联播")
    assert [p.text for p in chunk(second)] == [GOOD_2["text"]]


def test_jsonl_malformed_line_is_skipped_with_its_line_number(tmp_path):
    content = _jsonl(GOOD_1, '{"id": "broken", "text": "没有结束的字符串', GOOD_2)
    docs, skipped = ingest(write_tree(tmp_path / "src", {"shard.jsonl": content}))
    assert [d.id for d in docs] == ["law-0001", "news-0002"]
    (s,) = skipped
    assert s.kind == "line"
    assert s.line == 2
    assert "2" in s.reason and "JSON" in s.reason
    assert "shard.jsonl" in s.path


def test_jsonl_line_without_text_is_skipped(tmp_path):
    content = _jsonl({"id": "no-text", "title": "只有标题"}, GOOD_2, {"id": "empty-text", "title": "空", "text": "  "})
    docs, skipped = ingest(write_tree(tmp_path / "src", {"shard.jsonl": content}))
    assert [d.id for d in docs] == ["news-0002"]
    assert sorted(s.line for s in skipped) == [1, 3]
    assert all(s.kind == "line" for s in skipped)
    assert any("text" in s.reason for s in skipped if s.line == 1)


def test_jsonl_bad_lines_do_not_stop_indexing(tmp_path):
    content = _jsonl(GOOD_1, "{not json", {"id": "no-text"}, GOOD_2)
    src = write_tree(tmp_path / "src", {"shard.jsonl": content})
    with KnowledgeBase(tmp_path / "ix") as kb:
        summary = kb.index([src])
        assert sorted(s.line for s in summary.skipped) == [2, 3]
        assert summary.total_documents == 2
        assert [h.id for h in kb.search("试验区")] == ["news-0002#1"]
        assert kb.get("law-0001#1").metadata["category"] == "行政法规"


# --- HTML -------------------------------------------------------------------------

ARTICLE = [
    "11月25日至27日，山东省在济南举办全省新型城镇化暨城乡融合发展工作培训，约500人参加此次培训，系统学习相关政策和理论。",
    "据了解，“十三五”以来，山东坚持推进以人为核心的新型城镇化，全省常住人口城镇化率达到61.51%，城市群协调发展机制更加健全。",
    "下一步，山东将深化户籍制度改革，推动农业转移人口有序进城落户，保障农村“三权”，稳妥推进农村宅基地制度改革。",
]

HTML = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>山东推进城乡融合发展_新华网</title>
<meta name="publishdate" content="2020-12-01">
<meta property="article:published_time" content="2020-12-01T06:00:00+08:00">
<script>var tracker = "广告统计脚本内容"; function f() {{ return "脚本里的中文字符串"; }}</script>
</head>
<body>
<nav><ul><li><a href="/">首页</a></li><li><a href="/politics">时政频道导航</a></li><li><a href="/local">地方频道导航</a></li></ul></nav>
<div class="header">网站头部导航栏文字</div>
<article>
<h1>山东推进城乡融合发展</h1>
{"".join(f"<p>{p}</p>" for p in ARTICLE)}
</article>
<div class="related"><h3>相关新闻</h3><ul>
<li><a href="/a1">济南章丘法院强制腾房一日成功交付两处房产</a></li>
<li><a href="/a2">山东青年创新创业大赛颁奖暨泉城青年创新大会举行</a></li>
</ul></div>
<footer><p>版权所有 新华网 欢迎下载新华网客户端 京ICP证010042号</p></footer>
<script>document.write("底部脚本写入的文字");</script>
</body>
</html>
"""


def test_html_title_date_and_article_paragraphs(tmp_path):
    docs, skipped = ingest(write_tree(tmp_path / "src", {"news.html": HTML}))
    assert skipped == []
    (doc,) = docs
    assert doc.format == "html"
    assert "山东推进城乡融合发展" in doc.title
    assert doc.date == "2020-12-01"
    texts = [p.text for p in chunk(doc)]
    assert texts == ARTICLE
    for noise in ("首页", "导航", "脚本", "tracker", "相关新闻", "法院", "版权所有", "客户端", "ICP"):
        assert not any(noise in t for t in texts), noise


def test_html_boilerplate_is_not_searchable(tmp_path):
    src = write_tree(tmp_path / "src", {"news.html": HTML})
    with KnowledgeBase(tmp_path / "ix") as kb:
        summary = kb.index([src])
        assert summary.skipped == ()
        assert summary.total_passages == 3
        assert [h.id for h in kb.search("户籍")] == ["news#3"]
        assert len(kb.search("法院")) == 0
        assert len(kb.search("版权所有")) == 0


# --- dates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("01.12.2020", "2020-12-01"),
        ("2020年12月1日", "2020-12-01"),
        ("2020-12", "2020-12"),
        ("2020", "2020"),
        ("garbage", ""),
        ("明天", ""),
        ("", ""),
        (None, ""),
        ("2020-12-01", "2020-12-01"),
        ("2020/12/1", "2020-12-01"),
        ("2020年12月", "2020-12"),
        ("2020-12-01T06:00:00+08:00", "2020-12-01"),
        (" 2020年 ", "2020"),
    ],
)
def test_normalize_date(value, expected):
    assert normalize_date(value) == expected


# --- manifest ---------------------------------------------------------------------


def test_manifest_supplies_id_title_and_date(tmp_path):
    manifest = _jsonl(
        {"id": "gwr-2019", "title": "2019年政府工作报告", "date": "2019年3月5日", "source": "国务院", "kind": "government_work_report", "file": "txt/report.txt", "chars": 40},
    )
    src = write_tree(
        tmp_path / "src",
        {
            "manifest.jsonl": manifest,
            "txt/report.txt": "报告正文的标题行\n\n现在，我代表国务院，向大会报告政府工作，请予审议。\n",
            "txt/other.txt": "另一份文件\n\n这一份文件不在清单里，使用默认的元数据。\n",
        },
    )
    docs, skipped = ingest(src)
    assert skipped == []
    by_id = {d.id: d for d in docs}
    assert set(by_id) == {"gwr-2019", "txt/other"}, "the manifest itself is not a document"
    report = by_id["gwr-2019"]
    assert report.title == "2019年政府工作报告"
    assert report.date == "2019-03-05"
    assert report.source == "国务院"
    assert report.metadata.get("kind") == "government_work_report"
    assert "file" not in report.metadata
    other = by_id["txt/other"]
    assert other.title == "另一份文件"
    assert other.date == ""
    with KnowledgeBase(tmp_path / "ix") as kb:
        kb.index([src])
        hit = kb.get("gwr-2019#1")
        assert (hit.title, hit.date) == ("2019年政府工作报告", "2019-03-05")
        assert kb.stats().documents == 2


def test_utf8_with_a_damaged_byte_keeps_its_text(tmp_path):
    body = "各地推进户籍制度改革，放宽落户条件。" * 60
    data = ("标题\n\n" + body + "\n").encode("utf-8")
    cut = data.index("落户".encode()) + 1  # break one character in the middle
    damaged = data[:cut] + b"\xff" + data[cut + 2 :]
    src = write_tree(tmp_path / "src", {"damaged.txt": damaged, "fine.txt": "标题\n\n乡村教师队伍建设。\n"})
    kb = KnowledgeBase(tmp_path / "ix")
    summary = kb.index([src])
    assert summary.skipped == () and summary.indexed == 2
    hits = kb.search("户籍制度改革", limit=20)
    assert {h.doc_id for h in hits} == {"damaged"}
    assert any("\ufffd" in h.text for h in hits)  # the damaged character, marked, not dropped silently
