"""Clean passages from real page text: furniture, metadata lines, captions, section paths, dates, HTML bodies.

The strings here differ from the saved pages of ``tests/data/pages`` on purpose:
the rules must hold on wording nobody tuned them for. The saved pages are
checked against their hand labels (``truth.json``) at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write_tree
from kb.chunking import LEAD_SECTION, chunk
from kb.readers import Source, reader_for
from kb.readers.cleaning import clean_title, is_furniture
from kb.text import normalize

PAGES = Path(__file__).parent / "data" / "pages"
BODY = "全市上下坚持稳中求进工作总基调，经济运行总体平稳，城乡居民收入持续增长，民生保障不断加强。"


def read_text(text: str, name: str = "page.txt"):
    path = Path(name)
    res = reader_for(path)(Source(path=path, rel=name, data=text.encode("utf-8")))
    assert not res.skipped, res.skipped
    (doc,) = res.documents
    return doc, chunk(doc)


@pytest.mark.parametrize("line", [
    "【字号 大 中 小】", "打印本页 | 关闭窗口", "当前位置：首页 » 新闻中心 » 本地新闻", "手机扫一扫，随时随地看新闻",
    "分享到：QQ空间 新浪微博 微信", "下载江城新闻客户端", "附件下载>>", "—— 2 ——", "第 12 页 共 30 页", "12/30",
    "版权所有：江城市人民政府办公室", "Copyright © 2026 jiangcheng.gov.cn", "【关闭】【打印】【收藏】", "返回顶部",
    "首页 > 信息公开 > 通知公告 > 正文", "2026年2月1日 星期日 | 无障碍浏览 | 长者模式", "免责声明：本站转载内容仅供参考。",
])
def test_furniture_lines(line):
    assert is_furniture(line), line


@pytest.mark.parametrize("line", [
    "打印机购置补贴政策延续实施。", "首页设计大赛获奖名单公布", "中小企业发展专项资金管理办法", "大中小学思政课一体化建设",
    "关于做好2024年春运工作的通知", "收藏品市场管理规定", BODY, "第三条 国家实行安全生产责任制。", "三、加强组织领导",
])
def test_text_that_only_looks_like_furniture_is_kept(line):
    assert is_furniture(line) is None, line


def test_metadata_lines_become_fields_not_passages():
    doc, passages = read_text("江城市召开经济工作会议\n发布时间：2025年11月3日 10:30  来源：江城市政府网\n作者：王五\n"
                              f"{BODY}\n会议要求，时间：2024年3月至6月，开展专项整治，确保取得实效。\n責任編輯：李四\n")
    assert (doc.date, doc.source, doc.editor) == ("2025-11-03", "江城市政府网", "李四")
    assert doc.metadata.get("author") == "王五"
    texts = " ".join(p.text for p in passages)
    assert "发布时间" not in texts and "作者：" not in texts and "責任編輯" not in texts
    assert "时间：2024年3月至6月" in texts  # a labelled line in the body that is content stays


def test_traditional_script_metadata_keeps_its_script():
    doc, _ = read_text(f"兩岸交流會議舉行\n時間：2026-03-02 來源：海峽導報\n{BODY}\n")
    assert doc.date == "2026-03-02" and doc.source == "海峽導報"


def test_photo_captions_are_neither_passages_nor_headings():
    doc, passages = read_text(
        "江城市政府工作报告\n2月3日，市长张华作政府工作报告。\n本报记者 王五 摄\n"
        f"{BODY}\n市长张华在会上作报告。江城日报记者 孙六 摄影\n一、过去一年的工作\n{BODY}\n"
        "图为新建成的江城大桥。\n（记者 李四 摄）\n" + BODY + "\n")
    for p in passages:
        for caption in ("作政府工作报告", "摄", "图为新建成"):
            assert caption not in p.text, p
            assert caption not in p.section, p


def test_salutations_and_statements_are_not_sections():
    doc, passages = read_text(
        "在全市经济工作会议上的讲话\n同志们：\n今年是全面完成规划目标任务的关键之年。全市上下要坚定信心，真抓实干，确保各项任务落地见效。\n"
        "各位委员！现在，我代表市人民政府，向大会报告工作，请予审议。\n"
        "我们要坚持稳中求进。继续深化改革开放，持续激发市场活力，推动经济实现质的有效提升。\n")
    labels = {lab for p in passages for lab in p.section.split(" > ")}
    assert labels == {LEAD_SECTION}, labels


def test_long_paren_heading_starts_a_section():
    long_heading = "（二）坚持扩大高水平对外开放，积极融入共建“一带一路”，推动外贸外资稳量提质，打造开放合作新高地"
    assert len(long_heading) > 40
    doc, passages = read_text(f"报告\n一、工作回顾\n（一）稳增长成效明显\n{BODY}\n{long_heading}\n"
                              "全年进出口总额增长8%，实际使用外资增长12%。\n新开通国际货运航线5条。\n")
    under = [p for p in passages if "进出口总额" in p.text or "国际货运航线" in p.text]
    assert under and all(p.section.startswith("一、工作回顾 > " + long_heading) for p in under), [p.section for p in under]


def test_inline_heading_adds_its_level_to_its_paragraph_and_the_next():
    doc, passages = read_text(f"报告\n二、今年重点任务\n（三）持续保障和改善民生。{BODY}\n稳定和扩大就业。{BODY}\n三、加强自身建设\n{BODY}\n")
    first = next(p for p in passages if p.text.startswith("（三）"))
    nxt = next(p for p in passages if p.text.startswith("稳定和扩大就业"))
    assert first.section == "二、今年重点任务 > （三）持续保障和改善民生"
    assert nxt.section.startswith("二、今年重点任务 > （三）持续保障和改善民生")
    last = passages[-1]
    assert last.section == "三、加强自身建设"


def test_numbered_lists_in_an_appendix_nest_under_it():
    doc, passages = read_text(f"报告\n一、总体要求\n（一）指导思想\n{BODY}\n附件1：名词注释\n"
                              "1. 新型城镇化：以城乡统筹、产城互动为基本特征的城镇化。\n2. 城乡融合：城市和乡村要素双向流动。\n")
    items = [p for p in passages if p.text.startswith(("1.", "2."))]
    assert len(items) == 2 and all(p.section.startswith("附件1：名词注释") for p in items), [p.section for p in items]


def test_one_sentence_paragraph_directly_under_a_heading_stays_there():
    doc, passages = read_text(f"报告\n（三）加强组织保障\n压实各方责任。\n（四）强化督促检查\n{BODY}\n")
    short = next(p for p in passages if "压实各方责任" in p.text)
    assert short.section.startswith("（三）加强组织保障")


def test_dates_from_the_line_under_the_title_and_the_signature():
    doc, passages = read_text(f"中共江城市委 江城市人民政府关于实施乡村振兴战略的意见\n（2020年5月8日）\n{BODY}\n")
    assert doc.date == "2020-05-08"
    assert doc.title == "中共江城市委 江城市人民政府关于实施乡村振兴战略的意见"
    assert not any("2020年5月8日" in p.text for p in passages)
    doc, passages = read_text(f"关于做好防汛工作的通知\n各区县：\n{BODY}\n江城市防汛抗旱指挥部\n二〇二〇年五月八日\n")
    assert doc.date == "2020-05-08" and doc.metadata.get("issuer") == "江城市防汛抗旱指挥部"
    assert not any("指挥部" in p.text for p in passages)


@pytest.mark.parametrize("title,clean", [
    ("江城市政府工作报告全文_网易订阅", "江城市政府工作报告全文"),
    ("关于做好春运工作的通知-新华网", "关于做好春运工作的通知"),
    ("关于做好春运工作的通知 - 中国政府网", "关于做好春运工作的通知"),
    ("国务院常务会议召开|人民网", "国务院常务会议召开"),
    ("江城市2026年预算报告_财经频道_东方网", "江城市2026年预算报告"),
    ("中共中央 国务院关于实施乡村振兴战略的意见", "中共中央 国务院关于实施乡村振兴战略的意见"),
    ("京津冀协同发展规划纲要-2015", "京津冀协同发展规划纲要-2015"),
])
def test_html_titles_lose_site_suffixes(title, clean):
    assert clean_title(title) == clean


def test_html_source_is_never_a_copyright_footer(tmp_path):
    html = ("<html><head><title>江城发布会召开_江城网</title><meta property='og:site_name' content='江城网版权所有'></head>"
            f"<body><article><h1>江城发布会召开</h1><p>{BODY}</p><p>{BODY}</p></article>"
            "<footer>江城网版权所有 © 2026</footer></body></html>")
    path = tmp_path / "p.html"
    res = reader_for(path)(Source(path=path, rel="p.html", data=html.encode()))
    (doc,) = res.documents
    assert "版权" not in doc.source
    assert doc.title == "江城发布会召开"


def test_yaml_front_matter_is_metadata():
    text = "---\ntitle: 江城市数字经济促进条例\ndate: 2024-01-05\nsource: 江城市人大常委会\nkind: regulation\n---\n\n# 江城市数字经济促进条例\n\n" + BODY + "\n"
    doc, passages = read_text(text, "rule.md")
    assert (doc.title, doc.date, doc.source) == ("江城市数字经济促进条例", "2024-01-05", "江城市人大常委会")
    assert doc.metadata["kind"] == "regulation"
    assert not any("kind:" in p.text or "---" in p.text for p in passages)


def test_look_alike_code_points_match_the_common_characters(tmp_path):
    assert normalize("⼈⼯智能 ⺠⽣ ⻓江") == "人工智能 民生 长江"
    from kb import KnowledgeBase

    src = write_tree(tmp_path / "src", {"a.txt": "通知\n加快发展⼈⼯智能产业，保障⺠⽣。\n依 法 设 立 的 安 全 生 产 机 构 应 当 履 职。\n"})
    kb = KnowledgeBase(tmp_path / "ix")
    try:
        kb.index([src])
        hits = kb.search("人工智能")
        assert hits and "⼈⼯智能" in hits[0].text  # shown as written
        assert kb.search("民生")
        assert kb.search("安全生产")
    finally:
        kb.close()


# --- the saved pages and their hand labels ------------------------------------------------------------


def _truth():
    return {k: v for k, v in json.loads((PAGES / "truth.json").read_text("utf-8")).items() if not k.startswith("_")}


@pytest.mark.parametrize("name", sorted(_truth()))
def test_saved_pages_match_their_labels(name):
    t = _truth()[name]
    path = PAGES / name
    res = reader_for(path)(Source(path=path, rel=name, data=path.read_bytes()))
    assert not res.skipped, res.skipped
    (doc,) = res.documents
    passages = chunk(doc)
    for f in t["furniture"] + t["captions"]:
        assert not any(f in p.text for p in passages), f
    for c in t["captions"] + t["not_headings"]:
        assert not any(c in p.section for p in passages), c
    for b in t["body"]:
        assert any(b in p.text for p in passages), b
    for frag, want in t["sections"].items():
        hits = [p for p in passages if frag in p.text]
        assert hits and all(want in p.section for p in hits), (frag, [p.section for p in hits])
    for key in ("title", "date", "source"):
        if key in t:
            assert getattr(doc, key) == t[key], key
