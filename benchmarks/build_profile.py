"""Where today's build spends its CPU: every stage of kb's write path, timed separately.

Run from the repository root, in the project's virtualenv::

    python benchmarks/build_profile.py                 # the 3 MB slice, 3 repetitions
    python benchmarks/build_profile.py --corpus whole  # the whole corpus (minutes)
    python benchmarks/build_profile.py --cprofile      # plus the top functions of add_document + commit

The slice is the seed plus ``xwlb-2024-10 .. xwlb-2025-01.jsonl`` (see
``buildlib.slice_paths``). Everything runs in this one process, stage by
stage over all passages, so each figure is that stage alone:

read+chunk
    ``kb.ingest`` + ``kb.chunking`` (files → documents → passages).
normalise
    every ``normalize`` call today's build makes per passage (text and
    section for analysis, section_key, the recall record, topic tagging) and
    per document (title, title_key).
segmentation
    ``rjieba.tokenize`` via ``kb.analysis._precise`` on the normalised text,
    section and title.
sub-word expansion
    the rest of ``word_tokens``: dropping punctuation, positions, and the
    dictionary words inside long words (``_subwords``, its cache cleared first).
topic tagging
    ``kb.lexicon.tag``'s pattern over the normalised text.
pack stored
    ``pack_passage`` (zlib'd JSON) and ``passage_fields``/``doc_fields``.
whoosh add_document
    ``SegmentWriter.add_document`` with analysers that replay the tokens
    computed above, so this is Whoosh's own share: Token objects,
    ``Frequency.word_values``, the posting pool, per-doc stored fields and lengths.
whoosh commit
    pool sort + writing the segment (postings, term index, columns, compound file).
recall file
    building the records and writing ``recall-G.bin``.
pinyin map
    ``PinyinMap.add_terms`` over the text lexicon and ``save``.

Medians over ``--repeat`` runs (the machine is shared: figures are noisy).
"today, end to end" is ``kb.indexer.run_index(procs=1)`` in a fresh
subprocess (its CPU includes imports and loading the dictionaries).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import buildlib  # noqa: E402
from buildlib import MB, Stages, table  # noqa: E402

STAGES = ("read+chunk", "normalise", "segmentation", "sub-word expansion", "topic tagging", "pack stored",
          "whoosh add_document", "whoosh commit", "recall file", "pinyin map")


# --- analysis, stage by stage ---------------------------------------------------------


def expand(precise, index: bool = True):
    """``word_tokens``' loop after segmentation (kept identical; checked against it)."""
    from kb.analysis import _is_wordlike, _subwords

    out = []
    pos = 0
    for w, s, e in precise:
        if w.isspace():
            continue
        if not _is_wordlike(w):
            pos += 1
            continue
        out.append((w, pos, s, e))
        if index and len(w) > 2:
            for sub in _subwords(w):
                off = w.find(sub)
                out.append((sub, pos, s + off, s + off + len(sub)))
        pos += 1
    return out


def tag_normalized(norm: str) -> tuple[str, ...]:
    """``kb.lexicon.tag`` on already-normalised text."""
    from kb.lexicon import _tag_pattern, topics

    pattern, owners = _tag_pattern()
    found: set[str] = set()
    for m in pattern.finditer(norm):
        found.update(owners[m.group()])
    return tuple(t.slug for t in topics() if t.slug in found)


class ReplayTokenizer:
    """A Whoosh tokenizer that yields precomputed terms for a value (so add_document measures Whoosh only)."""

    def __init__(self, table: dict[str, list[str]]):
        self.table = table

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        from whoosh.analysis import Token

        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for term in self.table[value]:
            t.text = term
            t.boost = 1.0
            t.stopped = False
            yield t


def replay_schema(table):
    from whoosh import fields

    from kb.index import make_schema

    schema = make_schema()
    words = ReplayTokenizer(table)
    for name in ("section", "text", "title"):
        old = schema[name]
        schema.remove(name)
        schema.add(name, fields.TEXT(analyzer=words, phrase=False, field_boost=old.format.field_boost))
    return schema


def segment_file_sizes(gen: Path) -> dict[str, int]:
    """Bytes per file type inside the Whoosh segments of ``gen`` (compound files opened)."""
    from whoosh.filedb.compound import CompoundStorage
    from whoosh.filedb.filestore import FileStorage

    st = FileStorage(str(gen))
    ix = st.open_index()
    sizes: Counter = Counter()
    for seg in ix._segments():
        sid = seg.segment_id()
        if seg.is_compound():
            cs = CompoundStorage(st.open_file(seg.make_filename(".seg")), use_mmap=False)
            for name in cs.list():
                sizes[name[len(sid):]] += cs.file_length(name)
            sizes["(compound directory)"] += st.file_length(seg.make_filename(".seg")) - sum(
                cs.file_length(n) for n in cs.list())
            cs.close()
        else:
            for name in seg.list_files(st):
                sizes[name[len(sid):]] += st.file_length(name)
    ix.close()
    for p in gen.iterdir():
        if p.is_file() and not p.name.endswith(".seg"):
            kind = p.name.split("-")[0] if p.name.startswith(("recall-", "manifest-")) else p.name
            if p.name.startswith("_MAIN_"):
                kind = "Whoosh TOC"
            sizes[kind] += p.stat().st_size
    return dict(sizes)


def postings_per_field(gen: Path) -> dict[str, int]:
    from whoosh.filedb.filestore import FileStorage

    ix = FileStorage(str(gen)).open_index()
    out: Counter = Counter()
    with ix.reader() as r:
        for (fieldname, _text), ti in _term_infos(r):
            out[fieldname] += ti.doc_frequency()
    ix.close()
    return dict(out)


def _term_infos(reader):
    for fieldname in reader.indexed_field_names():
        for text, ti in reader.iter_field(fieldname):
            yield (fieldname, text), ti


# --- one profiled build ------------------------------------------------------------------


def profiled_build(paths: list[Path], out: Path, st: Stages, prof: cProfile.Profile | None = None) -> dict:
    from whoosh.filedb.filestore import FileStorage

    from kb import recall
    from kb.analysis import _precise, _subwords, normalize, word_tokens
    from kb.indexer import doc_fields, passage_fields
    from kb.lexicon import PinyinMap

    _subwords.cache_clear()
    with st.stage("read+chunk"):
        docs = buildlib.load_documents(paths)
    passages = [(d, p) for d, ps in docs for p in ps]

    with st.stage("normalise"):
        n_text = [normalize(p.text) for _d, p in passages]
        n_sec = [normalize(p.section) for _d, p in passages]
        n_title = [normalize(d.title) for d, _ps in docs]
        # The other calls today's build makes: section_key, the recall record, tag(), title_key.
        for _d, p in passages:
            normalize(p.section)
            normalize(p.text)
            normalize(p.section + "\n" + p.text)
        for d, _ps in docs:
            normalize(d.title)
    with st.stage("segmentation"):
        s_text = [_precise(n) for n in n_text]
        s_sec = [_precise(n) for n in n_sec]
        s_title = [_precise(n) for n in n_title]
    with st.stage("sub-word expansion"):
        t_text = [expand(s) for s in s_text]
        t_sec = [expand(s) for s in s_sec]
        t_title = [expand(s) for s in s_title]
    with st.stage("topic tagging"):
        tags = [tag_normalized(ns + "\n" + nt) for ns, nt in zip(n_sec, n_text)]

    # The replay table: the terms word_tokens gives for each analysed value.
    replay: dict[str, list[str]] = {}
    for (_d, p), tt, ts in zip(passages, t_text, t_sec):
        replay[p.text] = [t[0] for t in tt]
        replay[p.section] = [t[0] for t in ts]
    for (d, _ps), tt in zip(docs, t_title):
        replay[d.title] = [t[0] for t in tt]

    with st.stage("pack stored"):
        records = []
        for (d, ps) in docs:
            records.append(doc_fields(d, [p.id for p in ps]))
        precs = []
        i = 0
        for (d, ps) in docs:
            for p in ps:
                precs.append(passage_fields(d, p, tags[i]))
                i += 1

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ix = FileStorage(str(out)).create_index(replay_schema(replay))
    w = ix.writer(limitmb=256)
    if prof:
        prof.enable()
    with st.stage("whoosh add_document"):
        i = 0
        for (d, ps), rec in zip(docs, records):
            w.add_document(**rec)
            for _p in ps:
                w.add_document(**precs[i])
                i += 1
    generation = w.generation
    with st.stage("whoosh commit"):
        w.commit(optimize=False)
    if prof:
        prof.disable()
    with st.stage("recall file"):
        recs = [recall.record(p.id, nt) for (_d, p), nt in zip(passages, n_text)]
        recall.write(out, recs, generation)
    with st.stage("pinyin map"):
        pm = PinyinMap()
        with ix.reader() as r:
            pm.add_terms(t.decode("utf-8") if isinstance(t, bytes) else t for t in r.lexicon("text"))
        pm.save(out)
    ix.close()

    # Checks: the staged analysis is today's analysis.
    for k in range(0, len(passages), max(1, len(passages) // 500)):
        _d, p = passages[k]
        assert [t[0] for t in word_tokens(p.text)] == replay[p.text], p.id
    from kb.lexicon import tag

    for k in range(0, len(passages), max(1, len(passages) // 500)):
        _d, p = passages[k]
        assert tag(p.section + "\n" + p.text) == tags[k], p.id

    tokens: Counter = Counter()
    # Postings (distinct term per document) with and without sub-words.
    with_sub, without_sub = Counter(), Counter()
    for name, segs in (("text", s_text), ("section", s_sec), ("title", s_title)):
        for s in segs:
            full = expand(s, True)
            plain = expand(s, False)
            with_sub[name] += len({t[0] for t in full})
            without_sub[name] += len({t[0] for t in plain})
            tokens[name + " tokens"] += len(full)
            tokens[name + " tokens (no sub-words)"] += len(plain)
    return {
        "documents": len(docs),
        "passages": len(passages),
        "characters": sum(len(p.text) for _d, p in passages),
        "postings_with_subwords": dict(with_sub),
        "postings_without_subwords": dict(without_sub),
        "tokens": dict(tokens),
    }


def end_to_end(paths: list[Path], work: Path) -> dict:
    """``run_index(procs=1)`` in a fresh process: wall, CPU, size."""
    code = (
        "import sys, time, json, resource\n"
        "t = time.perf_counter()\n"
        "from kb.index import IndexDir\nfrom kb.indexer import run_index\n"
        "s = run_index(IndexDir(sys.argv[1]), sys.argv[2:], procs=1)\n"
        "r = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print(json.dumps({'wall_s': time.perf_counter() - t, 'cpu_s': r.ru_utime + r.ru_stime, "
        "'passages': s.passages}))\n"
    )
    ix = work / "today"
    shutil.rmtree(ix, ignore_errors=True)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(ix), *map(str, paths)], capture_output=True, text=True,
                          cwd=buildlib.REPO, check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = time.perf_counter() - t
    res["index_bytes"] = buildlib.dir_size(ix)
    res["generation"] = str(next(ix.glob("gen-*")))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="slice", help="slice (default), whole, or comma-separated paths")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cprofile", action="store_true", help="profile add_document + commit (last repetition)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    paths = buildlib.selection(args.corpus)
    corpus_bytes = buildlib.source_bytes(paths)
    work = Path(tempfile.mkdtemp(prefix="kb-build-profile-"))
    try:
        from kb.analysis import _precise, normalize

        t = time.perf_counter()
        _precise(normalize("加载分词词典和繁简转换"))
        setup_s = time.perf_counter() - t
        st = Stages()
        prof = None
        info = {}
        for n in range(args.repeat):
            prof = cProfile.Profile() if args.cprofile and n == args.repeat - 1 else None
            info = profiled_build(paths, work / "staged", st, prof)
        gen = work / "staged"
        sizes = segment_file_sizes(gen)
        postings = postings_per_field(gen)
        today = end_to_end(paths, work)
        today_sizes = segment_file_sizes(Path(today["generation"]))

        print(f"corpus: {args.corpus} ({', '.join(p.name for p in paths)})")
        print(f"{corpus_bytes / MB:.2f} MB of files, {info['documents']:,} documents, {info['passages']:,} passages, "
              f"{info['characters']:,} characters; medians of {args.repeat} runs (shared machine: noisy)")
        print(f"segmenter + converter load (once per process): {setup_s:.2f} s\n")
        total = sum(st.median(s) for s in STAGES)
        total_cpu = sum(st.median(s, cpu=True) for s in STAGES)
        # Shares and speeds from CPU time: on a shared machine wall time also counts other jobs.
        rows = [(s, f"{st.median(s):.2f}", f"{st.median(s, cpu=True):.2f}",
                 f"{100 * st.median(s, cpu=True) / total_cpu:.0f}%",
                 f"{info['characters'] / max(st.median(s, cpu=True), 1e-9) / 1e3:,.0f}") for s in STAGES]
        rows.append(("sum of stages", f"{total:.2f}", f"{total_cpu:.2f}", "100%",
                     f"{info['characters'] / total_cpu / 1e3:,.0f}"))
        rows.append(("today, end to end (procs=1, new process)", f"{today['wall_s']:.2f}", f"{today['cpu_s']:.2f}", "", ""))
        print(table(rows, ("stage", "wall s", "cpu s", "share of cpu", "k chars per cpu-s")))

        print("\npostings (distinct terms per record) per field")
        prow = []
        for f in sorted(postings, key=lambda f: -postings[f]):
            ws = info["postings_with_subwords"].get(f)
            wo = info["postings_without_subwords"].get(f)
            prow.append((f, f"{postings[f]:,}", f"{ws:,}" if ws is not None else "", f"{wo:,}" if wo is not None else "",
                         f"{postings[f] / info['passages']:.1f}"))
        prow.append(("all fields", f"{sum(postings.values()):,}", "", "", f"{sum(postings.values()) / info['passages']:.1f}"))
        print(table(prow, ("field", "in the index", "with sub-words", "without sub-words", "per passage")))
        tok = info["tokens"]
        print(f"tokens: text {tok['text tokens']:,} ({tok['text tokens (no sub-words)']:,} without sub-words), "
              f"section {tok['section tokens']:,} ({tok['section tokens (no sub-words)']:,})")

        print(f"\nindex bytes per file type (today's build; corpus {corpus_bytes / MB:.2f} MB)")
        srow = [(k, f"{v / MB:.2f}", f"{v / corpus_bytes:.2f}×") for k, v in sorted(today_sizes.items(), key=lambda kv: -kv[1])]
        tot = sum(today_sizes.values())
        srow.append(("total", f"{tot / MB:.2f}", f"{tot / corpus_bytes:.2f}×"))
        print(table(srow, ("file", "MB", "/ corpus bytes")))
        del sizes

        if prof is not None:
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
            print("\ncProfile of add_document + commit (last run), top 25 by own time")
            print("\n".join(s.getvalue().splitlines()[:60]))
        if args.json:
            args.json.write_text(json.dumps({
                "corpus": args.corpus, "corpus_bytes": corpus_bytes, **info,
                "stages_wall_s": {s: st.median(s) for s in STAGES},
                "stages_cpu_s": {s: st.median(s, cpu=True) for s in STAGES},
                "today": today, "postings": postings, "file_bytes": today_sizes,
            }, ensure_ascii=False, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
