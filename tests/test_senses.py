"""Word senses in topic tagging, and the shape of the bilingual vocabulary data files.

Sense rules (kb/data/senses.tsv) decide when an ambiguous word counts for a
topic: 落户 of people settling is household registration, 落户 of a company is
not. The data-file tests keep the glossary, abbreviations, segmentation words
and sense rules reviewable: parseable, unique, non-empty Chinese terms.
"""

from __future__ import annotations

import re
from importlib import resources

import pytest

from kb.text import normalize
from kb.lexicon import default_lexicon, glossary, synonyms, tag, topic_by_slug, topics

CJK_TERM = re.compile(r"[\u4e00-\u9fff\u3007]+")


def _data(name: str) -> str:
    return resources.files("kb").joinpath("data", name).read_text("utf-8")


# --- sense rules in tag() -------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "分类放宽城镇落户限制，十年1.4亿农村人口在城镇落户。",
    "促进在城镇稳定就业和生活的农民自愿有序进城落户。",
    "退役士兵安置工作主管部门应当于退役士兵报到时为其开具落户介绍信。",
    "全面放开城区常住人口300万以下城市落户限制。",
])
def test_people_settling_is_household_registration(text):
    assert "household-registration" in tag(text)


@pytest.mark.parametrize("text", [
    "中国星网落户雄安新区后，带动60余家空天信息企业加速集聚。",
    "在成都，累计落户海内外首店超4000家。",
    "鼓励和支持国内外企业总部、区域总部、采购中心、研发中心等总部经济项目优先在西海岸新区落户。",
    "来自日本的尼得科集团已有16个工厂落户嘉兴平湖。",
])
def test_a_company_or_project_locating_is_not_household_registration(text):
    assert "household-registration" not in tag(text)


def test_a_near_cue_must_be_in_the_same_sentence():
    # 人口 is a cue for 落户, but it is in the previous sentence.
    assert "household-registration" not in tag("这里人口稠密。中国星网落户雄安新区。")
    assert "household-registration" in tag("中国星网落户雄安新区。这里放宽了人口落户条件。")


def test_an_excluding_phrase_only_removes_the_occurrence_inside_it():
    venue = "由烈士遗属户籍所在地县级人民政府退役军人工作主管部门发送通知书。"
    assert "household-registration" not in tag(venue)
    assert "household-registration" in tag(venue + "深化户籍制度改革。")


def test_the_section_path_is_its_own_sentence():
    soil = "第四章 风险管控和修复 > 第二节 农用地 > 第四十一条\n未污染和轻微污染的农用地划为优先保护类；"
    assert "rural-land" not in tag(soil)
    land = "第五章 建设用地 > 第四十八条\n征收农用地的土地补偿费、安置补助费标准由省、自治区、直辖市确定。"
    assert "rural-land" in tag(land)


@pytest.mark.parametrize("text,slug,expected", [
    ("促进国民经济持续、快速、健康发展。", "health-care", False),
    ("加强公共卫生体系建设，提高疾病预防控制能力。", "health-care", True),
    ("开展中央八项规定精神学习教育，推动作风建设。", "education", False),
    ("推进义务教育优质均衡发展，改善农村学校办学条件。", "education", True),
    ("县级以上人民政府住房城乡建设主管部门负责风景名胜区监督管理工作。", "housing", False),
    ("今年再完成棚户区住房改造600万套。", "housing", True),
    ("人力资源社会保障部近日启动高校毕业生就业服务专项行动。", "talent", False),
    ("实施更积极、更开放、更有效的人才引进政策。", "talent", True),
    ("中越两党都坚定不移走社会主义道路，都领导各自国家进行社会主义建设。", "infrastructure", False),
    ("今年计划新建、改建农村公路10.5万公里。", "infrastructure", True),
    ("为经济建设和人民安居乐业创造良好的社会环境。", "housing", False),
    ("德国企业暂停在美扩建工厂；工业和信息化部发布数据。", "industry", False),
    ("加快发展先进制造业，推动传统产业转型升级。", "industry", True),
    ("从事证券投资咨询服务业务，应当经国务院证券监督管理机构核准。", "industry", False),
    ("县级以上人民政府应当将文物保护事业纳入本级国民经济和社会发展规划。", "planning", False),
    ("编制国土空间规划，应当报上级人民政府批准。", "planning", True),
])
def test_ambiguous_words_count_only_in_their_topic_sense(text, slug, expected):
    assert (slug in tag(text)) is expected


def test_county_seat_counts_for_urbanization_only_as_an_urbanization_carrier():
    assert "urbanization" not in tag("截至下午2时，河北阜平县城基本恢复供电。")
    assert "urbanization" in tag("推进以县城为重要载体的城镇化建设。")
    assert "urbanization" in tag("增强县城综合承载能力。")


def test_untouched_terms_tag_as_before():
    assert tag("") == ()
    assert tag("推进宅基地制度改革试点") == ("rural-land", "pilot-programmes")
    assert "household-registration" in tag("深化户籍制度改革，全面实施居住证制度")


# --- senses.tsv data -------------------------------------------------------------------


def _sense_rows():
    rows = []
    for n, line in enumerate(_data("senses.tsv").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            rows.append((n, line.split("\t")))
    return rows


def test_sense_rules_parse_and_name_real_terms():
    rows = _sense_rows()
    assert len(rows) >= 40
    seen = set()
    syn = synonyms()
    for n, cols in rows:
        assert len(cols) == 4, f"line {n}: term, target, near cues, exclude cues (tab-separated)"
        term, target, near, exclude = cols
        assert CJK_TERM.fullmatch(term), f"line {n}: {term!r}"
        assert (term, target) not in seen, f"line {n}: duplicate rule for {term} → {target}"
        seen.add((term, target))
        assert near.split() or exclude.split(), f"line {n}: a rule needs at least one cue"
        if target == "*":
            assert any(term in t.terms for t in topics()), f"line {n}: {term} is no topic's term"
        elif CJK_TERM.fullmatch(target):
            assert normalize(term) in syn.get(normalize(target), ()), f"line {n}: {term} is not in {target}'s synonym group"
        else:
            topic = topic_by_slug(target)
            assert topic is not None, f"line {n}: unknown topic {target}"
            assert term in topic.terms, f"line {n}: {term} is not a signal term of {target}"
        for cue in (near + " " + exclude).split():
            assert cue.strip() and re.search(r"[\u4e00-\u9fff]", cue), f"line {n}: cue {cue!r}"
    assert len(default_lexicon().senses()) == len(rows)


# --- glossary.tsv ------------------------------------------------------------------------


def _glossary_rows():
    rows = []
    for n, line in enumerate(_data("glossary.tsv").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            rows.append((n, line))
    return rows


def test_glossary_parses_with_over_a_thousand_unique_entries():
    from kb.lexicon import STOP_WORDS

    rows = _glossary_rows()
    assert len(rows) > 1000
    keys = {}
    for n, line in rows:
        assert line.count("\t") == 1, f"line {n}: english<TAB>中文 中文 …"
        en, zh = line.split("\t")
        key = " ".join(en.lower().replace("-", " ").split())
        assert key not in keys, f"line {n}: duplicate English key {key!r} (line {keys.get(key)})"
        keys[key] = n
        # The query side matches Latin words of letters, up to five words, never starting at a stop word.
        assert re.fullmatch(r"[a-z][a-z' ]*", key), f"line {n}: {en!r}"
        assert len(key.split()) <= 5, f"line {n}: {en!r} is longer than a query phrase can be"
        assert key.split()[0] not in STOP_WORDS, f"line {n}: {en!r} starts with a stop word"
        terms = zh.split()
        assert terms, f"line {n}: no Chinese term"
        assert len(set(terms)) == len(terms), f"line {n}: a Chinese term is repeated"
        for t in terms:
            assert CJK_TERM.fullmatch(t), f"line {n}: {t!r} is not a Chinese term"
    assert len(glossary()) == len(rows)


def test_general_english_words_have_no_misleading_glossary_entry():
    gl = glossary()
    for word in ("economy", "forces", "will", "raised", "settle", "new", "quality"):
        assert word not in gl, word


@pytest.mark.parametrize("english,chinese", [
    ("low-altitude economy", "低空经济"),
    ("trade-in programme", "以旧换新"),
    ("trade-in programs", "以旧换新"),
    ("long-term care insurance", "长期护理保险"),
    ("urban renewal", "城市更新"),
    ("minimum wage", "最低工资"),
    ("new quality productive forces", "新质生产力"),
    ("urbanisation", "城镇化"),
    ("ai", "人工智能"),
])
def test_current_policy_vocabulary_translates_precisely(english, chinese):
    key = " ".join(english.lower().replace("-", " ").split())
    assert glossary()[key][0] == chinese


def test_a_glossary_phrase_outranks_general_dictionary_words(make_kb):
    kb = make_kb({
        "news.jsonl": "\n".join([
            '{"id": "low-altitude", "title": "通用航空", "text": "多地加快发展低空经济，培育无人机物流和通用航空产业。"}',
            '{"id": "thrift", "title": "机关作风", "text": "厉行节约，反对浪费，建设节约型机关，精简会议和文件。"}',
            '{"id": "trade-in", "title": "消费", "text": "加力扩围实施消费品以旧换新，带动汽车和家电销售增长。"}',
        ]),
    })
    ids = [h.id for h in kb.search("low-altitude economy", limit=10)]
    assert ids[:1] == ["low-altitude#1"] and "thrift#1" not in ids
    assert [h.id for h in kb.search("consumer goods trade-in programme", limit=10)][:1] == ["trade-in#1"]


# --- abbreviations.tsv and policy_terms.txt -------------------------------------------------


def test_abbreviations_parse_and_expand_to_chinese_full_forms():
    text = _data("abbreviations.tsv")
    assert "abbreviation<TAB>full form" in text.split("\n\n")[0], "the header states the format"
    seen = set()
    rows = 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        rows += 1
        cols = line.split("\t")
        assert len(cols) >= 2 and all(c.strip() == c and c for c in cols), f"line {n}: abbreviation<TAB>full form…"
        abbr, forms = cols[0], cols[1:]
        assert CJK_TERM.fullmatch(abbr), f"line {n}: {abbr!r}"
        assert abbr not in seen, f"line {n}: duplicate abbreviation {abbr}"
        seen.add(abbr)
        assert len(set(forms)) == len(forms) and abbr not in forms, f"line {n}"
        for f in forms:
            assert re.search(r"[\u4e00-\u9fff]", f) and not re.search(r"\s", f), f"line {n}: {f!r}"
    assert rows >= 100
    assert {"两新", "放管服", "三农", "专精特新", "营改增", "医保", "社保", "中小微"} <= seen


def test_policy_terms_are_unique_chinese_words_the_segmenter_keeps_whole():
    from kb.text.segment import query_words

    words = []
    for line in _data("policy_terms.txt").splitlines():
        if line.strip() and not line.startswith("#"):
            parts = line.split()
            assert len(parts) <= 2 and CJK_TERM.fullmatch(parts[0]), line
            words.append(parts[0])
    assert len(words) == len(set(words))
    for w in ("低空经济", "以旧换新", "新质生产力", "保交房", "长期护理保险", "城市更新"):
        assert query_words(w) == [w]
