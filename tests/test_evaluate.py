"""Term-at-a-time scoring (kb.engine.whoosh.evaluate) gives what Whoosh's own collector gives.

Every compiled query of kb's query kinds (words, synonyms, English, pinyin,
OR, NOT, phrases, filters, the verbatim pass, relaxation) is run both ways on
an index of several segments with deleted passages: the same number of
matches, the same top passages in the same order, with the same float scores.
"""

from __future__ import annotations

import shutil

import pytest
from whoosh import collectors
from whoosh import query as wq

from kb import KnowledgeBase
from kb.engine.whoosh import evaluate
from kb.engine.whoosh.compile import DocSet
from kb.query import parse as q
from kb.query.plan import AllOf, plan
from kb.searcher import _Stats

from conftest import SEED, write_tree

QUERIES = [
    "户籍", "城镇化", "户籍 制度 改革", "农民 落户", "户籍 OR 落户", "城镇化 -农村", "城镇化 NOT 农村",
    '"户籍制度改革"', "(城镇化 OR 城市化) 人口", "household registration", "urbanization", "hukou", "huji",
    "chengzhenhua", "section:总则 城镇", "戶籍", "how do migrant workers settle in cities", "农业转移人口市民化",
    "落户 AND 城市", "山东 -济南 -青岛", "常住人口", "社会保障 养老 医疗",
]


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    """The seed and two more files, indexed in three runs (three segments), one file then changed (deletions)."""
    root = tmp_path_factory.mktemp("evaluate")
    src = root / "src"
    src.mkdir()
    shutil.copy(SEED, src / SEED.name)
    kb = KnowledgeBase(root / "index")
    kb.index([src])
    write_tree(src, {"a.txt": "户籍制度改革\n\n推进农业转移人口落户城镇，完善居住证制度。\n\n城镇化率提高，社会保障覆盖常住人口。"})
    kb.index([src])
    write_tree(src, {"b.txt": "城市化与人口\n\n山东省济南市放开落户限制。\n\n养老、医疗等社会保障向常住人口全覆盖。"})
    kb.index([src])
    write_tree(src, {"a.txt": "户籍制度改革\n\n全面取消城区常住人口三百万以下城市落户限制。\n\n户籍人口城镇化率加快提高。"})
    kb.index([src])
    yield kb
    kb.close()


def _whoosh_top(searcher, query, limit, allowed):
    col = collectors.TopCollector(limit=limit, usequality=False, replace=0)
    if allowed is not None:
        col = collectors.FilterCollector(col, allow=set(allowed))
    searcher.search_with_collector(query, col)
    results = col.results()
    return len(results), [(hit.docnum, hit.score) for hit in results]


def _queries(view, text):
    """The Whoosh queries kb runs for ``text``: both passes, relaxed, and within a filter."""
    reader = view.reader
    recall = view.snapshot.recall()
    p = plan(q.parse(text), _Stats(reader, view.pinyin, recall))
    if p.root is None:
        return
    for verbatim in (False, True):
        compiler = reader._compiler(recall, verbatim)
        yield reader._query(p.root, None, compiler)
        if isinstance(p.root, AllOf):
            yield reader._query(p.root, None, reader._compiler(recall, verbatim), min_match=1)


def test_the_segments_have_deletions(kb):
    with kb._readers().view() as view:
        r = view.reader._s.reader()
        assert len(list(view.reader._s.leaf_searchers())) >= 2
        assert r.has_deletions()


@pytest.mark.parametrize("text", QUERIES)
def test_same_matches_scores_and_order_as_whoosh(kb, text):
    with kb._readers().view() as view:
        s = view.reader._s
        n = s.doc_count_all()
        some = frozenset(range(0, n, 3))
        compared = 0
        for query in _queries(view, text):
            if query is None:
                continue
            for limit in (1, 5, 100):
                for allowed in (None, some):
                    got = evaluate.top_matches(s, query, limit, allowed)
                    assert got == _whoosh_top(s, query, limit, allowed), (text, query, limit)
                    compared += 1
            # As WhooshReader.search restricts a small filter: the set drives the match.
            small = wq.And([wq.ConstantScoreQuery(DocSet(some), 0.0), query])
            assert evaluate.top_matches(s, small, 10, some) == _whoosh_top(s, small, 10, some)
        assert compared


def test_queries_match_something(kb):
    """The comparison is not between two empty lists."""
    with kb._readers().view() as view:
        s = view.reader._s
        totals = [evaluate.top_matches(s, query, 10)[0] for text in QUERIES for query in _queries(view, text) if query]
    assert sum(1 for t in totals if t > 0) > len(QUERIES)


def test_a_matcher_without_a_rule_is_walked(kb, monkeypatch):
    """Any matcher type evaluate has no rule for is scored by Whoosh itself, with the same result."""
    with kb._readers().view() as view:
        s = view.reader._s
        queries = [query for text in QUERIES[:8] for query in _queries(view, text) if query]
        expected = [evaluate.top_matches(s, query, 20) for query in queries]
        monkeypatch.setattr(evaluate, "_RULES", {})
        assert [evaluate.top_matches(s, query, 20) for query in queries] == expected


def test_passage_count_is_the_live_passages(kb):
    with kb._readers().view() as view:
        s = view.reader._s
        records = sum(1 for _ in s.docs_for_query(wq.Every("docrec")))
        assert view.reader.passage_count() == s.doc_count() - records
        live = sum(1 for n in range(s.doc_count_all()) if not s.reader().is_deleted(n) and s.stored_fields(n).get("p"))
        assert view.reader.passage_count() == live


def test_field_lengths_are_read_in_bulk_from_kbs_segments(kb):
    """kb's segments (block-stored, written by its bulk writer) give their length columns whole, so a
    term's postings are scored without looking each length up (about 4 us a posting)."""
    with kb._readers().view() as view:
        for sub, _offset in view.reader._s.leaf_searchers():
            evaluate._segment.reader = reader = sub.reader()
            try:
                raw = evaluate._field_lengths("text")
            finally:
                evaluate._segment.reader = None
            assert raw is not None
            for d in range(min(len(raw), reader.doc_count_all())):
                if raw[d]:
                    assert reader.doc_field_length(d, "text") > 0
