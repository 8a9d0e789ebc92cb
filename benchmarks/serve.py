"""Load benchmark of ``kb serve`` on the whole corpus: 20 concurrent clients on loopback.

    pip install -e '.[bench]' && python benchmarks/serve.py

Builds an index of ``../shared/corpus`` (unless ``--index`` names an
existing one), starts a real ``kb serve`` subprocess on a free loopback port,
and drives it from ``--clients`` threads, each with its own keep-alive
connection, for ``--requests`` requests in all: the 57 queries of
``benchmarks/queries.txt`` (with their filters) as ``GET /search``, and one
request in ten for a passage, a document outline, the topics or the stats.
Then it does the same once more while ``kb index --rebuild`` of the whole
corpus runs in another process (``--no-rebuild`` skips that phase).

Then the search page's own requests (``--no-workflow`` skips them): every
query with the facets the page asks for (topic and the fields ``GET /fields``
shows to be categories), one in two grouped by document, one in three by
date; and CSV exports of broad queries (the whole match set, streamed; one
after the other, as exports take turns) while the steady mix runs, to see
what an export costs the other clients and what they cost it.

Prints, per phase: requests/s, p50/p95/p99/max latency (as the client sees
it: queueing included), the error count (any status but 200, or a failed
connection) with the statuses, and the server's RSS and open file
descriptors at the start and end; for exports, rows, MB, seconds and rows/s
of each, and the server's peak RSS while they ran. Timings are wall-clock
on a shared machine: run it twice and compare medians.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import load_queries  # noqa: E402  (the query file's parser)

CORPUS = ROOT.parent / "shared" / "corpus"
DATA = ("gov-work-reports", "laws", "xwlb")  # what bench.py indexes: the corpus without SOURCES.md


def kb_argv(index: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "kb.cli", "--index", str(index), *args]


def build_index(index: Path, sources: list[Path]) -> None:
    print(f"building {index} from {', '.join(map(str, sources))} ...", flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(kb_argv(index, "index", *map(str, sources), "--json"), capture_output=True, text=True)
    if r.returncode:
        sys.exit(r.stderr)
    s = json.loads(r.stdout)
    print(f"  {s['total_documents']} documents, {s['total_passages']} passages in {time.perf_counter() - t0:.1f} s")


class Server:
    def __init__(self, index: Path, log: Path):
        self.log = log
        self._out = open(log, "wb")
        self.proc = subprocess.Popen(kb_argv(index, "serve", "--port", "0"), stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            m = re.search(r"at http://([^:/\s]+):(\d+)/", log.read_text("utf-8", "replace"))
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                return
            if self.proc.poll() is not None:
                sys.exit(f"kb serve exited: {log.read_text('utf-8', 'replace')}")
            time.sleep(0.05)
        self.stop()
        sys.exit("kb serve did not start within 120 s")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._out.close()


def request_paths(queries, passages: list[str], docs: list[str]) -> list[str]:
    """The request mix: every query as /search, with a passage, an outline, topics or stats after each tenth."""
    searches = []
    for q in queries:
        params = {"q": q.text, **q.options}
        searches.append("/search?" + urlencode(params))
    others = itertools.cycle(
        [f"/passages/{quote(p, safe='')}?context=1" for p in passages[:20]]
        + [f"/documents/{quote(d, safe='')}" for d in docs[:20]] + ["/topics", "/stats"])
    out = []
    for i, s in enumerate(searches * 10):
        out.append(s)
        if i % 9 == 8:
            out.append(next(others))
    return out


def facet_fields(fields: list[dict]) -> list[str]:
    """The fields the search page shows facets for (the rule of kb/server/static/app.js)."""
    return [f["name"] for f in fields if f["name"] not in ("id", "title", "date", "path") and 2 <= f["values"] <= 100
            and f["values"] < f["documents"]]


def page_paths(queries, fields: list[str]) -> list[str]:
    """What the search page asks for a first page of results: facets, one in two grouped, one in three by date."""
    out = []
    for i, q in enumerate(queries):
        params = {"q": q.text, **q.options, "limit": 10, "offset": 0, "facets": ",".join(["topic", *fields])}
        if i % 2:
            params["group_by"] = "doc"
        if i % 3 == 0:
            params["sort"] = "date"
        out.append("/search?" + urlencode(params))
    return out


def export_once(server: Server, query: str) -> dict:
    """Download every match of ``query`` as CSV; rows, bytes, seconds, time to the first byte."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
    t0 = time.perf_counter()
    conn.request("GET", "/search?" + urlencode({"q": query, "format": "csv"}))
    r = conn.getresponse()
    first = None
    size = rows = 0
    while True:
        chunk = r.read(1 << 16)
        if not chunk:
            break
        if first is None:
            first = time.perf_counter() - t0
        size += len(chunk)
        rows += chunk.count(b"\r\n")
    conn.close()
    seconds = time.perf_counter() - t0
    return {"query": query, "status": r.status, "rows": rows - 1, "total": int(r.getheader("X-Total-Count") or 0),
            "mb": round(size / 1e6, 1), "seconds": round(seconds, 1), "first_byte_s": round(first or 0, 2),
            "rows_per_s": round((rows - 1) / seconds)}


def drive(server: Server, paths: list[str], total: int, clients: int, stop_early: threading.Event | None = None):
    """Send ``total`` requests from ``clients`` threads; returns latencies (s), statuses and the wall time."""
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter = Counter()

    def client():
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        mine, codes = [], Counter()
        while True:
            with lock:
                i = next(counter)
            if i >= total or (stop_early is not None and stop_early.is_set()):
                break
            path = paths[i % len(paths)]
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                codes[r.status] += 1
            except (OSError, http.client.HTTPException) as e:
                codes[type(e).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(codes)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.perf_counter() - t0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def report(name: str, latencies, statuses, wall, before, after) -> dict:
    n = len(latencies)
    errors = sum(v for k, v in statuses.items() if k != 200)
    ms = [x * 1000 for x in latencies]
    row = {"phase": name, "requests": n, "requests_per_s": round(n / wall, 1), "p50_ms": round(pct(ms, 50), 1),
           "p95_ms": round(pct(ms, 95), 1), "p99_ms": round(pct(ms, 99), 1), "max_ms": round(max(ms), 1),
           "mean_ms": round(statistics.fmean(ms), 1), "errors": errors,
           "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
           "rss_mb": [round(before[0], 1), round(after[0], 1)], "fds": [before[1], after[1]]}
    print(f"\n{name}: {n} requests in {wall:.1f} s = {row['requests_per_s']} requests/s")
    print(f"  latency p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms, max {row['max_ms']} ms")
    print(f"  errors {errors}  (statuses: {row['statuses']})")
    print(f"  server RSS {before[0]:.1f} → {after[0]:.1f} MB, open fds {before[1]} → {after[1]}")
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, help="an index of the corpus to serve (built there if missing; default: a "
                                               "temporary directory)")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--no-rebuild", action="store_true", help="skip the phase under a concurrent rebuild")
    ap.add_argument("--no-workflow", action="store_true", help="skip the page's facet requests and the exports")
    ap.add_argument("--exports", nargs="*", default=["发展", "改革", "经济"],
                    help="queries to export as CSV, one after the other, while the steady mix runs")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        sys.exit(f"no corpus at {args.corpus}")
    sources = [args.corpus / d for d in DATA if (args.corpus / d).is_dir()] or [args.corpus]
    tmp = Path(tempfile.mkdtemp(prefix="kb-serve-bench-"))
    index = args.index or tmp / "index"
    if not (index / "CURRENT").exists():
        build_index(index, sources)
    queries = load_queries(ROOT / "benchmarks" / "queries.txt")

    server = Server(index, tmp / "serve.log")
    try:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        conn.request("GET", "/stats")
        stats = json.loads(conn.getresponse().read())
        conn.request("GET", "/search?" + urlencode({"q": "城镇化 改革", "limit": 20}))
        hits = json.loads(conn.getresponse().read())["hits"]
        conn.close()
        print(f"serving {stats['documents']} documents, {stats['passages']} passages at "
              f"http://{server.host}:{server.port}/ with {args.clients} clients")
        paths = request_paths(queries, [h["id"] for h in hits], sorted({h["doc_id"] for h in hits}))
        drive(server, paths, len(paths) // 10, args.clients)  # warm: every query once
        rows = []
        before = (server.rss_mb(), server.fds())
        lat, st, wall = drive(server, paths, args.requests, args.clients)
        rows.append(report("steady", lat, st, wall, before, (server.rss_mb(), server.fds())))

        if not args.no_rebuild:
            before = (server.rss_mb(), server.fds())
            t0 = time.perf_counter()
            rebuild = subprocess.Popen(kb_argv(index, "index", "--rebuild", *map(str, sources)),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            lat, st, wall = drive(server, paths, args.requests, args.clients)
            overlap = rebuild.poll() is None
            rebuild_rc = rebuild.wait()
            rebuild_s = time.perf_counter() - t0
            row = report("during `kb index --rebuild`", lat, st, wall, before, (server.rss_mb(), server.fds()))
            row.update(rebuild_seconds=round(rebuild_s, 1), rebuild_exit=rebuild_rc, rebuild_outlasted_load=overlap)
            print(f"  the rebuild took {rebuild_s:.1f} s (exit {rebuild_rc}); it "
                  f"{'was still running when the last request was answered' if overlap else 'finished before the load did'}")
            # After the switch the server answers from the new generation, without a restart.
            lat, st, wall = drive(server, paths, min(args.requests, 2000), args.clients)
            rows.append(row)
            rows.append(report("after the rebuild", lat, st, wall, before, (server.rss_mb(), server.fds())))
        if not args.no_workflow:
            rows += workflow(server, queries, args)
        if args.json:
            args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), "utf-8")
    finally:
        server.stop()
    return 0


def workflow(server: Server, queries, args) -> list[dict]:
    """The page's facet requests, then exports under the steady mix (and alone, for their own speed)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
    conn.request("GET", "/fields")
    fields = facet_fields(json.loads(conn.getresponse().read())["fields"])
    conn.close()
    print(f"\nfacets the page shows on this index: topic, {', '.join(fields)}")
    rows = []
    wpaths = page_paths(queries, fields)
    drive(server, wpaths, len(wpaths), args.clients)  # warm
    before = (server.rss_mb(), server.fds())
    lat, st, wall = drive(server, wpaths, max(len(wpaths), args.requests // 2), args.clients)
    rows.append(report("page requests (facets; half grouped; a third by date)", lat, st, wall, before,
                       (server.rss_mb(), server.fds())))

    if not args.exports:
        return rows
    queries_ = list(args.exports)
    results: list[dict] = []
    peak = [server.rss_mb()]
    done = threading.Event()

    def exporter(mine):
        for q in mine:
            results.append(export_once(server, q))

    def sample():
        while not done.is_set():
            peak.append(server.rss_mb())
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=exporter, args=(queries_,))]
    before = (server.rss_mb(), server.fds())
    for t in threads:
        t.start()
    paths = request_paths(queries, [], [])
    lat, st, wall = drive(server, paths, min(args.requests, 2000), args.clients)
    row = report("steady mix while CSV exports stream", lat, st, wall, before, (server.rss_mb(), server.fds()))
    for t in threads:
        t.join()
    done.set()
    sampler.join()
    for r in results:
        print(f"  export {r['query']!r}: {r['rows']:,} of {r['total']:,} rows, {r['mb']} MB in {r['seconds']} s "
              f"({r['rows_per_s']:,} rows/s; first byte after {r['first_byte_s']} s; status {r['status']})")
    print(f"  server peak RSS while exporting {max(peak):.1f} MB")
    row.update(exports=results, peak_rss_mb=round(max(peak), 1))
    rows.append(row)
    print("\nCSV exports with no other load:")
    alone = [export_once(server, q) for q in queries_]
    for r in alone:
        print(f"  export {r['query']!r}: {r['rows']:,} rows, {r['mb']} MB in {r['seconds']} s "
              f"({r['rows_per_s']:,} rows/s; first byte after {r['first_byte_s']} s)")
    rows.append({"phase": "exports alone", "exports": alone, "rss_mb": round(server.rss_mb(), 1)})
    return rows


if __name__ == "__main__":
    sys.exit(main())
