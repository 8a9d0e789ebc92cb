"""Build time, CPU, size and memory of kb's index with today's writer, the bulk writer, and the baseline.

Run from the repository root, in the project's virtualenv::

    python benchmarks/bulk_build.py                       # the 3 MB slice and the whole corpus
    python benchmarks/bulk_build.py --corpus slice --repeat 5
    python benchmarks/bulk_build.py --variants today,bulk-1,bulk-N --procs 2

Every build is a new process, measured from spawn to exit (so imports and
loading the dictionaries count), with ``os.wait4``: wall time, CPU time
(user + system of the process and of every worker it waited for), and peak
RSS (the larger of the kernel's high-water mark of the largest process and
the polled sum over the process tree; see ``benchmarks/bench.py``). Sizes are
every file under the index directory; "corpus bytes" are the bytes of the
source files (slice: the seed and ``xwlb-2024-10 .. 2025-01.jsonl``, 3.05 MB;
whole: ``gov-work-reports``, ``laws``, ``xwlb``, 37.35 MB).

Variants
--------
today
    ``kb index --rebuild`` (``kb.indexer.run_index``; its own choice of
    processes: one below 4 MB of files, two worker processes above).
bulk-1
    The same build (``bulk_index`` below mirrors ``run_index``'s fresh path:
    read, chunk, tag, recall file, manifest, pinyin map, publish) with
    ``BulkWriter`` in one process.
bulk-N
    ``ParallelBulkWriter``: analysis and segment writing in ``--procs``
    worker processes (default: every core), one segment per worker.
bulk-N-blocks, bulk-1-blocks
    As above, stored fields in compressed blocks (``kb.engine.whoosh.codec``),
    with the passage's packed row stored as JSON, not zlib'd one by one
    (the reader's ``unpack_passage`` would have to accept that; see the report).
bulk-1-nosub
    ``bulk-1`` without dictionary sub-words in the word fields.
baseline
    ``benchmarks/bench.py``'s Whoosh + jieba baseline (imported, not copied).

Medians over ``--repeat`` runs; the machine is shared, so every figure is noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import buildlib  # noqa: E402
from buildlib import MB, table  # noqa: E402

ALL_VARIANTS = ("today", "bulk-1", "bulk-N", "bulk-1-blocks", "bulk-N-blocks", "bulk-1-nosub", "baseline")
DEFAULT_VARIANTS = ("today", "bulk-1", "bulk-N", "bulk-N-blocks", "baseline")
TIMEOUT = 3 * 3600


# --- the kb build with the bulk writer (runs in a child process) ------------------------------


def bulk_index(index_path: str, paths: list[str], procs: int, block_stored: bool = False,
               subwords: bool = True) -> dict:
    """A from-scratch kb index of ``paths`` written with the bulk writer; returns stage timings.

    Mirrors the fresh-build path of ``kb.indexer.run_index`` (same files,
    documents, passages, fields, recall file, manifest and pinyin map) so
    the figures compare like with like; incremental runs are not covered.
    """
    import datetime as _dt
    import hashlib

    t_start = time.perf_counter()
    from whoosh.filedb.filestore import FileStorage

    from kb import recall
    from kb.analysis import normalize
    from kb.chunking import chunk
    from kb.engine.whoosh.bulk import BulkWriter
    from kb.engine.whoosh.parallel import ParallelBulkWriter
    from kb.index import IndexDir, Manifest
    from kb.indexer import doc_fields, passage_fields
    from kb.ingest import discover, read_source_hashed
    from kb.lexicon import PinyinMap, tag

    stages = {"imports": time.perf_counter() - t_start}
    t = time.perf_counter()
    index = IndexDir(index_path)
    files, _skipped, manifests = discover([Path(p) for p in paths])
    passages_total = 0
    with index.lock():
        gen = index.new_generation()
        ix = FileStorage(str(gen)).open_index()
        if procs > 1:
            writer = ParallelBulkWriter(ix, procs=procs, block_stored=block_stored, subwords=subwords,
                                        hook=pinyin_entries)
        else:
            writer = BulkWriter(ix, block_stored=block_stored, subwords=subwords)
        manifest = Manifest()
        manifest.created = manifest.updated = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        owners: dict[str, str] = {}
        new_records: list[bytes] = []
        checked = 0
        for sf in files:
            docs, _skips, digest = read_source_hashed(sf, manifests.get(sf.key))
            if not docs:
                continue
            doc_ids: list[str] = []
            count = 0
            for doc in docs:
                if doc.id in owners or doc.id in doc_ids:
                    continue
                doc_ids.append(doc.id)
                passages = chunk(doc)
                writer.start_group()
                writer.add_document(**doc_fields(doc, [p.id for p in passages]))
                for p in passages:
                    topics = tag(p.section + "\n" + p.text)
                    if block_stored:
                        fields = raw_passage_fields(doc, p, topics)
                        if checked < 50:  # the same fields as passage_fields, the row not zlib'd
                            ref = passage_fields(doc, p, topics)
                            ref["p"] = zlib.decompress(ref["p"])
                            assert ref == fields, p.id
                            checked += 1
                    else:
                        fields = passage_fields(doc, p, topics)
                    writer.add_document(**fields)
                    new_records.append(recall.record(p.id, normalize(p.text)))
                    count += 1
                writer.end_group()
            for d in doc_ids:
                owners[d] = sf.key
            meta = manifests.get(sf.key)
            manifest.files[sf.key] = {
                "size": sf.size, "mtime_ns": sf.mtime_ns, "sha1": digest,
                "meta": hashlib.sha1(json.dumps(meta, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
                if meta else "",
                "docs": doc_ids, "passages": count,
            }
            passages_total += count
        stages["read, chunk, fields, add"] = time.perf_counter() - t
        t = time.perf_counter()
        generation = writer.generation
        recall.write(gen, new_records, generation)
        index.write_manifest(gen, manifest, generation)
        stages["recall file + manifest"] = time.perf_counter() - t
        t = time.perf_counter()
        writer.commit(merge=False)
        stages["commit (wait for workers, write)"] = time.perf_counter() - t
        t = time.perf_counter()
        pm = PinyinMap()
        ix = FileStorage(str(gen)).open_index()
        with ix.reader() as r:
            if procs > 1:  # the workers computed the pinyin of the words they found
                for entries in writer.hook_results:
                    for key, words in entries.items():
                        pm.entries.setdefault(key, set()).update(words)
            else:
                pm.add_terms(x.decode("utf-8") if isinstance(x, bytes) else x for x in r.lexicon("text"))
            segments = len(r.leaf_readers())
        pm.save(gen)
        ix.close()
        stages["pinyin map"] = time.perf_counter() - t
        t = time.perf_counter()
        index.publish(gen)
        stages["publish (fsync)"] = time.perf_counter() - t
    stages["total"] = time.perf_counter() - t_start
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    stages["parent cpu"] = me.ru_utime + me.ru_stime
    stages["workers cpu"] = kids.ru_utime + kids.ru_stime
    return {"passages": passages_total, "segments": segments, "stages": stages,
            "postings": _postings(writer)}


def pinyin_entries(builder) -> dict:
    """Run in each worker: the pinyin map entries of the words of its text field (kb's PinyinMap rules)."""
    from kb.lexicon import PinyinMap

    pm = PinyinMap()
    pm.add_terms(builder.postings.get("text", {}).keys())
    return pm.entries


def _postings(writer) -> dict:
    stats = [writer.stats] if getattr(writer, "stats", None) else []
    stats += getattr(writer, "worker_stats", [])
    out: dict[str, list[int]] = {}
    for st in stats:
        for f, (terms, postings, trm, pst) in st.items():
            acc = out.setdefault(f, [0, 0, 0, 0])
            acc[0] += terms
            acc[1] += postings
            acc[2] += trm
            acc[3] += pst
    return out


def raw_passage_fields(doc, p, topics) -> dict:
    """``kb.indexer.passage_fields`` with the packed row as plain JSON bytes.

    ``pack_passage`` zlib-compresses each row with zlib's default 256 KB state
    (tens of µs per passage, more than the row's segmentation); with stored
    fields compressed in blocks, the row is better left plain. The reader's
    ``unpack_passage`` would then read JSON without ``zlib.decompress``.
    """
    from kb.analysis import normalize
    from kb.search import date_bounds

    row = [p.text, p.section, p.paragraph, p.part, p.seq, p.start, p.end, list(topics)]
    f = {"id": p.id, "doc_id": doc.id, "section": p.section, "section_key": normalize(p.section), "text": p.text,
         "topics": ",".join(topics), "p": json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8")}
    if doc.date:
        f["date_lo"], f["date_hi"] = date_bounds(doc.date)
    return f


def child_main(argv: list[str]) -> None:
    args = json.loads(argv[0])
    print(json.dumps(bulk_index(**args)))


# --- the parent: run every variant as a child process ----------------------------------------


def prepare_root(name: str, work: Path) -> Path:
    """One directory that holds the selection, so every variant indexes identical document ids."""
    root = work / f"src-{name}"
    if root.exists():
        return root
    root.mkdir(parents=True)
    for p in buildlib.selection(name):
        target = root / p.name
        if p.is_dir():
            os.symlink(p, target)  # kb and the baseline follow directory links
        else:
            shutil.copyfile(p, target)
    return root


def variant_cmd(variant: str, root: Path, index: Path, procs: int) -> list[str]:
    import bench

    if variant == "today":
        return [sys.executable, "-m", "kb.cli", "--index", str(index), "index", "--rebuild", str(root)]
    if variant == "baseline":
        return bench.role_cmd("base-index", index=str(index), corpus=str(root))
    n = procs if "-N" in variant else 1
    args = {"index_path": str(index), "paths": [str(root)], "procs": n, "block_stored": variant.endswith("-blocks"),
            "subwords": not variant.endswith("-nosub")}
    return [sys.executable, str(Path(__file__).resolve()), "_child", json.dumps(args)]


def run_variant(variant: str, root: Path, work: Path, procs: int) -> dict:
    import bench

    index = work / f"ix-{variant}"
    shutil.rmtree(index, ignore_errors=True)
    run = bench.run_child(variant_cmd(variant, root, index, procs), workdir=work, timeout=TIMEOUT, cwd=buildlib.REPO)
    if run.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{run.failure()}")
    out = {"wall_s": run.wall_s, "cpu_s": run.cpu_s, "peak_rss": run.peak_rss_bytes, "other_cpu_s": run.other_cpu_s,
           "index_bytes": buildlib.dir_size(index), "detail": run.json()}
    if variant != "baseline":
        from build_profile import segment_file_sizes

        gen = next(index.glob("gen-*"))
        out["files"] = segment_file_sizes(gen)
    return out


def check_same_results(work: Path, variants: list[str], queries: list[str]) -> list[str]:
    """Problems: queries whose hits differ from today's index (ids and scores; order only where scores differ)."""
    from kb import KnowledgeBase

    problems = []
    ref = KnowledgeBase(work / "ix-today")
    for v in variants:
        if v in ("today", "baseline") or "nosub" in v or "blocks" in v:
            continue  # blocks: the packed row changed format; nosub: different postings by design
        kb = KnowledgeBase(work / f"ix-{v}")
        for q in queries:
            a = ref.search(q, limit=20)
            b = kb.search(q, limit=20)
            key = lambda h: (-h.score, h.id)  # noqa: E731  (docnum order differs between segments)
            if a.total != b.total or sorted((h.id, h.score) for h in a) != sorted((h.id, h.score) for h in b):
                if sorted(a, key=key)[:10] != sorted(b, key=key)[:10]:
                    problems.append(f"{v}: {q!r} differs from today's index")
        kb.close()
    ref.close()
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="slice,whole", help="slice, whole, or both (comma-separated)")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help="from: " + ", ".join(ALL_VARIANTS))
    ap.add_argument("--procs", type=int, default=0, help="worker processes of bulk-N (default: every core)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per variant on the slice (the whole corpus: --repeat-whole)")
    ap.add_argument("--repeat-whole", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write every run here")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    from kb.engine.whoosh.parallel import default_procs

    procs = args.procs or default_procs()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kb-bulk-build-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"procs": procs, "cpus": os.cpu_count()}
    try:
        for name in [c.strip() for c in args.corpus.split(",")]:
            root = prepare_root(name, work)
            corpus_bytes = buildlib.source_bytes(buildlib.selection(name))
            repeat = args.repeat if name == "slice" else args.repeat_whole
            runs: dict[str, list[dict]] = {v: [] for v in variants}
            for n in range(repeat):
                for v in variants:  # interleaved, so a noisy minute does not hit one variant only
                    runs[v].append(run_variant(v, root, work, procs))
                    print(f"  {name} {v} run {n + 1}: {runs[v][-1]['wall_s']:.1f} s", file=sys.stderr)
            problems = check_same_results(work, variants, ["户籍", "城乡融合发展", "新质生产力", "乡村振兴 OR 宅基地",
                                                               "household registration", "huji"]) \
                if "today" in variants else []
            results[name] = {"corpus_bytes": corpus_bytes, "runs": runs, "problems": problems}
            print_table(name, corpus_bytes, runs, procs, repeat)
            for v in variants:
                files = runs[v][-1].get("files")
                if files:
                    big = sorted(files.items(), key=lambda kv: -kv[1])[:6]
                    print(f"  {v} bytes by file (MB): " + ", ".join(f"{k} {b / MB:.1f}" for k, b in big))
            for v in variants:
                det = runs[v][-1]["detail"]
                if isinstance(det, dict) and "stages" in det:
                    st = ", ".join(f"{k} {s:.2f}" for k, s in det["stages"].items())
                    print(f"  {v} stages (last run, s): {st}; segments {det.get('segments')}")
            for p in problems:
                print("  PROBLEM:", p)
            print()
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def print_table(name: str, corpus_bytes: int, runs: dict[str, list[dict]], procs: int, repeat: int) -> None:
    print(f"\n{name}: {corpus_bytes / MB:.2f} MB of files; medians of {repeat} run(s); bulk-N = {procs} workers; "
          f"{os.cpu_count()} CPUs (shared machine: noisy)")
    base = runs.get("baseline")
    rows = []
    for v, rs in runs.items():
        wall, cpu = _med(rs, "wall_s"), _med(rs, "cpu_s")
        size = _med(rs, "index_bytes")
        row = [v, f"{wall:.1f}", f"{cpu:.1f}", f"{size / MB:.1f}", f"{size / corpus_bytes:.2f}×",
               f"{_med(rs, 'peak_rss') / MB:.0f}", f"{_med(rs, 'other_cpu_s'):.0f}"]
        if base:
            bw, bc, bs = _med(base, "wall_s"), _med(base, "cpu_s"), _med(base, "index_bytes")
            row += [f"{bw / wall:.2f}×", f"{cpu / bc:.2f}×", f"{size / bs:.2f}×"]
        rows.append(tuple(row))
    headers = ("variant", "wall s", "cpu s", "index MB", "/ corpus", "peak RSS MB", "other cpu s")
    if base:
        headers += ("speed vs base", "cpu / base", "size / base")
    print(table(rows, headers))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_child":
        child_main(sys.argv[2:])
    else:
        raise SystemExit(main())
