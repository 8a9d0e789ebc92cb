"""The engine contract (kb.engine.base), checked through the interface only.

Every test takes the ``engine`` fixture; a second engine runs the same suite by
adding itself to ENGINES.
"""

from __future__ import annotations

import pytest

from kb.models import Block, Document, Passage
from kb.query import parse as q
from kb.query.plan import AllOf, Alternative, Concept, Exclude, Match, plan

ENGINES = ["whoosh"]


@pytest.fixture(params=ENGINES)
def engine(request):
    if request.param == "whoosh":
        from kb.engine.whoosh import WhooshEngine

        return WhooshEngine()
    raise AssertionError(request.param)  # pragma: no cover


def _doc(doc_id: str, title: str, paras: list[str], *, date: str = "", meta=None) -> tuple[Document, list[Passage]]:
    text = "\n".join(paras)
    passages, pos = [], 0
    for n, para in enumerate(paras, 1):
        passages.append(Passage(f"{doc_id}#{n}", doc_id, n, n, 0, pos, pos + len(para), para, f"第{n}节", page=n))
        pos += len(para) + 1
    blocks = tuple(Block(p.start, p.end) for p in passages)
    return Document(doc_id, title, text, date=date, blocks=blocks, metadata=meta or {}, rel=f"{doc_id}.txt"), passages


def _concept(word: str) -> Concept:
    return Concept(word, (Alternative(word, (word,)),))


def _index(engine, path, docs):
    path.mkdir()
    engine.create(path)
    seen = []
    with engine.begin(path) as tx:
        for doc, passages in docs:
            tx.add_document(doc, passages, [("household-registration",) if "户籍" in p.text else () for p in passages])
        tx.commit_with(seen.append)
    return seen


CORPUS = [
    _doc("a", "文件甲", ["推进户籍制度改革。", "完善居住证制度。"], date="2020-05-01", meta={"province": "山东"}),
    _doc("b", "文件乙", ["加强乡村教师队伍建设。", "户籍人口城镇化率提高。"], date="2024-01-02"),
]


def test_commit_hook_gets_the_commit_number_before_readers_see_it(engine, tmp_path):
    path = tmp_path / "ix"
    seen = _index(engine, path, CORPUS)
    assert len(seen) == 1 and seen[0] == engine.latest_commit(path) > -1
    with engine.begin(path) as tx:
        tx.delete_document("b")

        def hook(n):
            assert engine.latest_commit(path) == seen[0], "the hook runs before the commit is visible"
            seen.append(n)

        tx.commit_with(hook)
    assert seen[1] == engine.latest_commit(path) > seen[0]


def test_records_round_trip(engine, tmp_path):
    path = tmp_path / "ix"
    _index(engine, path, CORPUS)
    r = engine.open_reader(path)
    try:
        p = r.passage("a#1")
        assert (p.doc_id, p.text, p.section, p.paragraph, p.page, p.topics) == (
            "a", "推进户籍制度改革。", "第1节", 1, 1, ("household-registration",))
        d = r.document("a")
        assert (d.title, d.date, d.metadata, d.passages, d.rel) == ("文件甲", "2020-05-01", {"province": "山东"},
                                                                   ("a#1", "a#2"), "a.txt")
        assert r.passage("nope#1") is None and r.document("nope") is None
        assert sorted(x.id for x in r.documents()) == ["a", "b"]
        assert r.passage_count() == 4
        assert r.topic_count("household-registration") == 2
        assert r.doc_frequency("户籍") >= 2 and r.doc_frequency("不存在的词") == 0
    finally:
        r.close()


def test_search_filters_and_exclusions(engine, tmp_path):
    path = tmp_path / "ix"
    _index(engine, path, CORPUS)
    r = engine.open_reader(path)
    try:
        def ids(node, allowed=None, **kw):
            _total, rows = r.search(node, allowed=allowed, limit=10, **kw)
            return sorted(r.passage_at(ref).id for ref, _ in rows)

        assert ids(_concept("户籍")) == ["a#1", "b#2"]
        assert ids(AllOf((_concept("户籍"), Exclude(_concept("改革"))))) == ["b#2"]
        only_a = r.allowed([Match("doc", "a")], None)
        assert ids(_concept("户籍"), only_a) == ["a#1"]
        assert ids(_concept("户籍"), r.allowed([], ("2024-01-01", "2024-12-31"))) == ["b#2"]
        assert ids(_concept("户籍"), r.allowed([Match("section", "第2节")], None)) == ["b#2"]
        assert ids(None, r.allowed([Match("topic", "household-registration")], None)) == ["a#1", "b#2"]
        assert r.search(_concept("户籍"), allowed=frozenset(), limit=10) == (0, [])
        assert r.documents_matching(only_a) == {"a"}
        either = AllOf((_concept("户籍"), _concept("教师")))
        assert ids(either) == [] and ids(either, min_match=1) == ["a#1", "b#1", "b#2"]
        assert len(r.refs(either, allowed=None, min_match=1)) == 3
    finally:
        r.close()


def test_a_cancelled_transaction_changes_nothing(engine, tmp_path):
    path = tmp_path / "ix"
    _index(engine, path, CORPUS)
    before = engine.latest_commit(path)
    with pytest.raises(RuntimeError):
        with engine.begin(path) as tx:
            tx.delete_document("a")
            raise RuntimeError("stop")
    assert engine.latest_commit(path) == before
    r = engine.open_reader(path)
    try:
        assert r.document("a") is not None
    finally:
        r.close()


def test_a_plan_made_without_an_index_runs_on_it(engine, tmp_path):
    path = tmp_path / "ix"
    _index(engine, path, CORPUS)
    p = plan(q.parse("户籍 -改革 doc:b"), expand=False)
    r = engine.open_reader(path)
    try:
        _total, rows = r.search(p.root, allowed=r.allowed(p.filters, None), limit=10)
        assert [r.passage_at(ref).id for ref, _ in rows] == ["b#2"]
    finally:
        r.close()


def _words(words: list[str]) -> list[str]:
    """An ``on_words`` callback (module level: workers must be able to pickle it)."""
    return sorted(words)


@pytest.mark.parametrize("workers", [1, 2])
def test_on_words_gets_only_the_words_the_base_commit_lacks(engine, tmp_path, workers, monkeypatch):
    from kb.engine.whoosh import parallel

    monkeypatch.setattr(parallel, "BATCH_CHARS", 5)  # every document a batch: with 2, worker processes run
    path = tmp_path / "ix"
    _index(engine, path, CORPUS)
    with engine.begin(path, workers=workers, on_words=_words) as tx:
        # b is deleted in this transaction: its words stay known (kb's side files already hold them).
        tx.delete_document("b")
        for doc, passages in [_doc("c", "文件丙", ["户籍制度改革与乡村教师。"]), _doc("d", "文件丁", ["宅基地流转试点。"])]:
            tx.add_document(doc, passages, [() for _ in passages])
        tx.commit_with(lambda n: None)
    new = {w for part in tx.word_results for w in part}
    assert "宅基地" in new or "流转" in new
    assert not new & {"户籍", "制度", "改革", "乡村", "教师"}
    # Nothing new at all: on_words is not called.
    with engine.begin(path, workers=workers, on_words=_words) as tx:
        doc, passages = _doc("e", "文件戊", ["户籍制度改革。"])
        tx.add_document(doc, passages, [()])
        tx.commit_with(lambda n: None)
    assert tx.word_results == []
