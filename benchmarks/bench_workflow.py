"""Benchmark of the document-level workflow on a large index: facets, grouping, date sort, streaming export.

    python benchmarks/bench_workflow.py [--index PATH] [--corpus PATH] [--repeat N]

Uses the index at ``--index`` (default ``/tmp/kb-bench-workflow/index``),
building it from ``--corpus`` (default ``../shared/corpus``) when it does not
exist. For each query it prints the size of the match set, then the warm
wall time (median of ``--repeat`` runs, after one cold run) of:

* ``top-10``: ``search(limit=10)``, the ordinary search, for comparison;
* ``facets``: ``search(..., facets="topic,year,source,kind,category")``;
* ``group``: ``search(..., group_by="doc")`` (ten documents shown);
* ``group+date``: the same sorted by date;
* ``export``: ``iter_search`` of every match written as CSV to a file;

``first`` is the first faceted search of the query: it scans the verbatim-recall
file for each of its strings (the results are then kept per commit, so the
later runs reuse them). ``tables`` is the one-off cost, per commit, of the
look-up tables grouping and facets use (passage → document, document
records), paid by the first grouped or faceted search after the index
changes.

And, each in a new process, the peak RSS of exporting every match of the
largest query as CSV (streamed), against building the same hits as one list
first (what an export without streaming would hold), with the RSS of the
process after one warm search as the base line.

Timings on a shared machine are noisy: repeat and compare medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["发展 OR 建设 OR 推进", "发展", "改革", "城镇化", "户籍", "rural land reform", "宅基地 OR 承包地"]
FACETS = "topic,year,source,kind,category"


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # cold: caches of the commit are filled here
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


_RSS_SCRIPT = r"""
import resource, sys, json
from kb import KnowledgeBase, export
kb = KnowledgeBase(sys.argv[1])
kb.search(sys.argv[2], limit=10)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(sys.argv[4], "w", encoding="utf-8", newline="") as out:
    stream = kb.iter_search(sys.argv[2])
    keys = stream.metadata_keys
    items = list(stream) if sys.argv[3] == "list" else stream
    n = export.write(items, "csv", out, metadata_keys=keys, kind="hit")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"hits": n, "base_mb": base / 1024, "peak_mb": peak / 1024}))
"""


def rss(index: Path, query: str, mode: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(index), query, mode, str(Path(d) / "x.csv")],
                             capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=Path("/tmp/kb-bench-workflow/index"))
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from kb import KnowledgeBase, export

    kb = KnowledgeBase(args.index)
    if not kb.exists():
        print(f"building {args.index} from {args.corpus} …", flush=True)
        s = kb.index([args.corpus])
        print(f"  {s.total_documents} documents, {s.total_passages} passages, {s.seconds:.1f} s", flush=True)
    st = kb.stats()
    print(f"index: {st.documents} documents, {st.passages} passages; median of {args.repeat} warm runs\n")
    t0 = time.perf_counter()
    kb.search("宅基地", limit=1, facets="year")
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    kb.search("宅基地", limit=1, facets="year")
    print(f"tables: first faceted search after opening {first * 1000:.0f} ms, the same again "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms\n")
    header = (f"{'query':<22} {'matches':>8} {'docs':>6} {'first':>8} {'facets':>8} {'group':>8} {'grp+date':>8} "
              f"{'top-10':>8} {'export':>8}")
    print(header)
    print("-" * len(header))
    biggest = (0, QUERIES[0])
    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / "out.csv"
        for q in QUERIES:
            t0 = time.perf_counter()
            kb.search(q, limit=10, facets=FACETS)
            t_first = time.perf_counter() - t0
            t_fac, fac = timed(lambda: kb.search(q, limit=10, facets=FACETS), args.repeat)
            t_top, top = timed(lambda: kb.search(q, limit=10), args.repeat)
            t_grp, grp = timed(lambda: kb.search(q, limit=10, group_by="doc"), args.repeat)
            t_gd, _ = timed(lambda: kb.search(q, limit=10, group_by="doc", sort="date"), args.repeat)

            def export_all():
                with open(target, "w", encoding="utf-8", newline="") as out, kb.iter_search(q) as stream:
                    return export.write(stream, "csv", out, metadata_keys=stream.metadata_keys, kind="hit")

            t_exp, n = timed(export_all, args.repeat)
            assert n == fac.total, (n, fac.total)
            biggest = max(biggest, (fac.total, q))
            print(f"{q:<22} {fac.total:>8} {grp.total_documents:>6} {t_first * 1000:>6.0f}ms {t_fac * 1000:>6.0f}ms "
                  f"{t_grp * 1000:>6.0f}ms {t_gd * 1000:>6.0f}ms {t_top * 1000:>6.0f}ms {t_exp * 1000:>6.0f}ms",
                  flush=True)
    kb.close()
    q = biggest[1]
    print(f"\npeak RSS exporting every match of {q!r} ({biggest[0]} hits) as CSV, each in a new process:")
    for mode, label in (("stream", "streamed (iter_search → export.write)"), ("list", "all hits built first (list)")):
        r = rss(args.index, q, mode)
        print(f"  {label:<40} base {r['base_mb']:.0f} MB → peak {r['peak_mb']:.0f} MB "
              f"(+{r['peak_mb'] - r['base_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
