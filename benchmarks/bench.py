"""Indexing and search benchmark for kb, with a plain Whoosh + jieba baseline.

Run from the repository root, in the project's virtualenv::

    python benchmarks/bench.py                  # full corpus (5-10 minutes on 2 cores)
    python benchmarks/bench.py --quick          # small subset, for development (about 1 minute)
    python benchmarks/bench.py --skip-baseline  # kb figures only
    python benchmarks/bench.py --corpus ../shared/corpus --out /tmp/results
    python benchmarks/bench.py --repeat 3       # every build and re-index 3 times, medians (issue 10)
    python benchmarks/bench.py --scale 1,2,4 --skip-baseline   # the corpus repeated N times
    python benchmarks/bench.py --slice-only --repeat 3          # only the 3 MB slice, kb and baseline
    python benchmarks/bench.py --search-only DIR  # warm + cold kb queries on an existing index

The corpus is the text folders of ``shared/corpus`` (gov-work-reports, laws,
xwlb: 7,556 documents; ``--all-folders`` adds ``documents/``). A run also
builds the "3 MB slice" (the seed and four months of news, which kb indexes in
one process) with kb and the baseline (``--no-slice`` skips it), and prints
issue 10's figures beside their targets. ``--scale N,..`` replaces the usual
run: for each N, the corpus and N-1 copies of it (new ids, each document's
lines shuffled) are built and queried; it reports build time, CPU, size, peak
RSS and warm p50/p95 per N, written to ``<out>/scale.json``.

The corpus defaults to ``shared/corpus`` beside the repository. It is copied
to a scratch directory first (``--workdir``, default a new temporary
directory, deleted afterwards unless ``--keep``), so the shared corpus is
never written to. The ``kb`` package is snapshotted into the same directory
at the start and every process of the run imports that copy (via
``PYTHONPATH``), so edits to ``kb/`` during a run cannot mix two versions.
Results are printed as tables and written as JSON to ``<out>/latest.json``
(default ``benchmarks/results/latest.json``, git-ignored). Needs ``psutil``,
and ``jieba`` for the baseline (``pip install -e '.[bench]'``).

What each figure means
----------------------
documents / passages / characters
    What the corpus turns into, counted by reading it with kb's own
    ``kb.ingest`` + ``kb.chunking`` (the same rules ``kb index`` uses);
    characters are the characters of passage text. ``kb index`` must report
    the same documents and passages (a mismatch is listed under problems).
ingest+chunk only
    Time to read and chunk the corpus in-process, without analysis or
    writing: the floor under any indexer fed these passages.
index wall time, chars/s
    A from-scratch ``kb index --rebuild`` of the corpus as a new process
    (``python -m kb.cli``): wall clock from spawn to exit, so interpreter
    start-up and imports are included. chars/s = passage characters / wall.
    ``cpu`` is the child's user+system CPU time.
index size
    Bytes of every file under the index directory after the run.
peak RSS
    Two figures for the indexing process. "largest process": ``ru_maxrss``
    from ``os.wait4``, the kernel's exact high-water mark of the child (or of
    its largest waited-for worker). "process tree": the peak of the summed
    RSS of the child and all its descendants, polled with psutil every 50 ms
    (may miss a short spike; counts shared pages once per process). With
    worker processes the tree figure is the memory the run really needs.
warm query latency p50/p95/p99
    One process keeps a ``KnowledgeBase`` open and runs every query of
    ``benchmarks/queries.txt`` with limit 10 (snippets and highlights are
    always built): one untimed warm-up pass, then ``WARM_PASSES`` timed passes
    over the whole list (round robin, so no query is timed right after
    itself). Percentiles are over all timed runs. "all" covers every query;
    "zh" covers the Chinese queries the baseline also runs.
cold search
    ``python -m kb.cli --index DIR search Q`` as a new process: wall clock,
    median of ``COLD_RUNS`` runs after one untimed run (so the OS page cache
    is warm but nothing is cached in-process).
incremental index
    On the full index of the corpus copy: ``kb index`` again with nothing
    changed ("no-change"), then after appending one paragraph to one ``.txt``
    file ("one doc changed"); new processes, wall clock. The appended
    paragraph must then be found by ``kb search``. Run after the baseline's
    build (it changes the copy). With ``--repeat R``, R such pairs.
kb --help
    The console script as a new process, median of HELP_RUNS.
baseline
    The obvious Whoosh + jieba pairing: ``jieba.analyse.ChineseAnalyzer()``
    on a stored TEXT field (plus a stored id and title), one ``ix.writer()``
    with default settings, indexing the same passages (read with kb's ingest
    + chunking inside the child, so that time counts on both sides). Queries:
    ``QueryParser("text")`` with ``PlusMinusPlugin`` (so ``-word`` excludes),
    limit 10, ``hit.highlights("text")`` for every hit; cold = a new process
    that imports jieba and whoosh, opens the index, searches and highlights.
    Note that kb indexes more (a bigram field, section and title fields,
    metadata), so the ratios price kb's features, not only its engine.
kb/baseline
    Ratios of the kb figure to the baseline figure (for chars/s, higher is
    better; for everything else lower is better).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
if not DEFAULT_CORPUS.is_dir():  # a git worktree under /work/wt/<name>
    DEFAULT_CORPUS = Path("/work/shared/corpus")
DEFAULT_QUERIES = HERE / "queries.txt"
DEFAULT_OUT = HERE / "results"

# The --quick subset, relative to the corpus root.
QUICK_SUBSET = ("gov-work-reports", "laws/national-shehuifa.jsonl", "xwlb/xwlb-2025-12.jsonl")
# The "whole corpus" of issue 10's figures: the text folders (7,556 documents, 37 MB). ``documents/``
# holds binary originals (PDF, DOC, OFD) added later; --all-folders indexes them too.
WHOLE_FOLDERS = ("gov-work-reports", "laws", "xwlb")
# The "3 MB slice" of issue 10: the seed plus four months of the news, below PARALLEL_MIN_BYTES, so
# kb indexes it in one process.
SEED = REPO / "seeds" / "xinhua-2020-12-01-shandong-urbanization.txt"
SLICE_MONTHS = ("2024-10", "2024-11", "2024-12", "2025-01")
SLICE_SUBSET = tuple(f"xwlb/xwlb-{m}.jsonl" for m in SLICE_MONTHS)
BASELINE_KINDS = frozenset({"word", "multi", "phrase", "bool", "trad"})
# Cold searches: one of each kind the issue names (Chinese, English, pinyin, typo, question).
# Cold searches: one of each kind issue 10 names; the baseline runs the first two (ratios).
KB_COLD_QUERIES = {
    "户籍": "Chinese",
    "household registration": "English",
    "hukou gaige": "pinyin",
    "户藉": "typo (did you mean 户籍)",
    "农民工怎样参加医疗保险": "question, Chinese",
    "how do migrant workers get social insurance": "question, English",
}
COLD_QUERIES = tuple(KB_COLD_QUERIES)
BASE_COLD_QUERIES = COLD_QUERIES[:2]
HELP_RUNS = 7
WARM_PASSES = 3
COLD_RUNS = 5
LIMIT = 10
# Appended to one document for the incremental run; the marker must not occur in the corpus.
CHANGED_FILE = "gov-work-reports/txt/gwr-2024.txt"
MARKER = "甲乙丙丁增量校验"
APPENDED = f"\n\n本段为基准测试追加的段落，用于验证增量索引，标记词{MARKER}。\n"
INDEX_TIMEOUT = 3 * 3600
QUERY_TIMEOUT = 120  # one cold search; the warm runs get WARM_TIMEOUT
WARM_TIMEOUT = 1800
MB = 1e6


# --- queries -------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def baseline(self) -> bool:
        return self.kind in BASELINE_KINDS

    def label(self) -> str:
        opts = " ".join(f"--{k} {v}" for k, v in self.options.items())
        return f"{self.text} {opts}".strip()


_OPTION_NAMES = ("since", "until", "section", "doc")


def load_queries(path: Path) -> list[Query]:
    """Parse the query file (format documented at its top)."""
    out = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) not in (2, 3) or not cols[1].strip():
            sys.exit(f"{path}:{n}: expected KIND<TAB>QUERY[<TAB>OPTIONS], got {line!r}")
        options: dict[str, str] = {}
        if len(cols) == 3:
            words = shlex.split(cols[2])
            if len(words) % 2:
                sys.exit(f"{path}:{n}: options must be --name value pairs, got {cols[2]!r}")
            for name, value in zip(words[::2], words[1::2]):
                key = name.removeprefix("--")
                if key not in _OPTION_NAMES:
                    sys.exit(f"{path}:{n}: unknown option {name!r}; use one of --since --until --section --doc")
                options[key] = value
        out.append(Query(cols[0].strip(), cols[1].strip(), options))
    if len(out) < 40:
        print(f"warning: only {len(out)} queries in {path}", file=sys.stderr)
    return out


# --- corpus ----------------------------------------------------------------------


def copy_corpus(src: Path, dst: Path, subset: tuple[str, ...] | None) -> None:
    """Copy the corpus's data folders (or the ``subset``) to ``dst`` as writable files.

    Top-level files (SOURCES.md) describe the corpus and are not part of it:
    ``kb index`` would index SOURCES.md as one more document.
    """
    items = [src / s for s in subset] if subset else sorted(p for p in src.iterdir()
                                                            if p.is_dir() and not p.name.startswith("."))
    for item in items:
        if not item.exists():
            sys.exit(f"{item} is missing from the corpus.")
        target = dst / (item.relative_to(src) if item.is_relative_to(src) else item.name)
        if item.is_dir():
            for dirpath, _dirs, files in os.walk(item):
                d = target / Path(dirpath).relative_to(item)
                d.mkdir(parents=True, exist_ok=True)
                for name in files:
                    shutil.copyfile(Path(dirpath) / name, d / name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item, target)


def corpus_passages(root: Path) -> Iterator[tuple[Any, Any]]:
    """(document, passage) pairs of ``root``, read exactly as ``kb index`` reads them."""
    from kb.chunking import chunk
    from kb.ingest import discover, read_source

    files, _skipped, manifests = discover([root])
    seen: set[str] = set()
    for sf in files:
        docs, _file_skips = read_source(sf, manifests.get(sf.key))
        for doc in docs:
            if doc.id in seen:  # kb skips a document id it has already indexed
                continue
            seen.add(doc.id)
            for p in chunk(doc):
                yield doc, p


def count_corpus(root: Path) -> dict[str, Any]:
    """Documents, passages and passage characters of ``root``, and the time to read and chunk it."""
    t0 = time.perf_counter()
    docs: set[str] = set()
    passages = chars = 0
    for doc, p in corpus_passages(root):
        docs.add(doc.id)
        passages += 1
        chars += len(p.text)
    return {"documents": len(docs), "passages": passages, "characters": chars,
            "ingest_chunk_s": time.perf_counter() - t0}


def source_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def write_replica(root: Path, dst: Path, k: int) -> None:
    """Copy ``k`` of the corpus at ``root`` for --scale, as JSONL files under ``dst``.

    Every document gets a new id (``<id>-r<k>``) and its lines in another
    order (seeded by id and ``k``), so the copy adds new passages and new
    position postings rather than repeating the original's; the vocabulary
    stays the corpus's, as more documents of the same kind would.
    """
    import random

    from kb.ingest import discover, read_source

    files, _skipped, manifests = discover([root])
    dst.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    for n, sf in enumerate(files):
        docs, _skips = read_source(sf, manifests.get(sf.key))
        rows = []
        for doc in docs:
            if doc.id in seen:
                continue
            seen.add(doc.id)
            lines = [ln for ln in doc.text.split("\n") if ln.strip()]
            if lines and lines[0].strip() == doc.title:
                lines = lines[1:]
            random.Random(f"{doc.id}/{k}").shuffle(lines)
            if not lines:
                continue
            rows.append(json.dumps({"id": f"{doc.id}-r{k}", "title": doc.title, "date": doc.date or "",
                                    "source": doc.source, "text": "\n".join(lines)}, ensure_ascii=False))
        if rows:
            (dst / f"part-{n:05d}.jsonl").write_text("\n".join(rows) + "\n", "utf-8")


def dir_size(path: Path) -> int:
    """Bytes of all files under ``path``."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


# --- child processes -----------------------------------------------------------------


@dataclass
class ChildRun:
    cmd: list[str]
    wall_s: float
    returncode: int
    stdout: str
    stderr: str
    maxrss_bytes: int  # ru_maxrss of the child (os.wait4)
    polled_peak_bytes: int  # psutil: peak of the summed RSS of the child's process tree
    cpu_s: float
    other_cpu_s: float = 0.0  # CPU time the rest of the machine used meanwhile (contention)

    @property
    def peak_rss_bytes(self) -> int:
        return max(self.maxrss_bytes, self.polled_peak_bytes)

    def json(self) -> Any:
        """The child's stdout as JSON (the last line that parses)."""
        for line in reversed(self.stdout.strip().splitlines()):
            try:
                return json.loads(line)
            except ValueError:
                continue
        return None

    def failure(self) -> str:
        tail = "\n".join(self.stderr.strip().splitlines()[-15:])
        return f"exit code {self.returncode} from {shlex.join(self.cmd)}\n{tail}"


def run_child(cmd: list[str], *, workdir: Path, timeout: float, poll: bool = True, cwd: Path | None = None) -> ChildRun:
    """Run ``cmd``, measuring wall time, peak RSS and CPU time; output goes through files, not pipes.

    The main thread blocks in ``os.wait4`` (exact wall time and the child's
    rusage); with ``poll`` a helper thread samples the RSS of the child's
    process tree every 50 ms.
    """
    import psutil

    out_path = workdir / "child.out"
    err_path = workdir / "child.err"
    peak = [0]
    done = threading.Event()

    def sample(pid: int) -> None:
        try:
            ps = psutil.Process(pid)
        except psutil.Error:
            return
        while not done.wait(0.05):
            try:
                procs = [ps, *ps.children(recursive=True)]
            except psutil.Error:
                return
            rss = 0
            for pr in procs:
                try:
                    rss += pr.memory_info().rss
                except psutil.Error:
                    pass
            peak[0] = max(peak[0], rss)

    busy0 = _busy_cpu_s()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True) if poll else None
        if sampler:
            sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
        except BaseException:  # interrupted: do not leave the child running
            proc.kill()
            proc.wait()
            raise
        finally:
            killer.cancel()
            done.set()
            if sampler:
                sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return ChildRun(
        cmd=[str(c) for c in cmd],
        wall_s=wall,
        returncode=proc.returncode,
        stdout=out_path.read_text("utf-8", errors="replace"),
        stderr=err_path.read_text("utf-8", errors="replace"),
        maxrss_bytes=usage.ru_maxrss * 1024,  # kilobytes on Linux
        polled_peak_bytes=peak[0],
        cpu_s=cpu,
        other_cpu_s=max(0.0, _busy_cpu_s() - busy0 - cpu),
    )


def _busy_cpu_s() -> float:
    """CPU seconds all CPUs of the machine have spent busy since boot."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def role_cmd(role: str, **args: Any) -> list[str]:
    """Command line that runs ``child_<role>`` of this file in a new process."""
    return [sys.executable, str(Path(__file__).resolve()), "_child", role, json.dumps(args, ensure_ascii=False)]


def kb_cli(index: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "kb.cli", "--index", str(index), *args]


# --- statistics --------------------------------------------------------------------------


def percentile(samples: list[float], p: float) -> float:
    """Linear-interpolated percentile (as numpy's default)."""
    xs = sorted(samples)
    if not xs:
        return math.nan
    k = (len(xs) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def latency_summary(per_query: list[dict], select=lambda q: True, key: str = "times_ms") -> dict[str, Any]:
    samples = [t for q in per_query if select(q) and not q.get("error") for t in q.get(key, ())]
    return {
        "queries": sum(1 for q in per_query if select(q) and not q.get("error")),
        "runs": len(samples),
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "p99_ms": percentile(samples, 99),
        "mean_ms": statistics.fmean(samples) if samples else math.nan,
        "max_ms": max(samples) if samples else math.nan,
    }


# --- child roles (run in their own processes) ----------------------------------------------


def child_kb_warm(args: dict) -> dict:
    """Warm kb query latency: one KnowledgeBase, every query WARM_PASSES times after a warm-up pass."""
    t0 = time.perf_counter()
    from kb import KnowledgeBase

    queries = [Query(**q) for q in args["queries"]]
    kb = KnowledgeBase(args["index"])
    import_s = time.perf_counter() - t0
    results = [{"kind": q.kind, "query": q.text, "options": q.options, "times_ms": [], "cpu_ms": []} for q in queries]
    for n in range(args["passes"] + 1):
        for q, r in zip(queries, results):
            if r.get("error"):
                continue
            t = time.perf_counter()
            c = time.thread_time()
            try:
                res = kb.search(q.text, limit=LIMIT, **q.options)
                snippets = [h.snippet for h in res]
            except Exception as e:  # recorded and reported, never fatal
                r["error"] = f"{type(e).__name__}: {e}"
                continue
            ms = (time.perf_counter() - t) * 1000
            if n == 0:
                r.update(first_ms=ms, hits=len(res), total=res.total,
                         top=[h.id for h in res[:3]], marked=sum(1 for s in snippets if "<mark>" in s))
            else:
                r["times_ms"].append(ms)
                r["cpu_ms"].append((time.thread_time() - c) * 1000)
    kb.close()
    return {"import_s": import_s, "per_query": results}


def _baseline_schema():
    from jieba.analyse import ChineseAnalyzer
    from whoosh import fields

    return fields.Schema(
        id=fields.ID(stored=True),
        title=fields.STORED(),
        text=fields.TEXT(stored=True, analyzer=ChineseAnalyzer()),
    )


def child_base_index(args: dict) -> dict:
    """Baseline indexing: the same passages into Whoosh with jieba's ChineseAnalyzer, one writer."""
    t0 = time.perf_counter()
    import logging

    import jieba
    from whoosh import index

    jieba.setLogLevel(logging.WARNING)
    ix_dir = Path(args["index"])
    ix_dir.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(ix_dir), _baseline_schema())
    writer = ix.writer()
    setup_s = time.perf_counter() - t0
    read_s = add_s = 0.0
    docs: set[str] = set()
    passages = chars = 0
    it = corpus_passages(Path(args["corpus"]))
    while True:
        t = time.perf_counter()
        try:
            doc, p = next(it)
        except StopIteration:
            read_s += time.perf_counter() - t
            break
        t1 = time.perf_counter()
        read_s += t1 - t
        writer.add_document(id=p.id, title=doc.title, text=p.text)
        add_s += time.perf_counter() - t1
        docs.add(doc.id)
        passages += 1
        chars += len(p.text)
    t = time.perf_counter()
    writer.commit()
    commit_s = time.perf_counter() - t
    ix.close()
    return {"documents": len(docs), "passages": passages, "characters": chars, "setup_s": setup_s,
            "read_chunk_s": read_s, "add_document_s": add_s, "commit_s": commit_s}


def child_base_warm(args: dict) -> dict:
    """Baseline warm query latency: index kept open, a searcher per query (as kb does), highlights built."""
    t0 = time.perf_counter()
    import logging

    import jieba
    from whoosh import index
    from whoosh.qparser import PlusMinusPlugin, QueryParser

    jieba.setLogLevel(logging.WARNING)
    ix = index.open_dir(args["index"])
    parser = QueryParser("text", ix.schema)
    parser.add_plugin(PlusMinusPlugin())
    import_s = time.perf_counter() - t0
    queries = [Query(**q) for q in args["queries"]]
    results = [{"kind": q.kind, "query": q.text, "options": q.options, "times_ms": []} for q in queries]
    for n in range(args["passes"] + 1):
        for q, r in zip(queries, results):
            if r.get("error"):
                continue
            t = time.perf_counter()
            try:
                with ix.searcher() as s:
                    hits = s.search(parser.parse(q.text), limit=LIMIT)
                    rows = [(h["id"], h["title"], h.highlights("text")) for h in hits]
                    total = len(hits)
            except Exception as e:
                r["error"] = f"{type(e).__name__}: {e}"
                continue
            ms = (time.perf_counter() - t) * 1000
            if n == 0:
                r.update(first_ms=ms, hits=len(rows), total=total, top=[row[0] for row in rows[:3]],
                         marked=sum(1 for row in rows if "<b" in row[2]))
            else:
                r["times_ms"].append(ms)
    ix.close()
    return {"import_s": import_s, "per_query": results}


# A new process that searches the baseline index once, as a user's script would.
BASE_COLD_SNIPPET = """
import sys
import jieba
from jieba.analyse import ChineseAnalyzer
from whoosh import index
from whoosh.qparser import PlusMinusPlugin, QueryParser
ix = index.open_dir(sys.argv[1])
parser = QueryParser("text", ix.schema)
parser.add_plugin(PlusMinusPlugin())
with ix.searcher() as s:
    hits = s.search(parser.parse(sys.argv[2]), limit=10)
    for h in hits:
        print(h["id"], h["title"], h.highlights("text"))
    print(f"{len(hits)} hits")
"""

CHILD_ROLES = {"kb-warm": child_kb_warm, "base-index": child_base_index, "base-warm": child_base_warm}


def child_main(role: str, args_json: str) -> None:
    result = CHILD_ROLES[role](json.loads(args_json))
    print(json.dumps(result, ensure_ascii=False))


# --- benchmark phases (parent) ------------------------------------------------------------


class Bench:
    """Runs the phases in order and collects results and problems."""

    def __init__(self, corpus: Path, work: Path, queries: list[Query], subset: tuple[str, ...] | None):
        self.corpus = corpus
        self.work = work
        self.queries = queries
        self.subset = subset
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.copy = work / "corpus"
        self.kb_index = work / "kb-index"
        self.base_index = work / "baseline-index"

    def problem(self, text: str) -> None:
        self.problems.append(text)
        print(f"  PROBLEM: {text}", flush=True)

    def log(self, text: str) -> None:
        print(f"[{_dt.datetime.now():%H:%M:%S}] {text}", flush=True)

    def child(self, cmd: list[str], timeout: float, **kw) -> ChildRun:
        run = run_child(cmd, workdir=self.work, timeout=timeout, **kw)
        if run.returncode != 0:
            self.problem(run.failure())
        if run.wall_s > 5 and run.other_cpu_s > 0.1 * run.wall_s:
            what = shlex.join(c if len(c) < 60 else c[:57] + "..." for c in run.cmd[1:])
            self.note(f"other processes used {run.other_cpu_s:.1f} CPU-s during the {run.wall_s:.1f} s of "
                      f"`{what}`; its timing may be inflated")
        return run

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    # -- phases --
    def prepare(self, subset: tuple[str, ...] | None = None, copy: Path | None = None) -> dict[str, Any]:
        subset = subset or self.subset
        copy = copy or self.copy
        self.log(f"copying {', '.join(subset) if subset else 'every folder of'} {self.corpus} to {copy}")
        copy_corpus(self.corpus, copy, subset)
        self.log("reading and chunking the corpus copy with kb.ingest + kb.chunking")
        counts = count_corpus(copy)
        counts["source_bytes"] = source_bytes(copy)
        counts["files"] = sum(1 for p in copy.rglob("*") if p.is_file() and p.name != "manifest.jsonl")
        self.log(f"  {counts['documents']:,} documents, {counts['passages']:,} passages, "
                 f"{counts['characters']:,} characters ({counts['ingest_chunk_s']:.1f} s)")
        return counts

    def kb_full_index(self, counts: dict, paths: list[Path] | None = None, index: Path | None = None,
                      source: int | None = None) -> dict[str, Any]:
        """A from-scratch ``kb index --rebuild`` of ``paths`` (default: the corpus copy) into ``index``."""
        paths = paths or [self.copy]
        index = index or self.kb_index
        self.log(f"kb index --rebuild (from scratch, new process) of {', '.join(p.name for p in paths)}")
        run = self.child(kb_cli(index, "index", "--rebuild", "--json", *map(str, paths)), INDEX_TIMEOUT)
        summary = run.json() or {}
        for key in ("documents", "passages"):
            got = summary.get(f"total_{key}")
            if got is not None and counts.get(key) is not None and got != counts[key]:
                self.problem(f"kb index reports {got} {key}, kb.ingest+kb.chunking give {counts[key]}")
        if summary.get("skipped"):
            self.problem(f"kb index skipped {len(summary['skipped'])} entries, e.g. {summary['skipped'][:3]}")
        r = {
            "wall_s": run.wall_s,
            "reported_s": summary.get("seconds"),
            "cpu_s": run.cpu_s,
            "other_cpu_s": run.other_cpu_s,
            "chars_per_s": counts["characters"] / run.wall_s if counts.get("characters") else None,
            "index_bytes": dir_size(index),
            "peak_rss_bytes": run.peak_rss_bytes,
            "maxrss_bytes": run.maxrss_bytes,
            "polled_peak_bytes": run.polled_peak_bytes,
            "documents": summary.get("total_documents"),
            "passages": summary.get("total_passages"),
        }
        if source:
            r["size_per_source_byte"] = r["index_bytes"] / source
        self.log(f"  {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} CPU-s, {r['index_bytes'] / MB:.1f} MB, "
                 f"peak RSS {r['maxrss_bytes'] / MB:.0f} MB largest process, {r['polled_peak_bytes'] / MB:.0f} MB tree")
        return r

    def warm(self, role: str, index: Path, queries: list[Query], name: str) -> dict[str, Any]:
        self.log(f"{name}: warm queries ({len(queries)} queries x {WARM_PASSES} timed passes)")
        args = {"index": str(index), "passes": WARM_PASSES,
                "queries": [{"kind": q.kind, "text": q.text, "options": q.options} for q in queries]}
        run = self.child(role_cmd(role, **args), WARM_TIMEOUT, poll=True)
        data = run.json()
        if data is None:
            return {"error": "no output"}
        per_query = data["per_query"]
        for q in per_query:
            if q.get("error"):
                self.problem(f"{name} query {q['query']!r} {q['options'] or ''} raised {q['error']}")
            q["median_ms"] = statistics.median(q["times_ms"]) if q["times_ms"] else math.nan
        r = {
            "all": latency_summary(per_query),
            "zh": latency_summary(per_query, lambda q: q["kind"] in BASELINE_KINDS),
            # CPU time of the searching thread: the latency an idle machine would show (kb only).
            "all_cpu": latency_summary(per_query, key="cpu_ms"),
            "first_query_ms": per_query[0].get("first_ms") if per_query else None,
            "import_s": data["import_s"],
            "peak_rss_bytes": run.peak_rss_bytes,
            "per_query": per_query,
        }
        self.log(f"  p50 {r['all']['p50_ms']:.1f} ms, p95 {r['all']['p95_ms']:.1f} ms, p99 {r['all']['p99_ms']:.1f} ms")
        return r

    def cold(self, name: str, make_cmd, queries=COLD_QUERIES) -> dict[str, Any]:
        out = {}
        for text in queries:
            cmd = make_cmd(text)
            first = self.child(cmd, QUERY_TIMEOUT, poll=False)  # untimed: warms the page cache
            runs = [self.child(cmd, QUERY_TIMEOUT, poll=False) for _ in range(COLD_RUNS)]
            ok = [r for r in runs if r.returncode == 0]
            walls = [r.wall_s for r in ok]
            last = ok[-1].stdout.strip().splitlines() if ok else []
            out[text] = {"median_s": statistics.median(walls) if walls else None,
                         "cpu_median_s": statistics.median(r.cpu_s for r in ok) if ok else None,
                         "min_s": min(walls, default=None), "max_s": max(walls, default=None),
                         "runs_s": walls, "failed_runs": len(runs) - len(ok), "first_run_s": first.wall_s,
                         "last_line": last[-1] if last else "",
                         "maxrss_bytes": max((r.maxrss_bytes for r in ok), default=None)}
            med = out[text]["median_s"]
            self.log(f"{name}: cold search {text!r}: median {_fmt(med, 's')}, CPU {_fmt(out[text]['cpu_median_s'], 's')} "
                     f"({out[text]['last_line']})")
        return out

    def incremental(self, n: int = 0) -> dict[str, Any]:
        """``kb index`` with nothing changed, then after appending paragraph ``n`` to one ``.txt`` file."""
        cmd = kb_cli(self.kb_index, "index", "--json", str(self.copy))
        self.log("kb index, nothing changed")
        same = self.child(cmd, INDEX_TIMEOUT)
        s1 = same.json() or {}
        if s1.get("indexed") or s1.get("updated") or s1.get("removed"):
            self.problem(f"no-change re-index was not a no-op: {({k: s1.get(k) for k in ('indexed', 'updated', 'removed')})}")
        target = self.copy / CHANGED_FILE
        marker = MARKER + "甲乙丙丁戊己庚辛"[n % 8]
        with open(target, "a", encoding="utf-8") as f:
            f.write(APPENDED.replace(MARKER, marker))
        self.log(f"kb index after appending a paragraph to {CHANGED_FILE}")
        changed = self.child(cmd, INDEX_TIMEOUT)
        s2 = changed.json() or {}
        if s2.get("updated") != 1 or s2.get("indexed") or s2.get("removed"):
            self.problem(f"re-index after changing one file: expected 1 updated, got "
                         f"{({k: s2.get(k) for k in ('indexed', 'updated', 'removed', 'unchanged')})}")
        found = self.child(kb_cli(self.kb_index, "search", "--json", marker), QUERY_TIMEOUT, poll=False).json() or {}
        ids = [h["id"] for h in found.get("hits", [])]
        doc_id = Path(CHANGED_FILE).stem
        if not any(i.startswith(doc_id + "#") for i in ids):
            self.problem(f"the appended paragraph ({marker}) is not found after re-indexing: hits {ids}")
        r = {
            "no_change_s": same.wall_s,
            "no_change_reported_s": s1.get("seconds"),
            "no_change_peak_rss_bytes": same.peak_rss_bytes,
            "one_doc_s": changed.wall_s,
            "one_doc_reported_s": s2.get("seconds"),
            "one_doc_peak_rss_bytes": changed.peak_rss_bytes,
            "one_doc_passages_written": s2.get("passages"),
            "index_bytes_after": dir_size(self.kb_index),
            "appended_found": bool(ids),
        }
        self.log(f"  no-change {r['no_change_s']:.2f} s, one doc changed {r['one_doc_s']:.2f} s")
        return r

    def baseline_index(self, counts: dict, corpus: Path | None = None, index: Path | None = None) -> dict[str, Any]:
        corpus = corpus or self.copy
        index = index or self.base_index
        shutil.rmtree(index, ignore_errors=True)
        self.log(f"baseline: Whoosh + jieba ChineseAnalyzer, single writer (new process), {corpus.name}")
        run = self.child(role_cmd("base-index", corpus=str(corpus), index=str(index)), INDEX_TIMEOUT)
        data = run.json() or {}
        for key in ("documents", "passages", "characters"):
            if data.get(key) is not None and data[key] != counts[key]:
                self.problem(f"baseline indexed {data[key]} {key}, expected {counts[key]}")
        r = {
            "wall_s": run.wall_s,
            "cpu_s": run.cpu_s,
            "other_cpu_s": run.other_cpu_s,
            "chars_per_s": counts["characters"] / run.wall_s,
            "index_bytes": dir_size(index),
            "peak_rss_bytes": run.peak_rss_bytes,
            "maxrss_bytes": run.maxrss_bytes,
            "polled_peak_bytes": run.polled_peak_bytes,
            "phases_s": {k: data.get(k) for k in ("setup_s", "read_chunk_s", "add_document_s", "commit_s")},
            "passages": data.get("passages"),
        }
        self.log(f"  {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} CPU-s, {r['index_bytes'] / MB:.1f} MB, "
                 f"peak RSS {r['maxrss_bytes'] / MB:.0f} MB largest process, {r['polled_peak_bytes'] / MB:.0f} MB tree")
        return r

    def help_time(self) -> dict[str, Any]:
        """``kb --help`` as a new process (the console script when there is one), median of HELP_RUNS."""
        script = Path(sys.executable).parent / "kb"
        cmd = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "kb.cli", "--help"]
        self.child(cmd, QUERY_TIMEOUT, poll=False)
        walls = [self.child(cmd, QUERY_TIMEOUT, poll=False).wall_s for _ in range(HELP_RUNS)]
        self.log(f"kb --help: median {statistics.median(walls):.3f} s")
        return {"median_s": statistics.median(walls), "runs_s": walls, "cmd": cmd}


def repeated(runs: list[dict]) -> dict[str, Any]:
    """The median of each numeric figure of ``runs``, with every run under ``runs``."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        values = [r.get(key) for r in runs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out[key] = statistics.median(values)
        else:
            out[key] = value
    out["runs"] = runs
    out["n"] = len(runs)
    return out


# --- report -----------------------------------------------------------------------------


def _ratio(a, b) -> float | None:
    if a is None or b is None or not b or (isinstance(a, float) and math.isnan(a)):
        return None
    return a / b


def ratios(res: dict) -> dict[str, float | None]:
    kb, base = res["kb"], res.get("baseline")
    if not base:
        return {}
    out = {
        "index_wall": _ratio(kb["index"]["wall_s"], base["index"]["wall_s"]),
        "index_chars_per_s": _ratio(kb["index"]["chars_per_s"], base["index"]["chars_per_s"]),
        "index_size": _ratio(kb["index"]["index_bytes"], base["index"]["index_bytes"]),
        "index_maxrss": _ratio(kb["index"]["maxrss_bytes"], base["index"]["maxrss_bytes"]),
        "index_tree_rss": _ratio(kb["index"]["polled_peak_bytes"], base["index"]["polled_peak_bytes"]),
    }
    for p in ("p50", "p95", "p99"):
        out[f"warm_{p}_zh"] = _ratio(kb["warm"]["zh"][f"{p}_ms"], base["warm"]["zh"][f"{p}_ms"])
    for q in COLD_QUERIES:
        if q in base.get("cold", {}):
            out[f"cold {q}"] = _ratio(kb["cold"][q]["median_s"], base["cold"][q]["median_s"])
    return out


def _fmt(v, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if unit == "MB":
        return f"{v / MB:,.1f} MB"
    if unit == "s":
        return f"{v:,.2f} s"
    if unit == "ms":
        return f"{v:,.1f} ms"
    if unit == "x":
        return f"{v:.2f}x"
    if isinstance(v, float):
        return f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _table(rows: list[tuple], headers: tuple) -> str:
    cells = [tuple(str(c) for c in headers)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(_pad(c, widths[i], right=i > 0) for i, c in enumerate(r)).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def _width(s: str) -> int:
    """Display width: CJK and full-width characters take two columns."""
    return sum(2 if (ord(c) >= 0x1100 and (0x2E80 <= ord(c) <= 0xA4CF or 0xAC00 <= ord(c) <= 0xD7A3
                                            or 0xF900 <= ord(c) <= 0xFAFF or 0xFF00 <= ord(c) <= 0xFF60
                                            or 0x20000 <= ord(c) <= 0x3FFFD)) else 1 for c in s)


def _pad(s: str, w: int, right: bool) -> str:
    fill = " " * (w - _width(s))
    return fill + s if right else s + fill


def query_table(res: dict) -> str:
    kbq = res["kb"]["warm"]["per_query"]
    base = {(q["query"]): q for q in (res.get("baseline") or {}).get("warm", {}).get("per_query", [])}
    rows = []
    for q in kbq:
        b = base.get(q["query"]) if not q["options"] else None
        label = Query(q["kind"], q["query"], q["options"]).label()
        if q.get("error"):
            rows.append((q["kind"], label, "ERROR", "", "", "", ""))
            continue
        rows.append((
            q["kind"], label, f"{q.get('hits', 0)}", _fmt(q.get("total")), f"{q['median_ms']:.1f}",
            _fmt(b.get("total")) if b and not b.get("error") else ("ERROR" if b else ""),
            f"{b['median_ms']:.1f}" if b and not b.get("error") else "",
        ))
    headers = ("kind", "query", "kb hits", "kb total", "kb ms", "base total", "base ms")
    if not base:
        return _table([r[:5] for r in rows], headers[:5])
    return _table(rows, headers)


def summary_table(res: dict) -> str:
    kb, base, rat = res["kb"], res.get("baseline") or {}, res.get("ratios") or {}
    c = res.get("corpus")
    ki, bi = kb.get("index"), base.get("index", {})
    kw, bw = kb["warm"], base.get("warm", {})
    rows = [] if ki is None else [
        ("documents", _fmt(c["documents"]), _fmt(bi.get("documents", c["documents"]) if bi else None), ""),
        ("passages", _fmt(c["passages"]), _fmt(bi.get("passages")), ""),
        ("characters (passage text)", _fmt(c["characters"]), _fmt(c["characters"] if bi else None), ""),
        ("ingest+chunk only (in-process)", _fmt(c["ingest_chunk_s"], "s"), _fmt(bi.get("phases_s", {}).get("read_chunk_s"), "s"), ""),
        ("index: wall time", _fmt(ki["wall_s"], "s"), _fmt(bi.get("wall_s"), "s"), _fmt(rat.get("index_wall"), "x")),
        ("index: CPU time", _fmt(ki["cpu_s"], "s"), _fmt(bi.get("cpu_s"), "s"), _fmt(_ratio(ki["cpu_s"], bi.get("cpu_s")), "x")),
        ("index: CPU used by other processes meanwhile", _fmt(ki.get("other_cpu_s"), "s"), _fmt(bi.get("other_cpu_s"), "s"), ""),
        ("index: characters/second", _fmt(ki["chars_per_s"]), _fmt(bi.get("chars_per_s")), _fmt(rat.get("index_chars_per_s"), "x")),
        ("index: size on disk", _fmt(ki["index_bytes"], "MB"), _fmt(bi.get("index_bytes"), "MB"), _fmt(rat.get("index_size"), "x")),
        ("index: peak RSS, largest process (ru_maxrss)", _fmt(ki["maxrss_bytes"], "MB"), _fmt(bi.get("maxrss_bytes"), "MB"),
         _fmt(rat.get("index_maxrss"), "x")),
        ("index: peak RSS, process tree (psutil)", _fmt(ki["polled_peak_bytes"], "MB"), _fmt(bi.get("polled_peak_bytes"), "MB"),
         _fmt(rat.get("index_tree_rss"), "x")),
    ]
    for p in ("p50", "p95", "p99"):
        rows.append((f"warm query {p}, zh queries ({kw['zh']['queries']})", _fmt(kw["zh"][f"{p}_ms"], "ms"),
                     _fmt(bw.get("zh", {}).get(f"{p}_ms"), "ms"), _fmt(rat.get(f"warm_{p}_zh"), "x")))
    for p in ("p50", "p95", "p99"):
        rows.append((f"warm query {p}, all queries ({kw['all']['queries']})", _fmt(kw["all"][f"{p}_ms"], "ms"), "", ""))
    if kw.get("all_cpu", {}).get("runs"):
        for p in ("p50", "p95"):
            rows.append((f"warm query {p}, all queries, CPU time", _fmt(kw["all_cpu"][f"{p}_ms"], "ms"), "", ""))
    for q, kind in KB_COLD_QUERIES.items():
        rows.append((f"cold search, {kind}: '{q}' (median of {COLD_RUNS})", _fmt(kb["cold"][q]["median_s"], "s"),
                     _fmt(base.get("cold", {}).get(q, {}).get("median_s"), "s"), _fmt(rat.get(f"cold {q}"), "x")))
    # CPU time (user + system) of the process: what wall time would be on an idle machine.
    cpus = [v.get("cpu_median_s") for v in kb["cold"].values() if v.get("cpu_median_s") is not None]
    rows.append(("cold search, slowest median CPU time", _fmt(max(cpus, default=None), "s"), "", ""))
    inc = kb.get("incremental")
    if inc:
        rows.append(("re-index, nothing changed", _fmt(inc["no_change_s"], "s"), "", ""))
        rows.append(("re-index, one .txt changed", _fmt(inc["one_doc_s"], "s"), "", ""))
    if not base:
        return _table([r[:2] for r in rows], ("figure", "kb"))
    return _table(rows, ("figure", "kb", "baseline", "kb/baseline"))


def _runs(fig: dict | None) -> str:
    n = (fig or {}).get("n", 1)
    return f" (median of {n})" if n > 1 else ""


def targets_table(res: dict) -> str:
    """Issue 10's figures: kb, the baseline of the same run, their ratio, the target, and whether it is met."""
    kb, base = res["kb"], res.get("baseline") or {}
    ki, bi = kb.get("index"), base.get("index") or {}
    rows = []

    def row(name, value, unit, baseline, ratio, target, ok):
        rows.append((name, _fmt(value, unit), _fmt(baseline, unit), _fmt(ratio, "x"), target,
                     "-" if ok is None else ("yes" if ok else "NO")))

    if ki is not None:
        _build_targets(res, row, rows)
    w = kb["warm"]["all"]
    rows.append((f"warm query p50 / p95 ({w['queries']} queries)", f"{w['p50_ms']:.1f} / {w['p95_ms']:.1f} ms",
                 "", "", "<= 4 / 20 ms", "yes" if w["p50_ms"] <= 4 and w["p95_ms"] <= 20 else "NO"))
    slowest = max((kb["cold"][q]["median_s"] or math.inf) for q in COLD_QUERIES)
    row(f"cold kb search, slowest of {len(COLD_QUERIES)} kinds", slowest, "s", None, None, "<= 0.25 s each",
        slowest <= 0.25)
    if kb.get("help"):
        row("kb --help", kb["help"]["median_s"], "s", None, None, "<= 0.1 s", kb["help"]["median_s"] <= 0.1)
    return _table(rows, ("issue 10 figure", "kb", "baseline", "ratio", "target", "met"))


def _build_targets(res: dict, row, rows: list) -> None:
    """The build, size and re-index rows of ``targets_table``."""
    kb, base = res["kb"], res.get("baseline") or {}
    ki, bi = kb["index"], base.get("index") or {}
    src = res["corpus"]["source_bytes"]

    workers = res["meta"].get("cpus")
    row(f"full build, {res['meta']['mode']} corpus, {workers} cores: wall{_runs(ki)}", ki["wall_s"], "s",
        bi.get("wall_s"), _ratio(bi.get("wall_s"), ki["wall_s"]), "<= 30 s", ki["wall_s"] <= 30)
    sl = res.get("slice")
    if sl:
        speed = _ratio(sl["baseline"]["wall_s"], sl["kb"]["wall_s"]) if sl.get("baseline") else None
        row(f"build, 3 MB slice, one process: wall{_runs(sl['kb'])} (ratio = baseline/kb)", sl["kb"]["wall_s"], "s",
            (sl.get("baseline") or {}).get("wall_s"), speed, ">= 2.5x baseline", None if speed is None else speed >= 2.5)
        cpu_speed = _ratio((sl.get("baseline") or {}).get("cpu_s"), sl["kb"]["cpu_s"])
        row("build, 3 MB slice: CPU-s (ratio = baseline/kb)", sl["kb"]["cpu_s"], "s",
            (sl.get("baseline") or {}).get("cpu_s"), cpu_speed, "", None)
    cpu = _ratio(ki["cpu_s"], bi.get("cpu_s"))
    row(f"build CPU time, {res['meta']['mode']} corpus (ratio = kb/baseline)", ki["cpu_s"], "s", bi.get("cpu_s"), cpu,
        "<= 0.5x baseline", None if cpu is None else cpu <= 0.5)
    size = ki["index_bytes"] / src
    rows.append((f"index size / corpus bytes ({src / MB:.1f} MB of files)", f"{size:.2f}x",
                 f"{bi['index_bytes'] / src:.2f}x" if bi else "-", _fmt(_ratio(ki["index_bytes"], bi.get("index_bytes")), "x"),
                 "<= 2.5x", "yes" if size <= 2.5 else "NO"))
    inc = kb.get("incremental")
    if inc:
        row(f"one .txt changed, {res['meta']['mode']} index{_runs(inc)}", inc["one_doc_s"], "s", None, None, "<= 0.5 s",
            inc["one_doc_s"] <= 0.5)
        row(f"nothing changed{_runs(inc)}", inc["no_change_s"], "s", None, None, "<= 0.3 s", inc["no_change_s"] <= 0.3)


def scale_table(res: dict) -> str:
    rows = []
    points = res["scale"]
    first = points[0]
    for pt in points:
        ix, w = pt["index"], pt["warm"]["all"]
        rows.append((f"{pt['n']}x", _fmt(pt["source_bytes"], "MB"), _fmt(pt["passages"]), _fmt(ix["wall_s"], "s"),
                     _fmt(ix["cpu_s"], "s"), _fmt(ix["index_bytes"], "MB"), _fmt(ix["peak_rss_bytes"], "MB"),
                     _fmt(w["p50_ms"], "ms"), _fmt(w["p95_ms"], "ms"),
                     _fmt(_ratio(ix["wall_s"], first["index"]["wall_s"] * pt["n"] / first["n"]), "x"),
                     _fmt(_ratio(ix["index_bytes"], first["index"]["index_bytes"] * pt["n"] / first["n"]), "x"),
                     _fmt(_ratio(w["p95_ms"], first["warm"]["all"]["p95_ms"]), "x")))
    return _table(rows, ("scale", "files", "passages", "build wall", "build CPU", "index", "peak RSS (tree)",
                         "warm p50", "warm p95", "time/linear", "size/linear", f"p95/p95@{first['n']}x"))


def print_scale_report(res: dict) -> None:
    m = res["meta"]
    print()
    print(f"kb --scale benchmark — {m['when']}, kb {m['kb_commit']}{' (dirty)' if m['kb_dirty'] else ''}, "
          f"Python {m['python']}, {m['cpus']} CPUs")
    print(scale_table(res))
    last, first = res["scale"][-1], res["scale"][0]
    n = last["n"] / first["n"]
    lin_t = last["index"]["wall_s"] <= first["index"]["wall_s"] * n * 1.1
    lin_s = last["index"]["index_bytes"] <= first["index"]["index_bytes"] * n * 1.05
    p95 = last["warm"]["all"]["p95_ms"] <= 2 * first["warm"]["all"]["p95_ms"]
    rss = max(pt["index"]["peak_rss_bytes"] for pt in res["scale"]) < 1.5e9
    print()
    print("targets: build time grows at most linearly (10% noise allowed): " + ("yes" if lin_t else "NO")
          + "; size at most linearly (5%): " + ("yes" if lin_s else "NO")
          + f"; warm p95 at {last['n']}x <= 2x that at {first['n']}x: " + ("yes" if p95 else "NO")
          + "; peak RSS < 1.5 GB: " + ("yes" if rss else "NO"))
    print("copy k of the corpus: every document with id <id>-r<k> and its lines shuffled (benchmarks/bench.py, "
          "write_replica); one build and one warm run per scale; time/linear = wall / (wall at the first scale x N).")
    for note in res.get("notes", []):
        print("note: " + note)
    if res["problems"]:
        print(f"PROBLEMS ({len(res['problems'])}):")
        for p in res["problems"]:
            print("  - " + p.replace("\n", "\n    "))


def print_report(res: dict) -> None:
    m = res["meta"]
    print()
    where = (f"existing index {m['search_only']}" if m.get("search_only") else
             f"{m['mode']} corpus ({res['corpus']['files']} files, {res['corpus']['source_bytes'] / MB:.1f} MB)")
    print(f"kb benchmark — {where}, {m['when']}, kb {m['kb_commit']}"
          f"{' (dirty)' if m['kb_dirty'] else ''} (source {m['kb_source_sha1']}), "
          f"Python {m['python']}, {m['cpus']} CPUs")
    if m.get("kb_tree_changed_during_run"):
        print("note: kb/ was edited during the run; every figure is from the snapshot taken at the start.")
    print()
    print(query_table(res))
    print()
    print(summary_table(res))
    print()
    print(targets_table(res))
    print()
    print("peak RSS: ru_maxrss from os.wait4 (largest single process) and psutil-polled sum over the process tree;")
    print("warm = one process, index open, limit 10, snippets/highlights built; cold = new process, wall clock.")
    for n in res.get("notes", []):
        print("note: " + n)
    if res["problems"]:
        print()
        print(f"PROBLEMS ({len(res['problems'])}):")
        for p in res["problems"]:
            print("  - " + p.replace("\n", "\n    "))


# --- main ----------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def kb_source_hash(root: Path = REPO) -> str:
    """Hash of the kb package's source and data files under ``root``."""
    h = hashlib.sha1()
    pkg = root / "kb"
    for p in sorted(pkg.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(p.relative_to(pkg).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def snapshot_kb(dest: Path) -> None:
    """Copy the kb package to ``dest/kb`` and make this process and every child import it from there.

    kb is installed editable and may be edited while a run is in progress; the
    snapshot keeps every phase on the code as it was when the run started.
    Its modules are compiled to bytecode first, as ``pip install`` does.
    """
    import compileall

    shutil.copytree(REPO / "kb", dest / "kb", ignore=shutil.ignore_patterns("__pycache__"))
    # Bytecode, as an installed package has it: with PYTHONDONTWRITEBYTECODE set (as on the shared
    # machines), every kb process would otherwise compile kb's modules again (~0.1 s each time).
    compileall.compile_dir(str(dest / "kb"), quiet=1)
    os.environ["PYTHONPATH"] = os.pathsep.join(x for x in (str(dest), os.environ.get("PYTHONPATH")) if x)
    sys.path.insert(0, str(dest))


def meta(args, queries) -> dict[str, Any]:
    import whoosh

    versions = {"whoosh": ".".join(map(str, whoosh.__version__))}
    try:
        import jieba

        versions["jieba"] = jieba.__version__
    except ImportError:
        pass
    return {
        "mode": "quick" if args.quick else ("every folder" if args.all_folders else "whole"),
        "repeat": args.repeat,
        "when": _dt.datetime.now().isoformat(timespec="seconds"),
        "corpus": str(args.corpus),
        "queries_file": str(args.queries),
        "queries": len(queries),
        "kb_commit": _git("rev-parse", "--short", "HEAD"),
        "kb_dirty": bool(_git("status", "--porcelain", "kb")),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "warm_passes": WARM_PASSES,
        "cold_runs": COLD_RUNS,
        "rss_method": "maxrss_bytes: ru_maxrss from os.wait4 of the child; polled_peak_bytes: psutil, summed RSS of "
                      "the child's process tree sampled every 50 ms; peak_rss_bytes: the larger of the two",
    }


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Benchmark kb indexing and search against a Whoosh + jieba baseline.")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"corpus root (default: {DEFAULT_CORPUS})")
    ap.add_argument("--quick", action="store_true", help=f"use a small subset: {', '.join(QUICK_SUBSET)}")
    ap.add_argument("--skip-baseline", action="store_true", help="do not build or query the Whoosh + jieba baseline")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for latest.json (default: benchmarks/results)")
    ap.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="query file (default: benchmarks/queries.txt)")
    ap.add_argument("--workdir", type=Path, help="scratch directory for the corpus copy and indexes (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--search-only", type=Path, metavar="INDEX",
                    help="only the warm and cold kb query figures, on this existing index (no build, no baseline)")
    ap.add_argument("--all-folders", action="store_true",
                    help=f"index every folder of the corpus (default: the text folders {', '.join(WHOLE_FOLDERS)})")
    ap.add_argument("--repeat", type=int, default=1, metavar="R",
                    help="run each build and re-index R times and report medians (default 1)")
    ap.add_argument("--no-slice", action="store_true", help="skip the 3 MB slice builds (kb and baseline)")
    ap.add_argument("--slice-only", action="store_true", help="only the 3 MB slice builds (kb and baseline)")
    ap.add_argument("--scale", metavar="N[,N...]",
                    help="instead of the usual run: build and query the corpus repeated N times (e.g. 1,2,4)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.scale:
        try:
            args.scale = sorted({int(x) for x in args.scale.split(",")})
        except ValueError:
            ap.error("--scale takes whole numbers separated by commas, e.g. 1,2,4")
        if args.scale[0] < 1:
            ap.error("--scale takes numbers of at least 1")
    return args


def run_slice(args, bench: Bench, work: Path) -> dict[str, Any]:
    """The 3 MB slice built by kb (one process: it is below PARALLEL_MIN_BYTES) and the baseline, R times each."""
    # The slice holds the seed, which lives in the repository, not in the corpus.
    sl_copy = work / "slice"
    sl_counts = bench.prepare((*SLICE_SUBSET, str(SEED)), sl_copy)
    sl: dict[str, Any] = {"corpus": sl_counts}
    sl["kb"] = repeated([bench.kb_full_index(sl_counts, [sl_copy], work / "slice-kb", sl_counts["source_bytes"])
                         for _ in range(args.repeat)])
    if not args.skip_baseline:
        sl["baseline"] = repeated([bench.baseline_index(sl_counts, sl_copy, work / "slice-base")
                                   for _ in range(args.repeat)])
    return sl


def print_slice_report(res: dict) -> None:
    sl = res["slice"]
    k, b = sl["kb"], sl.get("baseline") or {}
    rows = [("wall" + _runs(k), _fmt(k["wall_s"], "s"), _fmt(b.get("wall_s"), "s"), _fmt(_ratio(b.get("wall_s"), k["wall_s"]), "x")),
            ("CPU", _fmt(k["cpu_s"], "s"), _fmt(b.get("cpu_s"), "s"), _fmt(_ratio(b.get("cpu_s"), k["cpu_s"]), "x")),
            ("index size", _fmt(k["index_bytes"], "MB"), _fmt(b.get("index_bytes"), "MB"), "")]
    print()
    print(f"3 MB slice ({sl['corpus']['source_bytes'] / MB:.2f} MB of files), kb {res['meta']['kb_commit']}; "
          "target: baseline/kb wall >= 2.5x")
    print(_table(rows, ("figure", "kb", "baseline", "baseline/kb")))


def run_scale(args, bench: Bench, res: dict) -> None:
    """--scale: for each N, the corpus and N-1 shuffled copies with new ids; build, size, peak RSS, warm latency."""
    res["corpus"] = counts = bench.prepare()
    replicas = bench.work / "replicas"
    points = []
    for n in args.scale:
        for k in range(1, n):
            if not (replicas / f"r{k}").exists():
                bench.log(f"writing copy {k} of the corpus")
                write_replica(bench.copy, replicas / f"r{k}", k)
        paths = [bench.copy, *(replicas / f"r{k}" for k in range(1, n))]
        src = sum(source_bytes(p) for p in paths)
        index = bench.work / f"kb-index-{n}"
        r = bench.kb_full_index({"characters": counts["characters"] * n}, paths, index, src)
        warm = bench.warm("kb-warm", index, bench.queries, f"kb {n}x")
        warm.pop("per_query", None)
        points.append({"n": n, "source_bytes": src, "passages": r.get("passages"), "index": r, "warm": warm})
        shutil.rmtree(index, ignore_errors=True)
    res["scale"] = points


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    signal.signal(signal.SIGTERM, _terminate)  # so `kill` stops the running child and cleans up too
    args = parse_args(argv)
    args.corpus = args.corpus.resolve()
    if not args.corpus.is_dir() and not args.search_only:
        sys.exit(f"Corpus not found at {args.corpus}. Give its location with --corpus DIR "
                 f"(it is expected beside the repository, in shared/corpus).")
    try:
        import psutil  # noqa: F401
    except ImportError:
        sys.exit("psutil is required: pip install psutil (or pip install -e '.[bench]').")
    if not args.skip_baseline:
        try:
            import jieba  # noqa: F401
        except ImportError:
            sys.exit("The baseline needs jieba: pip install jieba (or run with --skip-baseline).")
    queries = load_queries(args.queries)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kb-bench-", dir=args.workdir))
    t_start = time.perf_counter()
    snapshot_kb(work / "kb-src")
    subset = QUICK_SUBSET if args.quick else (None if args.all_folders else WHOLE_FOLDERS)
    bench = Bench(args.corpus, work, queries, subset)
    res: dict[str, Any] = {"meta": meta(args, queries)}
    res["meta"]["kb_source_sha1"] = kb_source_hash(work / "kb-src")
    res["meta"]["search_only"] = str(args.search_only) if args.search_only else None
    if args.search_only:
        if not (args.search_only / "CURRENT").is_file():
            sys.exit(f"No kb index at {args.search_only}.")
        args.skip_baseline = True
        bench.kb_index = args.search_only.resolve()
    try:
        if args.search_only:
            res["kb"] = kb = {}
            kb["warm"] = bench.warm("kb-warm", bench.kb_index, queries, "kb")
            kb["cold"] = bench.cold("kb", lambda q: kb_cli(bench.kb_index, "search", q))
            kb["help"] = bench.help_time()
        elif args.scale:
            run_scale(args, bench, res)
        elif args.slice_only:
            res["slice"] = run_slice(args, bench, work)
        else:
            res["corpus"] = bench.prepare()
            src = res["corpus"]["source_bytes"]
            kb: dict[str, Any] = {"index": repeated([bench.kb_full_index(res["corpus"], source=src)
                                                     for _ in range(args.repeat)])}
            res["kb"] = kb
            kb["warm"] = bench.warm("kb-warm", bench.kb_index, queries, "kb")
            kb["cold"] = bench.cold("kb", lambda q: kb_cli(bench.kb_index, "search", q))
            kb["help"] = bench.help_time()
            if not args.skip_baseline:
                base = {"index": repeated([bench.baseline_index(res["corpus"]) for _ in range(args.repeat)])}
                res["baseline"] = base
                base["warm"] = bench.warm("base-warm", bench.base_index, [q for q in queries if q.baseline], "baseline")
                base["cold"] = bench.cold(
                    "baseline", lambda q: [sys.executable, "-c", BASE_COLD_SNIPPET, str(bench.base_index), q],
                    BASE_COLD_QUERIES)
            # Last on the corpus copy: it changes a file the baseline must read unchanged.
            kb["incremental"] = repeated([bench.incremental(n) for n in range(args.repeat)])
            if not args.no_slice:
                res["slice"] = run_slice(args, bench, work)
    finally:
        if args.keep:
            print(f"scratch directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    res["meta"]["kb_tree_changed_during_run"] = kb_source_hash() != res["meta"]["kb_source_sha1"]
    if not args.scale and not args.slice_only:
        res["ratios"] = ratios(res)
    res["problems"] = bench.problems
    res["notes"] = bench.notes
    res["meta"]["total_s"] = time.perf_counter() - t_start
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / ("scale.json" if args.scale else "slice.json" if args.slice_only else "latest.json")
    out.write_text(json.dumps(res, ensure_ascii=False, indent=2, default=str) + "\n", "utf-8")
    if args.scale:
        print_scale_report(res)
    elif args.slice_only:
        print_slice_report(res)
    else:
        print_report(res)
    print(f"\nResults written to {out} (total {res['meta']['total_s']:.0f} s).")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "_child":
        child_main(sys.argv[2], sys.argv[3])
    else:
        try:
            sys.exit(main())
        except KeyboardInterrupt:
            sys.exit("Interrupted; the scratch directory was removed (unless --keep) and no results were written.")
