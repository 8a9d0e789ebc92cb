"""Searching through KnowledgeBase: ranking, phrases, highlights, operators, filters, get/stats."""

from __future__ import annotations

import pytest

from conftest import SEED_ID
from kb import PassageNotFoundError, QueryError
from kb.text import normalize
from kb.chunking import LEAD_SECTION
from kb.store import FORMAT_VERSION
from kb.highlight import highlight_spans

P = lambda n: f"{SEED_ID}#{n}"  # noqa: E731


def ids(result):
    return [h.id for h in result]


def assert_highlights_are(hit, *words):
    """Every highlight of ``hit`` is one of ``words`` (after normalisation), and there is one."""
    assert hit.highlights, f"{hit.id} has no highlight"
    wanted = {normalize(w) for w in words}
    for s, e in hit.highlights:
        assert normalize(hit.text[s:e]) in wanted, (hit.id, hit.text[s:e])


# --- the seed ----------------------------------------------------------------------


def test_hukou_finds_the_hukou_reform_paragraph_first(seed_kb):
    result = seed_kb.search("户籍")
    assert result, "户籍 found nothing"
    top = result[0]
    assert top.id == P(6)
    assert "户籍改革" in top.text
    assert top.doc_id == SEED_ID
    assert top.title == "山东省新型城镇化暨城乡融合发展工作培训举办"
    assert top.date == "2020-12-01"
    assert top.source == "新华网"
    assert top.section == "完善促进新型城镇化与城乡融合发展的措施和规划"
    assert top.paragraph == 6
    assert "<mark>户籍</mark>" in top.snippet


@pytest.mark.parametrize("query", ["法院", "新华网客户端", "责任编辑", "秦来玲", "一图读懂"])
def test_boilerplate_is_not_searchable(seed_kb, query):
    result = seed_kb.search(query)
    assert ids(result) == []
    assert result.total == 0


def test_traditional_query_finds_simplified_text(seed_kb):
    result = seed_kb.search("戶籍")
    assert result and result[0].id == P(6)
    s, e = result[0].highlights[0]
    assert result[0].text[s:e] == "户籍"


def test_simplified_query_finds_traditional_text(make_kb):
    kb = make_kb({"hk.txt": "港澳資料\n國務院關於進一步推進戶籍制度改革的意見已經發布。\n"})
    result = kb.search("户籍制度")
    assert ids(result) == ["hk#1"]
    hit = result[0]
    (s, e), = hit.highlights
    assert hit.text[s:e] == "戶籍制度"
    assert normalize(hit.text[s:e]) == "户籍制度"


def test_fullwidth_query_matches(seed_kb):
    result = seed_kb.search("６１．５１％")
    assert ids(result)[:1] == [P(2)]
    assert_highlights_are(result[0], "61.51%")


def test_quoted_phrase_matches(seed_kb):
    result = seed_kb.search('"城乡融合发展"')
    assert P(6) in ids(result)
    hit = next(h for h in result if h.id == P(6))
    assert len(hit.highlights) == hit.text.count("城乡融合发展")
    assert_highlights_are(hit, "城乡融合发展")
    # Passages that hold the phrase rank above the ones that do not.
    holders = [h.id for h in result if "城乡融合发展" in h.text]
    assert ids(result)[: len(holders)] == holders


# A tiny document for phrase adjacency. Its title shares no word with the queries.
PHRASE_DOC = {
    "phr.txt": "测试文档\n"
    "各地要加快发展现代服务业，扩大就业规模。\n"  # 加快 发展, adjacent
    "各地要加快城乡融合发展，促进要素双向流动。\n"  # both words, not adjacent
    "发展要有质量，工作节奏还要加快。\n",  # both words, wrong order
}


def test_phrase_needs_adjacent_words(make_kb):
    kb = make_kb(PHRASE_DOC)
    assert ids(kb.search('"加快发展"')) == ["phr#1"]
    assert_highlights_are(kb.search('"加快发展"')[0], "加快发展")


def test_unquoted_words_match_anywhere_in_the_passage(make_kb):
    kb = make_kb(PHRASE_DOC)
    result = kb.search("加快发展")
    assert set(ids(result)) == {"phr#1", "phr#2", "phr#3"}
    assert ids(result)[0] == "phr#1", "the adjacent occurrence ranks first"


def test_phrase_with_order_reversed_does_not_match(make_kb):
    kb = make_kb(PHRASE_DOC)
    assert ids(kb.search('"发展加快"')) == []


# --- highlights ----------------------------------------------------------------------


def test_highlight_spans_are_exact(seed_kb):
    hit = seed_kb.search("人地钱")[0]
    assert hit.id == P(10)
    assert len(hit.highlights) == hit.text.count("人地钱") == 2
    for s, e in hit.highlights:
        assert hit.text[s:e] == "人地钱"


def test_overlapping_matches_are_merged():
    assert highlight_spans("城乡城乡城乡", ["城乡城乡"]) == [(0, 6)]
    assert highlight_spans("要加快发展现代服务业", ["加快发展", "加快", "发展"]) == [(1, 5)]
    assert highlight_spans("加快。发展", ["加快", "发展"]) == [(0, 2), (3, 5)]


def test_search_highlights_merge_overlaps(make_kb):
    kb = make_kb(PHRASE_DOC)
    hit = kb.search("加快发展")[0]
    assert hit.id == "phr#1"
    assert list(hit.highlights) == [(3, 7)]
    assert hit.text[3:7] == "加快发展"
    assert hit.snippet.count("<mark>") == 1
    assert "<mark>加快发展</mark>" in hit.snippet


# --- recall inside longer words, and ranking ---------------------------------------------


def test_word_inside_longer_word_is_found(seed_kb):
    result = seed_kb.search("融合")
    holders = {P(n) for n in (1, 4, 5, 6, 8)}
    assert holders <= set(ids(result))
    hit6 = next(h for h in result if h.id == P(6))
    assert_highlights_are(hit6, "融合")


def test_single_character_inside_a_word_is_found(seed_kb):
    result = seed_kb.search("籍")
    assert ids(result)[:1] == [P(6)]
    assert_highlights_are(result[0], "籍")


LAND_DOC = {
    "land.txt": "测试文档\n"
    "严格控制新增建设用地规模，盘活存量土地资源。\n"  # 建设用地 as words of their own
    "稳妥推进农村集体经营性建设用地入市试点工作。\n"  # only inside one long word
    "加强耕地保护，落实永久基本农田特殊保护制度。\n",
}


def test_substring_of_a_long_word_is_found(make_kb):
    kb = make_kb(LAND_DOC)
    result = kb.search("建设用地")
    assert set(ids(result)) >= {"land#1", "land#2"}
    assert "land#3" not in ids(result)
    hit2 = next(h for h in result if h.id == "land#2")
    assert_highlights_are(hit2, "建设用地")


def test_whole_word_matches_rank_first(make_kb):
    kb = make_kb(LAND_DOC)
    result = kb.search("建设用地")
    assert ids(result)[0] == "land#1"
    assert result[0].score > result[1].score


# --- operators -----------------------------------------------------------------------

BOOL_DOC = {
    "ops.txt": "测试文档\n"
    "试验区建设稳步推进，居住证办理更加便利。\n"  # 1: 试验区 居住证
    "各试验区全面消除城镇中小学大班额问题。\n"  # 2: 试验区 大班额
    "居住证持有人可以参与城中村改造项目。\n"  # 3: 居住证 城中村
    "各地继续着力解决中小学大班额问题。\n",  # 4: 大班额
}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("试验区 居住证", {1}),
        ("试验区 AND 居住证", {1}),
        ("试验区 OR 城中村", {1, 2, 3}),
        ("试验区 NOT 居住证", {2}),
        ("试验区 -居住证", {2}),
        ("(居住证 OR 大班额) 试验区", {1, 2}),
        ("居住证 (试验区 OR 城中村)", {1, 3}),
        ("大班额 -(试验区 OR 居住证)", {4}),
        ("大班额 OR 城中村 -试验区", {2, 3, 4}),  # OR binds loosest: 大班额 OR (城中村 -试验区)
        ('"大班额" NOT "试验区"', {4}),
    ],
)
def test_boolean_operators(make_kb, query, expected):
    kb = make_kb(BOOL_DOC)
    assert set(ids(kb.search(query))) == {f"ops#{n}" for n in expected}


def test_not_excludes_whatever_the_passage_order(make_kb):
    # The excluded word also occurs in a passage *before* the first positive match.
    kb = make_kb({
        "ord.txt": "测试文档\n"
        "试验区建设稳步推进，各项工作有序开展。\n"
        "各试验区全面消除城镇中小学大班额问题。\n"
        "各地继续着力解决中小学大班额问题。\n"
    })
    assert set(ids(kb.search("大班额"))) == {"ord#2", "ord#3"}
    assert ids(kb.search("大班额 -试验区")) == ["ord#3"]
    assert ids(kb.search("大班额 NOT 试验区")) == ["ord#3"]


def test_not_excludes_a_word_found_inside_other_words(make_kb):
    # The segmenter cuts 试验区内 as 试验/区内: 试验区 is found through the character index,
    # and NOT must exclude what a positive search finds.
    kb = make_kb({"seg.txt": "测试文档\n试验区内全面消除城镇中小学大班额问题。\n各地继续着力解决中小学大班额问题。\n"})
    assert ids(kb.search("试验区")) == ["seg#1"]
    assert set(ids(kb.search("大班额"))) == {"seg#1", "seg#2"}
    assert ids(kb.search("大班额 -试验区")) == ["seg#2"]
    assert ids(kb.search("大班额 NOT 试验区")) == ["seg#2"]
    assert ids(kb.search("大班额 -(试验区 OR 居住证)")) == ["seg#2"]


def test_not_on_the_seed(seed_kb):
    with_hukou = set(ids(seed_kb.search("城乡")))
    without = set(ids(seed_kb.search("城乡 -户籍")))
    assert P(6) in with_hukou
    assert P(6) not in without
    assert without and without < with_hukou
    assert set(ids(seed_kb.search("城乡 NOT 户籍"))) == without


@pytest.mark.parametrize("query", ["", "   ", '"户籍', "(户籍", "户籍)", "foo:bar", "NOT 户籍", "户籍 OR", "()"])
def test_malformed_queries_raise_query_error(seed_kb, query):
    with pytest.raises(QueryError) as exc:
        seed_kb.search(query)
    assert str(exc.value).strip()


# --- filters -------------------------------------------------------------------------------


def test_section_filter(seed_kb):
    result = seed_kb.search("section:基础设施 城乡")
    assert ids(result) == [P(7)]
    assert ids(seed_kb.search("城乡", section="公共服务")) == [P(9)]
    assert set(ids(seed_kb.search("城乡", section=LEAD_SECTION))) <= {P(n) for n in range(1, 6)}
    assert ids(seed_kb.search('section:"人地钱" 城乡')) == [P(10)]
    assert ids(seed_kb.search("section:基礎設施 城乡")) == [P(7)], "section values are normalised too"
    assert ids(seed_kb.search("section:没有这一节 城乡")) == []


TWO_DOCS = {
    "old.txt": "旧的通知\n2019-03-05\n试验区建设工作启动，首批名单公布。\n",
    "new.txt": "新的通知\n2021-06-01\n试验区建设工作总结，经验全面推广。\n",
}


def test_doc_filter(make_kb):
    kb = make_kb(TWO_DOCS)
    assert ids(kb.search("试验区", doc="old")) == ["old#1"]
    assert ids(kb.search("doc:new 试验区")) == ["new#1"]
    assert ids(kb.search("试验区", doc="新的")) == ["new#1"]  # text in the title
    assert ids(kb.search("title:旧的 试验区")) == ["old#1"]
    assert ids(kb.search("试验区", doc="no-such-doc")) == []


def test_documents_get_their_dates(make_kb):
    kb = make_kb(TWO_DOCS)
    assert kb.get("old#1").date == "2019-03-05"
    assert kb.get("new#1").date == "2021-06-01"


@pytest.mark.parametrize(
    "since, until, expected",
    [
        (None, None, {"old#1", "new#1"}),
        ("2020", None, {"new#1"}),
        (None, "2020", {"old#1"}),
        ("2019-03-05", "2019-03-05", {"old#1"}),
        ("2019-03", "2019-03", {"old#1"}),
        ("2019-03-06", "2021-05-31", set()),
        ("2021-06-01", None, {"new#1"}),
        (None, "2021-06-01", {"old#1", "new#1"}),
        ("2022", None, set()),
        ("2019年1月1日", None, {"old#1", "new#1"}),
    ],
)
def test_date_filters(make_kb, since, until, expected):
    kb = make_kb(TWO_DOCS)
    assert set(ids(kb.search("试验区", since=since, until=until))) == expected


@pytest.mark.parametrize("kw", [{"since": "not a date"}, {"until": "明天"}])
def test_bad_dates_raise_query_error(seed_kb, kw):
    with pytest.raises(QueryError):
        seed_kb.search("户籍", **kw)


def test_limit(seed_kb):
    result = seed_kb.search("城乡", limit=2)
    assert len(result) == 2
    assert result.total >= 9
    with pytest.raises(QueryError):
        seed_kb.search("城乡", limit=0)


@pytest.mark.parametrize("query", ["城乡", "融合", "户籍 OR 城乡"])
def test_limit_keeps_the_best_hits(seed_kb, query):
    everything = seed_kb.search(query, limit=50)
    scores = [h.score for h in everything]
    assert scores == sorted(scores, reverse=True)
    for k in (1, 2, 3, 5):
        top = seed_kb.search(query, limit=k)
        assert [h.score for h in top] == scores[:k], f"limit={k}"
    assert seed_kb.search(query, limit=3)[0].id == everything[0].id


# --- context, get, stats ------------------------------------------------------------------


def test_context_neighbours(seed_kb):
    hit = seed_kb.search("户籍", context=1)[0]
    assert hit.id == P(6)
    assert [c.id for c in hit.context] == [P(5), P(7)]
    hit = seed_kb.search("户籍", context=2)[0]
    assert [c.id for c in hit.context] == [P(4), P(5), P(7), P(8)]
    assert seed_kb.search("户籍")[0].context == ()


def test_context_stops_at_document_edges(seed_kb):
    assert [c.id for c in seed_kb.get(P(1), context=1).context] == [P(2)]
    assert [c.id for c in seed_kb.get(P(10), context=2).context] == [P(8), P(9)]


def test_get_returns_the_passage(seed_kb):
    hit = seed_kb.get(P(7))
    assert hit.id == P(7)
    assert hit.section == "促进城乡基础设施一体化发展"
    assert hit.text.startswith("促进城乡基础设施一体化发展。")
    assert hit.end - hit.start == len(hit.text)
    assert hit.paragraph == 7


def test_get_split_passage(make_kb):
    para = "推进以人为核心的新型城镇化需要持续深化户籍制度改革。" * 40
    kb = make_kb({"long.txt": f"长文\n{para}\n"})
    first = kb.get("long#1.1")
    second = kb.get("long#1.2", context=1)
    assert first.paragraph == second.paragraph == 1
    assert first.end <= second.start
    assert [c.id for c in second.context][0] == "long#1.1"


@pytest.mark.parametrize("bad", ["nope#1", f"{SEED_ID}#11", f"{SEED_ID}", ""])
def test_get_unknown_id_raises(seed_kb, bad):
    with pytest.raises(PassageNotFoundError):
        seed_kb.get(bad)


def test_stats(seed_kb):
    st = seed_kb.stats()
    assert st.documents == 1
    assert st.passages == 10
    assert st.files == 1
    assert st.format == FORMAT_VERSION
    assert st.size_bytes > 0
    assert st.last_indexed


def test_stats_counts_jsonl_documents(make_kb):
    import json

    lines = "\n".join(
        json.dumps({"id": f"n{i}", "title": f"新闻{i}", "text": f"第{i}条新闻：试验区建设取得新进展，经验得到推广。"}, ensure_ascii=False)
        for i in range(3)
    )
    kb = make_kb({"news.jsonl": lines + "\n", "a.txt": "甲\n户籍制度改革持续推进，落户门槛进一步降低。\n"})
    st = kb.stats()
    assert (st.documents, st.passages, st.files) == (4, 4, 2)


def test_query_syntax_typed_with_a_chinese_input_method(seed_kb):
    # Full-width parentheses, ideographic spaces and ＯＲ work like their ASCII forms;
    # zero-width characters pasted from web pages are ignored.
    assert ids(seed_kb.search("（户籍　ＯＲ　宅基地）")) == ids(seed_kb.search("(户籍 OR 宅基地)"))
    assert ids(seed_kb.search("户\u200b籍")) == ids(seed_kb.search("户籍"))
    assert ids(seed_kb.search("＂户籍改革＂")) == [f"{SEED_ID}#6"]
