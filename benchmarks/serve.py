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

Prints, per phase: requests/s, p50/p95/p99/max latency (as the client sees
it: queueing included), the error count (any status but 200, or a failed
connection) with the statuses, and the server's RSS and open file
descriptors at the start and end. Timings are wall-clock on a shared
machine: run it twice and compare medians.
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
        if args.json:
            args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), "utf-8")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
