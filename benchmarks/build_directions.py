"""Figures for the build directions of issue 10: sub-words, stored-field blocks, tokenizer cost.

Run from the repository root, in the project's virtualenv::

    python benchmarks/build_directions.py                  # the 3 MB slice
    python benchmarks/build_directions.py --corpus whole   # the whole corpus (several minutes)
    python benchmarks/build_directions.py --only tokenize,stored

(a) ``subwords``: postings and terms per field with and without dictionary
    sub-words, build CPU of the bulk writer (one process) both ways, and what
    kb's searches lose: for the Chinese queries of ``benchmarks/queries.txt``,
    the hit totals, how many of today's top 10 stay in the top 10, and how
    many top-10 hits are found only verbatim (scored ``VERBATIM_BOOST``)
    when sub-words are not indexed.
(b) ``stored``: bytes of the stored fields per document (Whoosh's pickle
    protocol 2, the bulk writer's protocol 3) against blocks of N documents
    (zlib, lzma), with and without the passage text (which the recall file
    already holds), and the time to read one block.
(c) ``tokenize``: CPU per million characters of each step of kb's analysis
    (normalise, ``rjieba.tokenize``, ``_precise``, ``word_tokens`` without and
    with sub-words) and of one ``rjieba.tokenize`` call on many passages
    joined with a newline (checked to give the same tokens).
(d) worker processes: see ``benchmarks/bulk_build.py``.
(e) ``commit``: what an incremental commit spends rewriting the recall file
    and the pinyin map, against appending to the recall file.

CPU times are ``time.process_time`` medians of ``--repeat`` runs in this
process; the machine is shared, so they are noisy.
"""

from __future__ import annotations

import argparse
import json
import lzma
import pickle
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import buildlib  # noqa: E402
from buildlib import MB, table  # noqa: E402


def _cpu(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        c = time.process_time()
        fn()
        times.append(time.process_time() - c)
    return statistics.median(times)


# --- (c) tokenizer cost ------------------------------------------------------------------


def tokenize(docs, repeat: int) -> None:
    import rjieba

    from kb.analysis import _precise, _subwords, _segmenter, normalize, word_tokens

    texts = [p.text for _d, ps in docs for p in ps]
    chars = sum(map(len, texts))
    _segmenter()
    norms = [normalize(t) for t in texts]
    rows = []

    def add(name, fn):
        cpu = _cpu(fn, repeat)
        rows.append((name, f"{cpu:.2f}", f"{cpu / chars * 1e6:.2f}"))

    add("normalize", lambda: [normalize(t) for t in texts])
    add("rjieba.tokenize (on normalised text)", lambda: [rjieba.tokenize(n, mode="default", hmm=True) for n in norms])
    add("_precise (rjieba + number-unit merge)", lambda: [_precise(n) for n in norms])

    def wt(index):
        def run():
            _subwords.cache_clear()
            for t in texts:
                word_tokens(t, index=index)
        return run

    add("word_tokens, no sub-words (all of the above + filtering)", wt(False))
    add("word_tokens with sub-words (what the index gets)", wt(True))

    # One call on many passages: same tokens?
    sep = "\n"
    joined_tokens = rjieba.tokenize(sep.join(norms), mode="default", hmm=True)
    per = []
    offset = 0
    for n in norms:  # the tokens of each passage, shifted, with the separator between passages
        per.extend((w, s + offset, e + offset) for w, s, e in rjieba.tokenize(n, mode="default", hmm=True))
        per.append((sep, offset + len(n), offset + len(n) + len(sep)))
        offset += len(n) + len(sep)
    same = joined_tokens == per[:-1]
    add("rjieba.tokenize, one call on all passages joined by \\n", lambda: rjieba.tokenize(sep.join(norms), mode="default", hmm=True))
    for batch in (16, 256):
        def batched(batch=batch):
            for i in range(0, len(norms), batch):
                rjieba.tokenize(sep.join(norms[i:i + batch]), mode="default", hmm=True)
        add(f"rjieba.tokenize, batches of {batch} passages", batched)
    ref = [[t[0] for t in word_tokens(t)] for t in texts]
    proto = fast_index_terms(texts)
    add("prototype: terms only, batched rjieba, regex word test", lambda: (_subwords.cache_clear(), fast_index_terms(texts)))
    print(f"\n(c) tokenizer cost: {len(texts):,} passages, {chars:,} characters; CPU medians of {repeat}")
    print(table(rows, ("step", "cpu s", "µs per char")))
    print(f"joined call gives the same tokens as one call per passage: {same}")
    print(f"prototype gives word_tokens' index terms for every passage: {proto == ref}")


_WORDLIKE = None


def fast_index_terms(texts: list[str], batch: int = 64) -> list[list[str]]:
    """A prototype of ``word_tokens(text)``'s terms for many texts (not in kb; measured here).

    Same steps as ``kb.analysis``: normalise, precise segmentation, numbers kept
    with 年/月/日, tokens without a letter, digit or ideograph dropped, the
    dictionary words inside long words added. Differences: one
    ``rjieba.tokenize`` call per ``batch`` texts (joined by a newline; jieba
    never joins across it), a regex instead of a per-character test for
    "word-like" (``[^\W_]`` is exactly ``str.isalnum``, which every CJK
    ideograph is), and no positions or offsets.
    """
    import re

    import rjieba

    from kb.analysis import _NUM_UNIT, _segmenter, _subwords, normalize

    global _WORDLIKE
    if _WORDLIKE is None:
        _WORDLIKE = re.compile(r"[^\W_]")
    wordlike = _WORDLIKE.search
    _segmenter()
    out: list[list[str]] = []
    for i in range(0, len(texts), batch):
        norms = [normalize(t) for t in texts[i:i + batch]]
        toks = rjieba.tokenize("\n".join(norms), mode="default", hmm=True)
        k = 0
        n = len(toks)
        start = 0
        for norm in norms:
            end = start + len(norm)
            terms: list[str] = []
            while k < n and toks[k][1] < end:
                w, _s, e = toks[k]
                if e > end:  # a token across the separator ("\r" + "\n"): segment texts one by one
                    raise ValueError("separator joined to a token")
                if w.isdecimal() and k + 1 < n and toks[k + 1][0] in _NUM_UNIT and toks[k + 1][1] < end:
                    w = w + toks[k + 1][0]
                    k += 1
                k += 1
                if w.isspace() or not wordlike(w):
                    continue
                terms.append(w)
                if len(w) > 2:
                    terms.extend(_subwords(w))
            out.append(terms)
            k += 1  # the separator
            start = end + 1
    return out


# --- (b) stored fields ---------------------------------------------------------------------


def stored(docs, repeat: int, corpus_bytes: int) -> None:
    from kb.indexer import doc_fields, passage_fields
    from kb.lexicon import tag

    rows_raw = []  # stored dicts as the index holds them, the packed row decompressed
    rows_today = []
    for d, ps in docs:
        rec = doc_fields(d, [p.id for p in ps])
        rows_today.append({"docrec": rec["docrec"], "doc": rec["doc"]})
        rows_raw.append(rows_today[-1])
        for p in ps:
            f = passage_fields(d, p, tag(p.section + "\n" + p.text))
            rows_today.append({"id": f["id"], "p": f["p"]})
            rows_raw.append({"id": f["id"], "p": zlib.decompress(f["p"])})
    notext = []
    for r in rows_raw:
        if "p" in r:
            row = json.loads(r["p"])
            row[0] = ""
            r = {"id": r["id"], "p": json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()}
        notext.append(r)
    out = []

    def per_doc(name, rows, proto):
        size = sum(len(zlib.compress(pickle.dumps(r, proto), 3)) for r in rows)
        out.append((name, f"{size / MB:.2f}", f"{size / corpus_bytes:.2f}×", ""))

    per_doc("per document, zlib(pickle 2), packed row zlib'd (today)", rows_today, 2)
    per_doc("per document, zlib(pickle 3), packed row zlib'd (bulk writer)", rows_today, 3)
    per_doc("per document, zlib(pickle 3), row as JSON", rows_raw, 3)
    for label, rows in (("row as JSON", rows_raw), ("row without the text", notext)):
        for n in (16, 32, 64, 128):
            for cname, comp, dec in (("zlib 6", lambda b: zlib.compress(b, 6), zlib.decompress),
                                     ("lzma", lambda b: lzma.compress(b, preset=6), lzma.decompress)):
                if cname == "lzma" and n not in (32, 128):
                    continue
                blocks = [comp(pickle.dumps(rows[i:i + n], 4)) for i in range(0, len(rows), n)]
                size = sum(map(len, blocks))
                mid = blocks[len(blocks) // 2]
                read = _cpu(lambda: [pickle.loads(dec(mid)) for _ in range(50)], repeat) / 50
                out.append((f"blocks of {n}, {cname}, {label}", f"{size / MB:.2f}", f"{size / corpus_bytes:.2f}×",
                            f"{read * 1e6:.0f}"))
    print(f"\n(b) stored fields: {len(rows_raw):,} records (documents and passages)")
    print(table(out, ("layout", "MB", "/ corpus", "µs to read a block")))


# --- (a) sub-words ---------------------------------------------------------------------------


def subwords(docs, paths, repeat: int, work: Path) -> None:
    import bulk_build
    from whoosh.filedb.filestore import FileStorage

    from kb.analysis import _subwords
    from kb.engine.whoosh.bulk import Analyzer, SegmentBuilder
    from kb.index import make_schema
    from kb.indexer import doc_fields, passage_fields
    from kb.lexicon import tag

    records = []
    for d, ps in docs:
        records.append(doc_fields(d, [p.id for p in ps]))
        for p in ps:
            records.append(passage_fields(d, p, tag(p.section + "\n" + p.text)))
    schema = make_schema()
    res = {}
    for sub in (True, False):
        def build(sub=sub):
            _subwords.cache_clear()
            an = Analyzer(schema, subwords=sub)
            b = SegmentBuilder(schema)
            for r in records:
                b.add(an(r))
            out = work / f"seg-{sub}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            st = FileStorage(str(out))
            st.create_index(schema)
            b.write(st, "MAIN", sync=False)
            res[sub] = b.stats
        cpu = _cpu(build, repeat)
        res[(sub, "cpu")] = cpu
    rows = []
    for f in ("text", "section", "title"):
        w, wo = res[True][f], res[False][f]
        rows.append((f, f"{w[0]:,}", f"{wo[0]:,}", f"{w[1]:,}", f"{wo[1]:,}", f"{(w[2] + w[3]) / MB:.1f}",
                     f"{(wo[2] + wo[3]) / MB:.1f}"))
    tot_w = sum(s[1] for s in res[True].values())
    tot_wo = sum(s[1] for s in res[False].values())
    rows.append(("all fields", "", "", f"{tot_w:,}", f"{tot_wo:,}",
                 f"{sum(s[2] + s[3] for s in res[True].values()) / MB:.1f}",
                 f"{sum(s[2] + s[3] for s in res[False].values()) / MB:.1f}"))
    print("\n(a) dictionary sub-words: terms, postings and term+posting bytes per field")
    print(table(rows, ("field", "terms with", "terms without", "postings with", "postings without", "MB with",
                       "MB without")))
    print(f"bulk writer, analysis + add + write, one process: {res[(True, 'cpu')]:.2f} CPU-s with sub-words, "
          f"{res[(False, 'cpu')]:.2f} without (medians of {repeat})")

    # What kb's searches lose.
    from kb import KnowledgeBase
    from kb.search import VERBATIM_BOOST

    idx = {}
    for sub in (True, False):
        path = work / f"kb-{sub}"
        shutil.rmtree(path, ignore_errors=True)
        bulk_build.bulk_index(str(path), [str(p) for p in paths], 1, subwords=sub)
        idx[sub] = KnowledgeBase(path)
    queries = []
    for line in (buildlib.HERE / "queries.txt").read_text("utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 2 and cols[0] in ("word", "multi", "phrase", "bool", "trad"):
            queries.append(cols[1])
    rows = []
    kept_all = n_all = verbatim_all = 0
    for q in queries:
        a = idx[True].search(q, limit=10)
        b = idx[False].search(q, limit=10)
        kept = len({h.id for h in a} & {h.id for h in b})
        verbatim = sum(1 for h in b if abs(h.score - VERBATIM_BOOST) < 1e-9)
        kept_all += kept
        n_all += len(a)
        verbatim_all += verbatim
        if kept < len(a) or a.total != b.total:
            rows.append((q, f"{a.total}", f"{b.total}", f"{kept}/{len(a)}", f"{verbatim}"))
    print(f"\nsearches ({len(queries)} Chinese queries of queries.txt, limit 10): {kept_all}/{n_all} top-10 hits "
          f"stay in the top 10 without sub-words; {verbatim_all} top-10 hits are then verbatim-only matches")
    if rows:
        print(table(rows, ("query (only those that change)", "total with", "total without", "top 10 kept",
                           "verbatim-only in top 10")))
    for k in idx.values():
        k.close()


# --- (e) per-commit files ---------------------------------------------------------------------


def commit_files(paths, repeat: int, work: Path) -> None:
    """What an incremental commit spends on the recall file and the pinyin map, which it rewrites."""
    import os

    import bulk_build

    from kb import recall
    from kb.index import IndexDir, whoosh_generation
    from kb.lexicon import PinyinMap

    path = work / "kb-commit"
    shutil.rmtree(path, ignore_errors=True)
    bulk_build.bulk_index(str(path), [str(p) for p in paths], 1)
    gen = IndexDir(path).current_generation()
    g = whoosh_generation(gen)
    size = recall.path_for(gen, g).stat().st_size
    pin = (gen / PinyinMap.FILE).stat().st_size
    gone = set()

    def rewrite_recall():
        recs = recall.read_records(gen, g)
        recs = [r for r in recs if recall.record_doc_id(r) not in gone]
        recs.append(recall.record("new-doc#1", "本段为新增段落"))
        recall.write(gen, recs, g + 1000)

    def rewrite_pinyin():
        pm = PinyinMap.load(gen)
        pm.add_terms(["新增词语"])
        pm.save(gen)

    def append_recall():
        with open(recall.path_for(gen, g + 2000), "ab") as f:
            f.write(recall.record("new-doc#1", "本段为新增段落"))
            f.flush()
            os.fsync(f.fileno())

    rows = []
    for name, fn in (("recall file: read, filter, rewrite (today, per commit)", rewrite_recall),
                     ("pinyin map: load, add, rewrite (today, per commit)", rewrite_pinyin),
                     ("recall file: append one record + fsync", append_recall)):
        t = []
        for _ in range(repeat):
            w = time.perf_counter()
            fn()
            t.append(time.perf_counter() - w)
        rows.append((name, f"{statistics.median(t):.3f}"))
    print(f"\n(e) per-commit files: recall file {size / MB:.1f} MB, pinyin map {pin / MB:.1f} MB")
    print(table(rows, ("step", "wall s (median)")))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="slice")
    ap.add_argument("--only", default="tokenize,stored,subwords,commit")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    paths = buildlib.selection(args.corpus)
    corpus_bytes = buildlib.source_bytes(paths)
    docs = buildlib.load_documents(paths)
    print(f"corpus: {args.corpus}, {corpus_bytes / MB:.2f} MB of files, {len(docs):,} documents, "
          f"{sum(len(ps) for _d, ps in docs):,} passages (shared machine: figures are noisy)")
    only = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="kb-directions-"))
    try:
        if "tokenize" in only:
            tokenize(docs, args.repeat)
        if "stored" in only:
            stored(docs, args.repeat, corpus_bytes)
        if "subwords" in only:
            subwords(docs, paths, args.repeat, work)
        if "commit" in only:
            commit_files(paths, args.repeat, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
