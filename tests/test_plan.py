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


# --- questions, abbreviations, senses, pinyin (issue 14) ------------------------------------------


class RelatedStats(Stats):
    """A pretend index that also says which passages hold a word (for how query words relate)."""

    def __init__(self, postings: dict[str, set[int]], pinyin=None, n: int = 1000):
        super().__init__({w: len(p) for w, p in postings.items()}, pinyin)
        self.postings = postings
        self.n = n

    def passages(self, node) -> frozenset:
        def alt_docs(a):
            sets = [self.postings.get(w, set()) for w in a.words]
            return set.intersection(*sets) if sets else set()

        if isinstance(node, Concept):
            out = set()
            for a in node.alternatives:
                out |= alt_docs(a)
            return frozenset(out)
        if isinstance(node, AllOf):
            sets = [self.passages(c) for c in node.children]
            return frozenset(set.intersection(*map(set, sets))) if sets else frozenset()
        raise AssertionError(node)

    def passage_count(self) -> int:
        return self.n

    def verbatim_count(self, text):
        return None


def test_a_chinese_question_loses_its_function_words_and_becomes_one_concept_per_word():
    stats = Stats({"农村": 50, "养老金": 9, "提高": 80})
    p = plan(q.parse("如何提高农村养老金"), stats)
    assert p.natural and "如何" in p.removed
    assert isinstance(p.root, AllOf)
    assert {c.source for c in p.root.children} == {"提高", "农村", "养老金"}
    assert p.parts and p.fill, "a question is ranked by how much of it a passage covers"


def test_a_term_without_function_words_stays_one_concept():
    p = plan(q.parse("户籍改革"), STATS)
    assert not p.natural and isinstance(p.root, Concept)


def test_english_function_words_are_never_translated():
    p = plan(q.parse("how will the hukou be reformed"), Stats({"户籍": 5}))
    sources = {e.query.lower() for e in p.expansions}
    assert not sources & {"how", "will", "the", "be"}
    assert p.natural and {"how", "will", "the", "be"} <= {w.lower() for w in p.removed}


def test_a_dictionary_sense_unrelated_to_the_other_words_is_dropped():
    # raise → 提高 (occurs with 养老 in 5 of 6 passages) and 肉鸡 (never with it).
    stats = RelatedStats({"养老": {1, 2, 3, 4, 5, 6}, "提高": {1, 2, 3, 4, 5, 50, 51}, "肉鸡": {90, 91, 92}})
    p = plan(q.parse("pensions raised"), stats)
    terms = {e.term for e in p.expansions if e.origin == "dictionary"}
    assert "提高" in terms and "肉鸡" not in terms, p.expansions


def test_abbreviations_expand_both_ways_at_full_rank():
    p = plan(q.parse("两新"), Stats({"两新": 3, "大规模设备更新": 4, "消费品以旧换新": 5}))
    full = {a.text: a for a in p.root.alternatives}
    assert full["大规模设备更新和消费品以旧换新"].boost == 1.0
    assert full["大规模设备更新"].boost < 1.0, "one part of a slogan ranks below all of it"
    back = plan(q.parse("大规模设备更新和消费品以旧换新"), Stats({}))
    assert "两新" in {a.text for a in back.alternatives()}
    listed = plan(q.parse("放管服"), Stats({"放管服": 2}))
    assert any(a.verbatim for a in listed.alternatives() if "、" in a.text), "a listed full form occurs as written"


def test_a_synonym_expansion_carries_its_sense():
    p = plan(q.parse("户籍"), STATS)
    settle = next(a for a in p.alternatives() if a.text == "落户")
    assert settle.origin == "synonym" and settle.sense == "户籍"


def test_pinyin_is_planned_as_the_chinese_it_spells():
    stats = Stats({"土地": 9, "制度": 9, "改革": 9, "土地制度改革": 3},
                  {("tu", "di", "zhi", "du", "gai", "ge"): {"土地制度改革"}})
    spelled = plan(q.parse("tudi zhidu gaige"), stats)
    typed = plan(q.parse("土地制度改革"), stats)
    assert [a.text for a in typed.root.alternatives] == [a.text for a in spelled.root.alternatives
                                                          if a.origin != "literal"]


def test_pinyin_chooses_the_reading_the_index_supports():
    stats = Stats({"试点": 40, "时点": 2}, {("shi", "dian"): {"试点", "时点"}})
    p = plan(q.parse("shidian"), stats)
    assert [e.term for e in p.expansions if e.origin == "pinyin"] == ["试点"]
