"""Query plans, made without an index: a small TermStats stands in for one."""

from __future__ import annotations

import pytest

from kb import QueryError
from kb.query import parse as q
from kb.query.plan import AllOf, AnyOf, Concept, Exclude, Match, plan


class Stats:
    """Words the pretend index holds, with their document frequencies; pinyin of a few."""

    def __init__(self, df: dict[str, int], pinyin: dict[tuple[str, ...], set[str]] | None = None):
        self.df = df
        self.pinyin = pinyin or {}

    def doc_frequency(self, term: str) -> int:
        return self.df.get(term, 0)

    def pinyin_words(self, syllables):
        return self.pinyin.get(tuple(syllables), set())


STATS = Stats({"户籍": 5, "改革": 9, "北京": 2, "宅基地": 3, "集体建设用地": 2, "户口": 1, "落户": 4},
              {("hu", "ji"): {"户籍"}})


def test_words_become_concepts_with_their_synonyms():
    p = plan(q.parse("户籍 改革"), STATS)
    assert isinstance(p.root, AllOf) and not p.root.explicit
    first = p.root.children[0]
    assert isinstance(first, Concept) and first.alternatives[0].origin == "query"
    assert {a.text for a in first.alternatives[1:]} == {"户口", "落户"}
    assert {(e.query, e.term, e.origin) for e in p.expansions} >= {("户籍", "户口", "synonym")}
    assert len(p.concepts) == 2, "an implicit all-words query can be relaxed"


def test_an_explicit_and_cannot_be_relaxed():
    p = plan(q.parse("户籍 AND 北京"), STATS)
    assert p.root.explicit and p.concepts == ()


def test_filters_in_the_query_hold_for_the_whole_search():
    p = plan(q.parse("户籍 section:基础设施 doc:云南"), STATS, filters=[q.Filter("topic", "rural-land")])
    assert set(p.filters) == {Match("section", "基础设施"), Match("doc", "云南"), Match("topic", "rural-land")}
    assert isinstance(p.root, Concept), "filters are not parts of the scored query"
    only = plan(q.parse("section:基础设施"), STATS)
    assert only.root is None and only.filters == (Match("section", "基础设施"),)
    inside_or = plan(q.parse("户籍 OR section:基础设施"), STATS)
    assert isinstance(inside_or.root, AnyOf) and inside_or.filters == ()


def test_english_and_pinyin_expand_to_chinese():
    p = plan(q.parse("rural land reform"), STATS)
    origins = {a.text: a.origin for a in p.alternatives()}
    assert origins.get("宅基地") == "glossary" and origins.get("集体建设用地") == "glossary"
    assert {a.text for a in plan(q.parse("huji"), STATS).alternatives()} >= {"户籍"}


def test_excluded_words_are_checked_verbatim_after_collecting():
    p = plan(q.parse("户籍 -改革"), STATS)
    assert p.forbidden == ("改革",)
    assert isinstance(p.root.children[1], Exclude) and not p.root.children[1].verbatim
    assert "改革" not in p.needles


def test_repeated_words_cost_what_one_costs():
    once = plan(q.parse("户籍"), STATS)
    many = plan(q.parse(" ".join(["户籍"] * 666)), STATS)
    assert many.size() == once.size()


def test_nothing_to_search_is_a_query_error():
    with pytest.raises(QueryError):
        plan(q.parse("-户籍"), STATS)
    with pytest.raises(QueryError):
        plan(q.parse("。，"), STATS)
    with pytest.raises(QueryError) as e:
        plan(q.parse("topic:no-such-topic 户籍"), STATS)
    assert e.value.hint == "topics"
