"""The bulk segment writer writes what Whoosh's own writer writes.

Every test builds the same records with Whoosh's ``SegmentWriter`` and with
``kb.engine.whoosh.bulk.BulkWriter`` and compares what Whoosh's ordinary
reader sees: terms, term statistics, postings (ids, weights, values, block
statistics), field lengths, stored fields, and BM25F scores, both through
Whoosh queries and through ``KnowledgeBase.search``.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from whoosh import query as wq
from whoosh.filedb.filestore import FileStorage

from conftest import SEED, policy_paragraph, write_tree
from kb.engine.whoosh import bulk
from kb.engine.whoosh.bulk import BulkWriter
from kb.engine.whoosh.schema import make_schema


# --- a small corpus with what the index must get right ----------------------------------


def make_corpus(root: Path, seed: int = 7, docs: int = 150) -> Path:
    """The seed article, a generated JSONL shard and a few hand-written files.

    The generated documents all contain 推进 (more than 256 passages: several
    posting blocks) and repeat words within a passage (frequencies above 1).
    """
    rng = random.Random(seed)
    lines = []
    for i in range(docs):
        paras = [policy_paragraph(rng, rng.choice((40, 90, 160))) for _ in range(rng.randint(1, 3))]
        if i % 5 == 0:
            paras.append("户籍制度改革，户籍制度改革，户籍制度改革全面推进。")  # frequency 3, sub-words
        rec = {"id": f"gen-{i:04d}", "title": f"政策文件第{i}号：城乡融合发展", "text": "\n\n".join(paras),
               "source": "test", "date": "" if i % 7 == 0 else f"20{10 + i % 15:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}"}
        lines.append(json.dumps(rec, ensure_ascii=False))
    files = {
        "news/gen.jsonl": "\n".join(lines) + "\n",
        "misc/traditional.txt": "戶籍制度改革方案\n\n推動戶籍制度改革，實現城鄉融合發展。2024年，全面推進。\n",
        "misc/english.md": "# Household registration (hukou) reform\n\nThe hukou reform in 2024 covers 300 cities, "
                           "English words and numbers 12345 alongside 户籍.\n\n## 第二节 附则\n\n本办法自2025年1月1日起施行。\n",
        "misc/empty-title.txt": "\n\n只有正文的文件，没有标题。推进。\n",
    }
    write_tree(root, files)
    shutil.copy(SEED, root / SEED.name)
    return root


def corpus_records(root: Path) -> list[dict]:
    """The add_document arguments ``kb index`` writes for ``root``, in its order."""
    from kb.chunking import chunk
    from kb.engine.whoosh.codec import document_fields, passage_fields
    from kb.ingest import discover, read_source
    from kb.lexicon import tag

    files, _skipped, manifests = discover([root])
    out = []
    seen = set()
    for sf in files:
        docs, _skips = read_source(sf, manifests.get(sf.key))
        for doc in docs:
            if doc.id in seen:
                continue
            seen.add(doc.id)
            if not doc.rel:
                doc = replace(doc, rel=sf.rel)
            passages = chunk(doc)
            out.append(document_fields(doc, [p.id for p in passages]))
            for p in passages:
                out.append(passage_fields(doc, p, tag(p.section + "\n" + p.text)))
    return out


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> list[dict]:
    return corpus_records(make_corpus(tmp_path_factory.mktemp("corpus")))


def new_index(path: Path):
    path.mkdir(parents=True, exist_ok=True)
    return FileStorage(str(path)).create_index(make_schema())


def whoosh_build(path: Path, batches, **commit):
    """Whoosh's writer: one commit per batch of (deleted doc ids, records)."""
    ix = new_index(path)
    for deleted, recs in batches:
        w = ix.writer()
        for d in deleted:
            w.delete_by_term("doc_id", d)
            w.delete_by_term("docrec", d)
        for r in recs:
            w.add_document(**r)
        w.commit(merge=False, **commit)
    return ix


def bulk_build(path: Path, batches, block_stored: bool = False, **commit):
    ix = new_index(path)
    for deleted, recs in batches:
        w = BulkWriter(ix, block_stored=block_stored)
        for d in deleted:
            w.delete_by_term("doc_id", d)
            w.delete_by_term("docrec", d)
        for r in recs:
            w.add_document(**r)
        w.commit(merge=False, **commit)
    return ix


# --- comparing two indexes ---------------------------------------------------------------


def new_weighting():
    """kb's BM25F parameters."""
    from whoosh.scoring import BM25F

    from kb import config

    return BM25F(B=config.BM25_B, K1=config.BM25_K1)


def postings(reader, fieldname, text):
    """Every posting of a term in one segment (deleted documents too), with its block statistics."""
    m = reader.postings(fieldname, text)
    while not hasattr(m, "block_min_length"):  # unwrap the filter that hides deleted documents
        m = m.child
    out = []
    while m.is_active():
        out.append((m.id(), m.weight(), m.value(), m.block_min_length(), m.block_max_length(), m.block_max_weight()))
        m.next()
    return out


def term_stats(reader, fieldname, text):
    ti = reader.term_info(fieldname, text)
    return (ti.weight(), ti.doc_frequency(), ti.min_length(), ti.max_length(), ti.max_weight(), ti.min_id(), ti.max_id())


def assert_same_index(ix_a, ix_b, queries: int = 60) -> int:
    """Everything Whoosh's reader shows of ``ix_a`` equals ``ix_b``; returns the postings compared."""

    with ix_a.reader() as ra, ix_b.reader() as rb:
        assert ra.doc_count_all() == rb.doc_count_all()
        assert ra.doc_count() == rb.doc_count()
        assert sorted(ra.all_doc_ids()) == sorted(rb.all_doc_ids())
        terms = list(ra.all_terms())
        assert terms == list(rb.all_terms())
        n = 0
        for f, t in terms:
            assert ra.doc_frequency(f, t) == rb.doc_frequency(f, t)
            assert ra.frequency(f, t) == rb.frequency(f, t)
        # Segment by segment: term statistics and postings with their block statistics.
        leaves_a, leaves_b = ra.leaf_readers(), rb.leaf_readers()
        assert [o for _r, o in leaves_a] == [o for _r, o in leaves_b]
        for (la, _o), (lb, _o2) in zip(leaves_a, leaves_b):
            leaf_terms = list(la.all_terms())
            assert leaf_terms == list(lb.all_terms())
            assert la.doc_count_all() == lb.doc_count_all() and sorted(la.segment().deleted_docs()) == sorted(lb.segment().deleted_docs())
            for f, t in leaf_terms:
                assert term_stats(la, f, t) == term_stats(lb, f, t), (f, t)
                pa = postings(la, f, t)
                assert pa == postings(lb, f, t), (f, t)
                n += len(pa)
        for f in ra.schema.names():
            assert ra.field_length(f) == rb.field_length(f), f
            if ra.schema[f].scorable:
                assert ra.min_field_length(f) == rb.min_field_length(f), f
                assert ra.max_field_length(f) == rb.max_field_length(f), f
        for d in ra.all_doc_ids():
            assert ra.stored_fields(d) == rb.stored_fields(d), d
            for f in ("text", "section", "title"):
                assert ra.doc_field_length(d, f) == rb.doc_field_length(d, f), (d, f)
        assert list(ra.all_stored_fields()) == list(rb.all_stored_fields())
        # BM25F scores of term, AND and OR queries over frequent, middling and rare words.
        words = sorted((t for f, t in terms if f == "text"), key=lambda t: -ra.doc_frequency("text", t))
        rng = random.Random(1)
        picks = words[:10] + rng.sample(words, min(len(words), queries))
        qs = [wq.Term("text", w) for w in picks]
        qs += [wq.Or([wq.Term("text", a), wq.Term("section", a), wq.Term("title", b)]) for a, b in zip(picks, picks[1:])]
        qs += [wq.And([wq.Term("text", a), wq.Term("text", b)]) for a, b in zip(picks[:10], picks[1:11])]
        with ix_a.searcher(weighting=new_weighting()) as sa, ix_b.searcher(weighting=new_weighting()) as sb:
            for q in qs:
                ha = [(h.docnum, h.score) for h in sa.search(q, limit=None)]
                hb = [(h.docnum, h.score) for h in sb.search(q, limit=None)]
                assert ha == hb, q
    return n


def segment_ids(path: Path) -> set[str]:
    """The segments that have files in an index directory."""
    return {p.name.split(".")[0] for p in path.glob("MAIN_*.*")}


# --- tests ----------------------------------------------------------------------------------


def test_fresh_build_reads_back_identically(tmp_path, records):
    a = whoosh_build(tmp_path / "whoosh", [((), records)])
    b = bulk_build(tmp_path / "bulk", [((), records)])
    compared = assert_same_index(a, b)
    assert compared > 5000
    with b.reader() as r:
        # several posting blocks, and frequencies above one, were exercised
        assert r.doc_frequency("text", "推进") > 256
        assert max(r.frequency("text", t) / r.doc_frequency("text", t) for t in ("户籍制度改革", "户籍")) > 1
        assert len(r.leaf_readers()) == 1


def test_block_stored_fields_read_back_identically(tmp_path, records):
    a = whoosh_build(tmp_path / "whoosh", [((), records)])
    b = bulk_build(tmp_path / "bulk", [((), records)], block_stored=True)
    assert_same_index(a, b)
    from kb.engine.whoosh.storedblocks import BlockStoredCodec

    assert all(isinstance(s.codec(), BlockStoredCodec) for s in b._segments())
    # Whoosh's own writer can merge a block-stored segment (it reads through the codec).
    w = b.writer()
    w.commit(optimize=True)
    a.writer().commit(optimize=True)
    assert_same_index(a, b)


def test_block_cache_gives_the_rows_a_fresh_reader_gives(tmp_path, records, monkeypatch):
    """Rows read in random order through a small block cache (evicting all the time) equal rows read
    in order by a reader of their own."""
    from kb.engine.whoosh import storedblocks

    b = bulk_build(tmp_path / "bulk", [((), records)], block_stored=True)
    with b.reader() as r:
        expected = [r.stored_fields(d) for d in range(r.doc_count_all())]
    assert len(expected) > 4 * storedblocks.STORED_BLOCK_DOCS
    monkeypatch.setattr(storedblocks, "BLOCK_CACHE", 3)
    order = list(range(len(expected))) * 2
    random.Random(7).shuffle(order)
    with b.reader() as r:
        for d in order:
            assert r.stored_fields(d) == expected[d], d
        per = r.leaf_readers()[0][0]._perdoc if hasattr(r, "leaf_readers") else r._perdoc
        assert len(per._cache) <= 3


def test_incremental_commits_with_deletions(tmp_path, records):
    docs = [r["docrec"] for r in records if "docrec" in r]
    first, second = records[: len(records) // 2], records[len(records) // 2:]
    gone = [docs[1], docs[3], docs[10]]
    first_docs = {r["docrec"] for r in first if "docrec" in r}
    assert set(gone) <= first_docs
    # the second batch re-adds one deleted document, as a changed file would
    readd = [r for r in first if r.get("docrec") == gone[0] or r.get("doc_id") == gone[0]]
    batches = [((), first), (gone, second + readd)]
    a = whoosh_build(tmp_path / "whoosh", batches)
    b = bulk_build(tmp_path / "bulk", batches)
    assert_same_index(a, b)
    with b.reader() as r:
        assert r.doc_count_all() - r.doc_count() == sum(1 for x in first if x.get("doc_id") in gone or x.get("docrec") in gone)
        assert len(r.leaf_readers()) == 2
    # An index Whoosh's writer started, continued by the bulk writer.
    ix = whoosh_build(tmp_path / "mixed", batches[:1])
    w = BulkWriter(ix)
    for d in gone:
        w.delete_by_term("doc_id", d)
        w.delete_by_term("docrec", d)
    for r in second + readd:
        w.add_document(**r)
    w.commit(merge=False)
    assert_same_index(a, ix)


def test_merging_segments_matches_whoosh(tmp_path, records):
    third = len(records) // 3
    batches = [((), records[:third]), ((), records[third:2 * third]), ((), records[2 * third:])]
    a = whoosh_build(tmp_path / "whoosh", batches)
    b = bulk_build(tmp_path / "bulk", batches)
    docs = [r["docrec"] for r in records if "docrec" in r]
    for ix, writer in ((a, a.writer()), (b, BulkWriter(b))):
        writer.delete_by_term("doc_id", docs[2])
        writer.delete_by_term("docrec", docs[2])
        writer.commit(optimize=True)
        with ix.reader() as r:
            assert len(r.leaf_readers()) == 1 and not r.has_deletions()
    assert_same_index(a, b)


def test_generation_and_crash_before_the_toc_rename(tmp_path, records, monkeypatch):
    ix = bulk_build(tmp_path / "ix", [((), records[:50])])
    assert ix.latest_generation() == 1
    w = BulkWriter(ix)
    assert w.generation == 2
    for r in records[50:100]:
        w.add_document(**r)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bulk, "write_toc", crash)
    with pytest.raises(OSError):
        w.commit()
    monkeypatch.undo()
    # The index still shows generation 1; the lock was released; the written segment is an orphan.
    ix = FileStorage(str(tmp_path / "ix")).open_index()
    assert ix.latest_generation() == 1 and ix.doc_count() == 50
    assert len(segment_ids(tmp_path / "ix")) == 2
    w = BulkWriter(ix)
    for r in records[50:60]:
        w.add_document(**r)
    w.commit(merge=False)
    ix = FileStorage(str(tmp_path / "ix")).open_index()
    assert ix.latest_generation() == 2 and ix.doc_count() == 60
    live = {s.segment_id() for s in ix._segments()}
    assert segment_ids(tmp_path / "ix") == live  # the orphan was cleaned up
    assert not list((tmp_path / "ix").glob("*.seg"))  # each part of a segment is a file of its own
    assert not list((tmp_path / "ix").glob("*.tmp"))


def test_cancel_and_lock(tmp_path, records):
    from whoosh.index import LockError

    ix = bulk_build(tmp_path / "ix", [((), records[:20])])
    w = BulkWriter(ix)
    with pytest.raises(LockError):
        BulkWriter(ix)
    with pytest.raises(LockError):
        ix.writer()
    w.add_document(**records[20])
    w.cancel()
    assert FileStorage(str(tmp_path / "ix")).open_index().doc_count() == 20
    w2 = ix.writer()  # the lock is free again
    w2.cancel()


def test_unsupported_fields_are_refused(tmp_path):
    from whoosh import fields

    schema = fields.Schema(id=fields.ID(stored=True), body=fields.TEXT(phrase=True))
    ix = FileStorage(str(tmp_path)).create_index(schema)
    with pytest.raises(ValueError, match="positions"):
        BulkWriter(ix)
    (tmp_path / "b").mkdir()
    ix = FileStorage(str(tmp_path / "b")).create_index(fields.Schema(id=fields.ID(stored=True, sortable=True)))
    with pytest.raises(ValueError, match="sortable"):
        BulkWriter(ix)


def test_generic_fields_match_whoosh(tmp_path):
    """Fields outside kb's fast paths (Whoosh's standard analyser, keywords, boosts) go through field.index()."""
    from whoosh import fields

    def schema():
        return fields.Schema(key=fields.ID(stored=True), body=fields.TEXT(phrase=False, field_boost=1.1),
                             tags=fields.KEYWORD(lowercase=True, scorable=True), note=fields.STORED())

    rng = random.Random(3)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    docs = [{"key": f"k{i}", "body": " ".join(rng.choice(words) for _ in range(rng.randint(0, 30))),
             "tags": " ".join(rng.sample(words, 3)).upper(), "note": {"i": i}} for i in range(400)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = FileStorage(str(tmp_path / "a")).create_index(schema())
    b = FileStorage(str(tmp_path / "b")).create_index(schema())
    w = a.writer()
    for d in docs:
        w.add_document(**d)
    w.commit()
    w = BulkWriter(b)
    for d in docs:
        w.add_document(**d)
    w.commit()
    with a.reader() as ra, b.reader() as rb:
        terms = list(ra.all_terms())
        assert terms == list(rb.all_terms()) and len(terms) > 400
        for f, t in terms:
            assert term_stats(ra, f, t) == term_stats(rb, f, t), (f, t)
            assert postings(ra, f, t) == postings(rb, f, t), (f, t)
        assert list(ra.all_stored_fields()) == list(rb.all_stored_fields())
        assert ra.field_length("body") == rb.field_length("body")


# --- end to end: kb's searches on an index written by the bulk writer -----------------------


QUERIES = [("户籍", {}), ("户籍制度", {}), ("城乡融合 改革", {}), ('"农村土地"', {}), ("household registration", {}),
           ("huji", {}), ("户籍 -改革", {}), ("宅基地 OR 承包地", {}), ("推进", {"since": "2015", "until": "2019"}),
           ("推进", {"doc": "gen-0003"}), ("改革", {"section": "附则"}), ("戶籍", {}), ("hukou", {}), ("制度改", {})]


def assert_same_answers(path_a: Path, path_b: Path) -> None:
    from kb import KnowledgeBase

    kb_a, kb_b = KnowledgeBase(path_a), KnowledgeBase(path_b)
    try:
        for q, opts in QUERIES:
            ra = kb_a.search(q, limit=50, **opts)
            rb = kb_b.search(q, limit=50, **opts)
            assert ra.total == rb.total, q
            assert [(h.id, h.score, h.highlights, h.text, h.title, h.topics) for h in ra] == \
                   [(h.id, h.score, h.highlights, h.text, h.title, h.topics) for h in rb], q
        assert sum(len(kb_a.search(q, limit=50, **o)) for q, o in QUERIES) > 100
        for hit in kb_a.search("推进", limit=20):
            assert kb_b.get(hit.id).text == hit.text
        docs = ["gen-0003", "gen-0010", "misc/english"]
        assert [kb_a.document(d, text=True) for d in docs] == [kb_b.document(d, text=True) for d in docs]
    finally:
        kb_a.close()
        kb_b.close()


def test_kb_search_results_and_scores_are_identical(tmp_path):
    """kb's index, and the same index with its segment rewritten by Whoosh's own writer, answer alike."""
    from kb import KnowledgeBase
    from kb.engine import default_engine
    from kb.store import IndexStore

    src = make_corpus(tmp_path / "src", docs=60)
    with KnowledgeBase(tmp_path / "a") as kb_a:
        kb_a.index([src])
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    gen = IndexStore(tmp_path / "b").current()
    assert default_engine().latest_commit(gen) == 1
    for p in list(gen.glob("MAIN_*")) + list(gen.glob("_MAIN_*.toc")):
        p.unlink()
    ix = FileStorage(str(gen)).create_index(make_schema())
    w = ix.writer()
    for r in corpus_records(src):
        w.add_document(**r)
    w.commit()
    assert default_engine().latest_commit(gen) == 1
    assert list(gen.glob("*.seg"))  # Whoosh's compound segment
    assert_same_answers(tmp_path / "a", tmp_path / "b")


def test_kb_index_with_worker_processes_answers_alike(tmp_path):
    """``kb index`` with two worker processes writes an index that answers as the one-process index does."""
    from kb.engine import default_engine
    from kb.indexer import run_index
    from kb.store import IndexStore

    src = make_corpus(tmp_path / "src", docs=60)
    for name, workers in (("one", 1), ("two", 2)):
        run_index(IndexStore(tmp_path / name), default_engine(), [src], workers=workers)
    assert_same_answers(tmp_path / "one", tmp_path / "two")


# --- worker processes ---------------------------------------------------------------------


def record_key(stored: dict) -> str:
    return stored["p"][0] if "p" in stored else "doc:" + stored["docrec"]


def logical_view(ix, queries):
    """What an index holds, independent of how documents are spread over segments."""

    with ix.reader() as r:
        keys = {d: record_key(r.stored_fields(d)) for d in r.all_doc_ids()}
        view = {
            "count": r.doc_count(),
            "terms": {(f, t): (r.doc_frequency(f, t), r.frequency(f, t)) for f, t in r.all_terms()},
            "field_lengths": {f: r.field_length(f) for f in r.schema.names()},
            "stored": {keys[d]: r.stored_fields(d) for d in keys},
            "lengths": {keys[d]: tuple(r.doc_field_length(d, f) for f in ("text", "section", "title")) for d in keys},
        }
        with ix.searcher(weighting=new_weighting()) as s:
            view["scores"] = [{keys[h.docnum]: h.score for h in s.search(q, limit=None)} for q in queries]
        segments = [sorted(lr.all_doc_ids()) and [record_key(lr.stored_fields(d)) for d in lr.all_doc_ids()]
                    for lr, _o in r.leaf_readers()]
    return view, segments


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_worker_processes_write_the_same_index(tmp_path, records, context):
    from kb.engine.whoosh.parallel import ParallelBulkWriter

    a = whoosh_build(tmp_path / "whoosh", [((), records)])
    ix = new_index(tmp_path / "parallel")
    w = ParallelBulkWriter(ix, procs=2, context=context, batch_chars=2_000)
    generation = w.generation
    group: list = []
    for r in records:
        if "docrec" in r and group:
            w.end_group()
        if "docrec" in r:
            w.start_group()
            group = [r]
        w.add_document(**r)
    w.end_group()
    w.commit()
    assert ix.latest_generation() == generation == 1
    with a.reader() as r:
        words = sorted((t for f, t in r.all_terms() if f == "text"), key=lambda t: -r.doc_frequency("text", t))[:40]
    queries = [wq.Term("text", w) for w in words] + [wq.Or([wq.Term("text", x), wq.Term("section", y)])
                                                    for x, y in zip(words, words[1:])]
    va, _ = logical_view(a, queries)
    vb, segments = logical_view(FileStorage(str(tmp_path / "parallel")).open_index(), queries)
    assert va == vb
    # Workers take batches as they become free: usually both write a segment (a worker that
    # started late may find no work left).
    assert 1 <= len(segments) <= 2 and all(segments)
    # A document's record and its passages stay together, in order, in one segment.
    order = [record_key(x) for x in records]
    position = {k: i for i, k in enumerate(order)}
    for seg in segments:
        runs = [position[k] for k in seg]
        doc_starts = [i for i, k in enumerate(seg) if k.startswith("doc:")]
        for s, e in zip(doc_starts, doc_starts[1:] + [len(seg)]):
            assert runs[s:e] == list(range(runs[s], runs[s] + e - s))


def test_a_failing_worker_fails_the_commit_and_leaves_the_index(tmp_path, records):
    from kb.engine.whoosh.parallel import ParallelBulkWriter

    ix = bulk_build(tmp_path / "ix", [((), records[:30])])
    w = ParallelBulkWriter(ix, procs=2, batch_chars=1_000)
    for r in records[30:60]:
        w.add_document(**r)
    w.add_document(text=12345)  # not a string: Whoosh refuses it, in the worker
    with pytest.raises(RuntimeError, match="worker failed"):
        w.commit()
    ix = FileStorage(str(tmp_path / "ix")).open_index()
    assert ix.latest_generation() == 1 and ix.doc_count() == 30
    BulkWriter(ix).cancel()  # the write lock was released


def test_segments_written_elsewhere_join_one_commit(tmp_path, records):
    """What the workers do, in one process: two builders write segments, one TOC lists both."""
    from kb.engine.whoosh.bulk import Analyzer, SegmentBuilder

    a = whoosh_build(tmp_path / "whoosh", [((), records)])
    ix = new_index(tmp_path / "segments")
    w = BulkWriter(ix)
    analyze = Analyzer(ix.schema)
    half = next(i for i in range(len(records) // 2, len(records)) if "docrec" in records[i])
    for part in (records[:half], records[half:]):
        b = SegmentBuilder(ix.schema)
        for r in part:
            b.add(analyze(r))
        w.add_segment(b.write(ix.storage, ix.indexname))
    w.commit()
    with a.reader() as r:
        words = sorted((t for f, t in r.all_terms() if f == "text"), key=lambda t: -r.doc_frequency("text", t))[:40]
    queries = [wq.Term("text", x) for x in words]
    va, _ = logical_view(a, queries)
    vb, segments = logical_view(FileStorage(str(tmp_path / "segments")).open_index(), queries)
    assert va == vb
    assert len(segments) == 2


def test_less_than_one_batch_starts_no_worker(tmp_path, records):
    from kb.engine.whoosh.parallel import ParallelBulkWriter

    ix = new_index(tmp_path / "ix")
    w = ParallelBulkWriter(ix, procs=4, hook=len)
    for r in records[:5]:
        w.add_document(**r)
    w.commit()
    assert not w._workers and w.hook_results == [5]
    with FileStorage(str(tmp_path / "ix")).open_index().reader() as r:
        assert r.doc_count() == 5 and len(r.leaf_readers()) == 1


def test_workers_exit_when_their_parent_dies(tmp_path, records):
    """A killed indexer must not leave workers behind that hold the index's locks."""
    import os
    import signal
    import subprocess
    import sys
    import time

    ix = new_index(tmp_path / "ix")
    ix.close()
    script = (
        "import sys, os, time\n"
        "from whoosh.filedb.filestore import FileStorage\n"
        "from kb.engine.whoosh.parallel import ParallelBulkWriter\n"
        "ix = FileStorage(sys.argv[1]).open_index()\n"
        "w = ParallelBulkWriter(ix, procs=2, context='fork', batch_chars=10)\n"
        "w.add_document(text='户籍制度改革')\n"
        "w.add_document(text='城乡融合发展')\n"
        "print(' '.join(str(p.pid) for p in w._workers), flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "ix")], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(x) for x in proc.stdout.readline().split()]
        assert len(pids) == 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 60
        alive = pids
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = []
            for pid in pids:
                try:
                    os.kill(pid, 0)
                    with open(f"/proc/{pid}/stat") as f:
                        if f.read().split()[2] != "Z":
                            alive.append(pid)
                except (ProcessLookupError, FileNotFoundError):
                    pass
        assert not alive
    finally:
        proc.kill()
    BulkWriter(FileStorage(str(tmp_path / "ix")).open_index()).cancel()  # the write lock is free


@pytest.mark.parametrize("d", [0, 255, 256, 65535, 65536, 2 ** 31 - 1])
def test_an_inlined_posting_reads_back_as_pickle_would_write_it(d):
    import pickle

    from kb.engine.whoosh.bulk import _inline_posting

    for weight in (None, 2.0, 0.30000001192092896):
        for value in (None, b"\x00\x00\x00\x01"):
            assert pickle.loads(_inline_posting(d, weight, value)) == ((d,), None if weight is None else (weight,),
                                                                      (value,))
