"""Topic search across languages: a relevance table over the seed and a few small documents.

Each row says which passage a query must find and the rank it must reach
(1 = first, 3 = within the first three). The rows cover Chinese, English,
mixed, pinyin, traditional characters, synonyms and misspellings.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from kb import KnowledgeBase
from kb.cli import main

from conftest import SEED, SEED_ID

S = SEED_ID + "#"

LAND_LAW_MD = """# 土地管理法（节选）

## 第五章 建设用地

第六十二条 农村村民一户只能拥有一处宅基地，其宅基地的面积不得超过省、自治区、直辖市规定的标准。

第六十三条 土地利用总体规划、城乡规划确定为工业、商业等经营性用途，并经依法登记的集体经营性建设用地，土地所有权人可以通过出让、出租等方式交由单位或者个人使用。
"""

NEWS_JSONL = [
    {"id": "news-hukou", "title": "多地放宽落户限制", "date": "2024-05-01", "source": "新华社",
     "text": "近日，多地出台措施放宽城市落户限制，全面取消城区常住人口300万以下城市落户限制，推行以经常居住地登记户口制度。持有居住证的农业转移人口可以在居住地享受基本公共服务。"},
    {"id": "news-school", "title": "乡村学校建设", "date": "2023-03-01", "source": "新华社",
     "text": "加强乡村教师队伍建设，改善农村学校办学条件，推动义务教育优质均衡发展，让农村孩子就近上好学。"},
    {"id": "news-english", "title": "Hukou reform explained", "date": "2024", "source": "Example Weekly",
     "text": "The hukou system ties public services to household registration. Reform of the household registration system lets migrant workers settle in cities."},
]

TRAD_TXT = "戶籍制度改革穩步推進\n\n2022-01-10\n\n各地積極推進戶籍制度改革，放寬落戶條件，讓更多農業轉移人口在城鎮落戶，享有同等的公共服務。\n"

# The seed alone: (query, passages of which one must reach the rank, rank).
SEED_RELEVANCE = [
    ("户籍", {S + "6"}, 1),
    ("落户", {S + "10"}, 1),
    ("宅基地", {S + "10"}, 1),
    ("household registration", {S + "6", S + "10"}, 1),
    ("household registration", {S + "6"}, 2),
    ("rural land reform", {S + "10"}, 1),
    ("户籍改革", {S + "6"}, 1),
    ("农村土地制度改革", {S + "10"}, 1),
    ("hukou", {S + "6", S + "10"}, 1),
    ("migrant workers", {S + "10", S + "8"}, 1),
    ("public services", {S + "9"}, 1),
    ("infrastructure", {S + "7"}, 1),
    ("urbanization rate", {S + "2"}, 1),
    ("pilot programmes", {S + "3"}, 3),
    ("elderly care", {S + "9"}, 1),
    ("vocational training", {S + "8", S + "10"}, 1),
    ("huji", {S + "6"}, 1),
    ("zhaijidi", {S + "10"}, 1),
    ("Li Chunlei", {S + "4"}, 1),
    ("戶籍", {S + "6"}, 1),
    ("户藉", {S + "6"}, 1),
    ("宅基低", {S + "10"}, 1),
    ("houshold registration", {S + "6", S + "10"}, 1),
]

# The seed plus a law excerpt, news items (one in English) and a traditional-character file.
RELEVANCE = [
    # Chinese
    ("户籍", {S + "6"}, 3),
    ("宅基地", {S + "10"}, 3),
    ("宅基地", {"land-law#1"}, 3),
    ("集体经营性建设用地", {"land-law#2"}, 1),
    ("建设用地", {"land-law#2"}, 3),
    ('"城乡融合发展"', {S + "6"}, 3),
    # English topics
    ("household registration", {"news-hukou#1", "trad#1", "news-english#1"}, 1),
    ("household registration", {"news-hukou#1"}, 3),
    ("rural land reform", {S + "10"}, 1),
    ("rural land reform", {"land-law#1", "land-law#2"}, 3),
    ("hukou", {"news-hukou#1"}, 3),
    ("homestead", {"land-law#1"}, 3),
    ("migrant workers", {S + "10", S + "8", "news-hukou#1", "trad#1", "news-english#1"}, 1),
    ("public services", {S + "9"}, 3),
    ("infrastructure", {S + "7"}, 1),
    ("vocational training", {S + "8"}, 3),
    ("compulsory education", {"news-school#1"}, 1),
    # English words that occur literally
    ("household registration system", {"news-english#1"}, 3),
    # Mixed
    ("户籍 reform", {S + "6", "trad#1"}, 1),
    ("rural 宅基地", {S + "10", "land-law#1"}, 1),
    ("rural 宅基地", {S + "10"}, 2),
    # Pinyin
    ("huji", {S + "6"}, 3),
    ("zhaijidi", {S + "10"}, 3),
    ("Li Chunlei", {S + "4"}, 1),
    ("lichunlei", {S + "4"}, 1),
    # Traditional characters, both ways
    ("戶籍", {S + "6"}, 3),
    ("户籍制度改革", {"trad#1"}, 1),
    # Synonyms (the exact word ranks first)
    ("户口", {"news-hukou#1"}, 1),
    ("户口", {S + "10"}, 3),
    ("农村宅基地", {"land-law#1"}, 3),
    # Misspellings: the suggestion's results are shown
    ("户藉", {S + "6"}, 3),
    ("宅基低", {S + "10"}, 3),
    ("houshold registration", {"news-hukou#1"}, 3),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("relevance")
    docs = root / "docs"
    docs.mkdir()
    shutil.copy(SEED, docs / SEED.name)
    (docs / "land-law.md").write_text(LAND_LAW_MD, encoding="utf-8")
    (docs / "news.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in NEWS_JSONL), encoding="utf-8")
    (docs / "trad.txt").write_text(TRAD_TXT, encoding="utf-8")
    index = root / "index"
    with KnowledgeBase(index) as kb:
        summary = kb.index([docs])
    assert not summary.skipped
    return index


@pytest.fixture
def kb(corpus):
    with KnowledgeBase(corpus) as kb:
        yield kb


def _check(kb, query, expected, rank):
    ids = [h.id for h in kb.search(query, limit=10, correct=True)]
    assert expected & set(ids[:rank]), f"{query!r}: none of {sorted(expected)} in top {rank}: {ids}"


@pytest.mark.parametrize("query,expected,rank", SEED_RELEVANCE, ids=[f"seed:{q}@{r}" for q, _e, r in SEED_RELEVANCE])
def test_seed_relevance_table(seed_kb, query, expected, rank):
    _check(seed_kb, query, expected, rank)


@pytest.mark.parametrize("query,expected,rank", RELEVANCE, ids=[f"{q}@{r}:{sorted(e)[0]}" for q, e, r in RELEVANCE])
def test_relevance_table(kb, query, expected, rank):
    _check(kb, query, expected, rank)


@pytest.mark.parametrize("query", ["household registration", "rural land reform", "huji", "户口", "户藉", "rural 宅基地"])
def test_cli_json_and_api_give_the_same_hits(kb, corpus, query):
    api = kb.search(query, limit=10, correct=True)
    out = CliRunner().invoke(main, ["--index", str(corpus), "search", query, "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [h["id"] for h in data["hits"]] == [h.id for h in api]
    assert [h["score"] for h in data["hits"]] == [h.score for h in api]
    assert data["expanded"] == [{"query": e.query, "term": e.term, "origin": e.origin} for e in api.expanded]


def test_glossary_terms_rank_above_dictionary_senses(kb):
    result = kb.search("rural land reform", limit=10)
    origins = {e.term: e.origin for e in result.expanded}
    assert origins["宅基地"] == "glossary" and origins["集体建设用地"] == "glossary"
    # The seed's rural-land paragraph outranks passages that only share general words.
    assert result[0].id == S + "10"
    # "teachers" is not in the glossary: its CC-CEDICT senses are boosted least.
    mixed = kb.search("homestead area", limit=10)
    assert {e.origin for e in mixed.expanded} >= {"glossary", "dictionary"}


def test_english_expansion_is_explained(kb, corpus):
    result = kb.search("household registration", limit=3)
    assert {(e.term, e.origin) for e in result.expanded} >= {("户籍", "glossary"), ("落户", "glossary")}
    out = CliRunner().invoke(main, ["--index", str(corpus), "search", "household registration", "--explain"])
    assert out.exit_code == 0
    assert "户籍 (glossary)" in out.stdout and "household registration" in out.stdout


def test_no_expand_searches_as_written(kb):
    assert kb.search("household registration", limit=10, expand=False)[0].id == "news-english#1"
    assert [h.id for h in kb.search("huji", limit=10, expand=False)] == []
    assert kb.search("户口", expand=False).expanded == ()


def test_dictionary_covers_general_english_words(kb):
    result = kb.search("children", limit=5)
    assert ("孩子", "dictionary") in {(e.term, e.origin) for e in result.expanded}
    assert "news-school#1" in [h.id for h in result]


def test_stop_words_and_untranslatable_words_do_not_wipe_out_results(kb):
    ids = [h.id for h in kb.search("the reform of the household registration zzyzx", limit=10)]
    assert S + "6" in ids


def test_every_covered_topic_answers_its_english_name(kb):
    for topic in kb.topics():
        if topic.passages:
            result = kb.search(topic.en, limit=5)
            assert result.total > 0, topic


def test_passages_carry_topics_and_topic_filter(kb):
    hit = kb.get(S + "10")
    assert "rural-land" in hit.topics and "household-registration" in hit.topics
    ids = [h.id for h in kb.search("改革", topic="rural-land", limit=20)]
    assert S + "10" in ids and S + "6" not in ids
    assert [h.id for h in kb.search("改革 topic:rural-land", limit=20)] == ids
    counts = {t.slug: t.passages for t in kb.topics()}
    assert counts["rural-land"] >= 3 and counts["household-registration"] >= 4


def test_topics_cli(corpus):
    out = CliRunner().invoke(main, ["--index", str(corpus), "topics", "--json"])
    assert out.exit_code == 0
    topics = json.loads(out.stdout)["topics"]
    assert {"slug", "en", "zh", "passages"} <= set(topics[0])
    assert len(topics) >= 17
    bad = CliRunner().invoke(main, ["--index", str(corpus), "search", "改革", "--topic", "no-such-topic"])
    assert bad.exit_code == 2 and "kb topics" in bad.output


def test_suggestions(kb, corpus):
    result = kb.search("户藉", correct=False)
    assert result.suggestion == "户籍" and result.corrected is False and result.total == 0
    corrected = kb.search("宅基低")  # the API corrects by default, as every front end does
    assert corrected.corrected and corrected.suggestion == "宅基地" and len(corrected) > 0
    assert kb.search("houshold registration").suggestion == "household registration"
    out = CliRunner().invoke(main, ["--index", str(corpus), "search", "户藉", "--json"])
    data = json.loads(out.stdout)
    assert data["suggestion"] == "户籍" and data["corrected"] is True and data["hits"]
    assert kb.search("户籍").suggestion == ""


def test_synonyms_rank_exact_matches_first(kb):
    result = kb.search("户口", limit=10)
    assert result[0].id == "news-hukou#1"  # the only passage with 户口 itself
    assert any(e.origin == "synonym" and e.term == "户籍" for e in result.expanded)
