"""Judged relevance benchmark: kb against bm25s + jieba and Whoosh + jieba on the real corpus.

Run from the repository root, in the project's virtualenv (``pip install -e '.[bench]'``)::

    python benchmarks/relevance.py                 # the table (first run builds the caches: a few minutes)
    python benchmarks/relevance.py --per-query     # also one line per query (held-out queries excluded)
    python benchmarks/relevance.py --system kb     # only kb (repeatable: --system bm25s+jieba ...)
    python benchmarks/relevance.py --pool          # also write the unjudged top-10 passages for judging
    python benchmarks/relevance.py --add-judgments benchmarks/results/relevance-pool.tsv
    python benchmarks/relevance.py --rebuild       # rebuild every cached index
    python benchmarks/relevance.py --keep-index    # development: query-side changes on the cached index
    python benchmarks/relevance.py --cache DIR     # another cache (e.g. to measure an older kb beside this one)

Data (``benchmarks/relevance/``)
    ``queries.tsv`` (the judged queries) and ``heldout.tsv`` (held-back
    queries: tuners must not read them; only their summary line is printed):
    columns ``id, class, query, need``; the need is a one-line description of
    what a relevant passage is, written with the query before any system was
    run. ``judgments.tsv``: ``qid, pid, doc_id, hash, grade`` with grade 0 (not
    relevant), 1 (partly: mentions the need, or relevant but thin), 2 (clearly
    about the need), judged by reading the passage text, its section path and
    document title against the need, blind to which system returned it.
    ``hash`` is the first 12 hex digits of the SHA-1 of the passage text after
    NFKC normalisation with all whitespace removed. The held-out queries'
    judgments are kept in ``heldout-judgments.tsv`` (same columns; tuners must
    not read it either).

Systems (all three see the same passages: the corpus read with kb's own ingest and chunking)
    ``kb``: ``KnowledgeBase(dir).index([corpus])`` once, then
    ``search(q, limit=10)`` with default options (public API only).
    ``bm25s+jieba`` and ``whoosh+jieba``: see ``benchmarks/peers.py``.

Judgment matching
    A retrieved passage takes the grade judged for the same query and the same
    passage id and text hash; failing that (kb's chunking renumbered it), the
    grade judged for the same query, document id and text hash; otherwise it is
    *unjudged* and counts as 0. The table reports, per system, how many of its
    top-10 passages were unjudged; ``--pool`` writes them (every system's,
    shuffled, without saying which system returned them; plus, to make the
    pool and the ideal less dependent on what the scored systems found, every
    system's top 10 for the query's Chinese reference query in
    ``reference.tsv``, which is used for pooling only, never scored) to
    ``benchmarks/results/relevance-pool.tsv`` (ids, a ``grade`` column to fill)
    and ``relevance-pool.txt`` (the texts to read); the held-out queries' pairs
    go to ``relevance-pool-heldout.tsv``/``.txt`` (for the judge only).
    ``--add-judgments FILE`` appends graded rows (columns ``qid`` and ``n`` of
    a pool file, or ``pid``, ``doc_id`` and ``hash``, plus ``grade``) to
    ``judgments.tsv`` or ``heldout-judgments.tsv``; it never changes an
    existing judgment.

Metrics
    nDCG@10: DCG = sum over ranks i = 1..10 of (2^g_i - 1) / log2(i + 1),
    graded gains from the judgments (unjudged = 0). The ideal DCG of a query is
    computed from ALL judged passages of that query (every system's, every
    run's): their grades sorted from high to low, top 10, same gains and
    discounts. P@5: passages with grade >= 1 among the first 5, divided by 5
    (fewer than 5 hits count as misses). Averages are means over queries;
    a query with no passage judged 1 or 2 has no ideal and is left out of the
    averages (the table gives their number). A zero-hit query is one for which
    the system returned no passage (it scores 0).

Caches and results
    ``benchmarks/.cache/`` (git-ignored): the passages, the peer indexes
    (rebuilt when the passages change) and kb's index (rebuilt when the corpus
    or the kb package's source changes); ``--rebuild`` rebuilds all. Per-query
    figures go to ``benchmarks/results/relevance-latest.json`` and, for the
    held-out queries, ``relevance-heldout.json`` (git-ignored).
    ``--keep-index`` (for development only) reuses the cached passages and
    kb's cached index even when kb's source changed since they were built, so
    a change to query planning or ranking is measured in a minute; the header
    then names the source the index was built from. Figures to report come
    from a run without it.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # so `bench` and `peers` import when run as a script



def _default_corpus() -> Path:
    """``shared/corpus`` beside the repository or beside any folder above it (worktrees live deeper)."""
    for parent in REPO.parents:
        if (parent / "shared" / "corpus").is_dir():
            return parent / "shared" / "corpus"
    return REPO.parent / "shared" / "corpus"


DEFAULT_CORPUS = _default_corpus()
DATA = HERE / "relevance"
QUERIES = DATA / "queries.tsv"
HELDOUT = DATA / "heldout.tsv"
JUDGMENTS = DATA / "judgments.tsv"
HELDOUT_JUDGMENTS = DATA / "heldout-judgments.tsv"
REFERENCE = DATA / "reference.tsv"
CACHE = HERE / ".cache"
RESULTS = HERE / "results"
POOL_TSV = RESULTS / "relevance-pool.tsv"
POOL_TXT = RESULTS / "relevance-pool.txt"
HELDOUT_POOL_TSV = RESULTS / "relevance-pool-heldout.tsv"
HELDOUT_POOL_TXT = RESULTS / "relevance-pool-heldout.txt"
SYSTEMS = ("kb", "bm25s+jieba", "whoosh+jieba")
K = 10
JUDGMENT_COLUMNS = ("qid", "pid", "doc_id", "hash", "grade")


def log(msg: str) -> None:
    print(f"[{_dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# --- queries and judgments -------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    id: str
    cls: str
    text: str
    need: str
    heldout: bool = False


def _tsv_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a tab-separated file with a header line; lines starting with '#' are comments."""
    lines = [ln for ln in path.read_text("utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    yield from csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)


def load_queries(path: Path, heldout: bool = False) -> list[Query]:
    out = [Query(r["id"], r["class"], r["query"], r["need"], heldout) for r in _tsv_rows(path)]
    ids = [q.id for q in out]
    if len(set(ids)) != len(ids):
        sys.exit(f"{path}: duplicate query ids")
    return out


def text_hash(text: str) -> str:
    """Short hash of a passage's normalised text (NFKC, all whitespace removed)."""
    norm = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()[:12]


class Judgments:
    """The judged (query, passage) grades, looked up by id + text hash, then by doc_id + text hash.

    The held-out queries' judgments live in their own file (``heldout_ids`` says
    which query ids go there), so that tuners can read ``judgments.tsv`` freely.
    """

    def __init__(self, path: Path, heldout_path: Path | None = None, heldout_ids: frozenset[str] = frozenset()):
        self.path = path
        self.heldout_path = heldout_path
        self.heldout_ids = heldout_ids
        self.rows: list[dict[str, str]] = []
        self.by_id: dict[tuple[str, str, str], int] = {}
        self.by_doc: dict[tuple[str, str, str], int] = {}
        for p in (path, heldout_path):
            if p is None or not p.exists():
                continue
            for r in _tsv_rows(p):
                g = int(r["grade"])
                if g not in (0, 1, 2):
                    sys.exit(f"{p}: grade must be 0, 1 or 2, got {r}")
                self.rows.append(r)
                self.by_id[(r["qid"], r["pid"], r["hash"])] = g
                self.by_doc.setdefault((r["qid"], r["doc_id"], r["hash"]), g)

    def file_for(self, qid: str) -> Path:
        return self.heldout_path if self.heldout_path and qid in self.heldout_ids else self.path

    def grade(self, qid: str, pid: str, doc_id: str, h: str) -> int | None:
        g = self.by_id.get((qid, pid, h))
        return g if g is not None else self.by_doc.get((qid, doc_id, h))

    def ideal(self, qid: str) -> list[int]:
        """Grades of every judged passage of the query, high to low."""
        seen = {(r["pid"], r["hash"]): int(r["grade"]) for r in self.rows if r["qid"] == qid}
        return sorted(seen.values(), reverse=True)

    def add(self, rows: list[dict[str, str]]) -> tuple[int, int]:
        """Append new judgments; returns (added, already present). Never changes an existing one."""
        new: dict[Path, list[dict[str, str]]] = {}
        same = 0
        for r in rows:
            key = (r["qid"], r["pid"], r["hash"])
            g = int(r["grade"])
            if g not in (0, 1, 2):
                sys.exit(f"grade must be 0, 1 or 2: {r}")
            old = self.by_id.get(key)
            if old is not None:
                if old != g:
                    sys.exit(f"{key} is already judged {old}; judgments are never changed (got {g}).")
                same += 1
                continue
            self.by_id[key] = g
            new.setdefault(self.file_for(r["qid"]), []).append({c: str(r[c]) for c in JUDGMENT_COLUMNS})
        for path, rows_ in new.items():
            header = not path.exists()
            with open(path, "a", encoding="utf-8") as f:
                if header:
                    f.write("\t".join(JUDGMENT_COLUMNS) + "\n")
                for r in rows_:
                    f.write("\t".join(r[c] for c in JUDGMENT_COLUMNS) + "\n")
            self.rows.extend(rows_)
        return sum(len(v) for v in new.values()), same


# --- passages (kb's own reading of the corpus) ------------------------------------------------


@dataclass(frozen=True)
class PassageInfo:
    id: str
    doc_id: str
    title: str
    date: str
    section: str
    text: str


def read_corpus(corpus: Path) -> Iterator[PassageInfo]:
    """Every passage of the corpus, read exactly as ``kb index`` reads it.

    The only place that touches kb's internal modules (through bench.py's
    ``corpus_passages``, which imports ``kb.ingest`` and ``kb.chunking``).
    """
    from bench import corpus_passages

    for doc, p in corpus_passages(corpus):
        yield PassageInfo(p.id, doc.id, doc.title, doc.date, p.section, p.text)


def corpus_fingerprint(corpus: Path) -> str:
    """Hash of the corpus's file names, sizes and modification times."""
    h = hashlib.sha1()
    for dirpath, dirs, files in os.walk(corpus):
        dirs.sort()
        for name in sorted(files):
            p = Path(dirpath) / name
            st = p.stat()
            h.update(f"{p.relative_to(corpus)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def kb_source_hash() -> str:
    """Hash of the installed kb package's source and data files."""
    import kb

    pkg = Path(kb.__file__).resolve().parent
    h = hashlib.sha1()
    for p in sorted(pkg.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(p.relative_to(pkg).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def _read_key(path: Path) -> str:
    return path.read_text("utf-8").strip() if path.exists() else ""


def load_passages(corpus: Path, rebuild: bool, kb_hash: str, keep: bool = False) -> tuple[dict[str, PassageInfo], str]:
    """The corpus's passages by id (cached), and a digest of their ids and texts.

    With ``keep``, the cache is used whatever kb source it was read with.
    """
    store, key_file = CACHE / "passages.jsonl", CACHE / "passages.key"
    key = f"{corpus.resolve()} {corpus_fingerprint(corpus)} {kb_hash}"
    cached = _read_key(key_file).split("\n")
    fresh = cached[0] == key or (keep and cached[0].rsplit(" ", 1)[0] == key.rsplit(" ", 1)[0])
    if not rebuild and store.exists() and fresh and len(cached) == 2:
        passages = {}
        with open(store, encoding="utf-8") as f:
            for line in f:
                p = PassageInfo(**json.loads(line))
                passages[p.id] = p
        return passages, cached[1]
    log(f"reading {corpus} with kb's ingest and chunking")
    t = time.perf_counter()
    passages: dict[str, PassageInfo] = {}
    digest = hashlib.sha1()
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(store, "w", encoding="utf-8") as f:
        for p in read_corpus(corpus):
            if p.id in passages:
                continue
            passages[p.id] = p
            digest.update(f"{p.id}\0{p.text}\0".encode())
            f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
    key_file.write_text(f"{key}\n{digest.hexdigest()[:16]}\n", "utf-8")
    log(f"  {len(passages):,} passages ({time.perf_counter() - t:.1f} s)")
    return passages, digest.hexdigest()[:16]


# --- systems -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retrieved:
    pid: str
    doc_id: str
    hash: str
    score: float


class KbSystem:
    name = "kb"

    def __init__(self, corpus: Path, rebuild: bool, kb_hash: str, keep: bool = False):
        from kb import KnowledgeBase

        index_dir, key_file = CACHE / "kb-index", CACHE / "kb.key"
        key = f"{corpus.resolve()} {corpus_fingerprint(corpus)} {kb_hash}"
        self.kb = KnowledgeBase(index_dir)
        self.build_s = None
        cached = _read_key(key_file)
        self.index_source = cached.rsplit(" ", 1)[-1] if cached else ""
        kept = keep and cached.rsplit(" ", 1)[0] == key.rsplit(" ", 1)[0]
        if rebuild or (cached != key and not kept) or not self.kb.exists():
            log("kb: KnowledgeBase(...).index([corpus], rebuild=True)")
            key_file.unlink(missing_ok=True)
            t = time.perf_counter()
            summary = self.kb.index([corpus], rebuild=True)
            self.build_s = time.perf_counter() - t
            key_file.write_text(key + "\n", "utf-8")
            self.index_source = kb_hash
            log(f"  {summary.total_passages:,} passages, {self.build_s:.0f} s")
        self.texts: dict[str, PassageInfo] = {}  # kb's own copy of each passage it returned

    def search(self, query: str) -> list[Retrieved]:
        out = []
        for h in self.kb.search(query, limit=K):
            self.texts[h.id] = PassageInfo(h.id, h.doc_id, h.title, h.date, h.section, h.text)
            out.append(Retrieved(h.id, h.doc_id, text_hash(h.text), float(h.score)))
        return out


class PeerSystem:
    def __init__(self, cls, passages: dict[str, PassageInfo], digest: str, rebuild: bool):
        self.name = cls.name
        self.passages = passages
        directory = CACHE / cls.name.replace("+", "-")
        key_file = directory / "key"
        self.build_s = None
        if rebuild or _read_key(key_file) != digest:
            log(f"{cls.name}: building the index of {len(passages):,} passages")
            shutil.rmtree(directory, ignore_errors=True)
            t = time.perf_counter()
            cls.build(((p.id, p.text) for p in passages.values()), directory)
            self.build_s = time.perf_counter() - t
            key_file.write_text(digest + "\n", "utf-8")
            log(f"  {self.build_s:.0f} s")
        self.engine = cls.open(directory)

    def search(self, query: str) -> list[Retrieved]:
        out = []
        for pid, score in self.engine.search(query, K):
            p = self.passages[pid]
            out.append(Retrieved(pid, p.doc_id, text_hash(p.text), score))
        return out


def open_systems(names: Iterable[str], corpus: Path, rebuild: bool, passages, digest, kb_hash,
                 keep: bool = False) -> list:
    from peers import Bm25sJieba, WhooshJieba

    peers = {"bm25s+jieba": Bm25sJieba, "whoosh+jieba": WhooshJieba}
    out = []
    for name in names:
        if name == "kb":
            out.append(KbSystem(corpus, rebuild, kb_hash, keep))
        else:
            out.append(PeerSystem(peers[name], passages, digest, rebuild))
    return out


# --- scoring -----------------------------------------------------------------------------------


def dcg(grades: list[int]) -> float:
    return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:K]))


def score_query(q: Query, hits: list[Retrieved], judgments: Judgments) -> dict:
    grades = [judgments.grade(q.id, r.pid, r.doc_id, r.hash) for r in hits[:K]]
    gains = [g or 0 for g in grades]
    ideal = dcg(judgments.ideal(q.id))
    return {
        "hits": len(hits),
        "ndcg10": dcg(gains) / ideal if ideal > 0 else None,
        "p5": sum(1 for g in gains[:5] if g >= 1) / 5,
        "unjudged": sum(1 for g in grades if g is None),
        "ranking": [{"pid": r.pid, "doc_id": r.doc_id, "hash": r.hash, "score": round(r.score, 4), "grade": g}
                    for r, g in zip(hits[:K], grades)],
    }


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def summarise(queries: list[Query], per_query: dict, systems: list[str]) -> dict:
    """Mean nDCG@10 and P@5 per system over the queries that have an ideal; zero-hit and unjudged counts."""
    out = {}
    for s in systems:
        rows = [per_query[q.id][s] for q in queries if per_query[q.id][s]["ndcg10"] is not None]
        out[s] = {
            "queries": len(rows),
            "ndcg10": _mean([r["ndcg10"] for r in rows]),
            "p5": _mean([r["p5"] for r in rows]),
            "zero_hit": sum(1 for q in queries if per_query[q.id][s]["hits"] == 0),
            "unjudged": sum(per_query[q.id][s]["unjudged"] for q in queries),
            "retrieved": sum(min(K, per_query[q.id][s]["hits"]) for q in queries),
            "errors": sum(1 for q in queries if per_query[q.id][s].get("error")),
        }
    return out


# --- pool --------------------------------------------------------------------------------------


def reference_rankings(queries: list[Query], engines: list, judgments: Judgments) -> dict[str, list[dict]]:
    """Pool-only rankings: each system's top 10 for the query's Chinese reference query (reference.tsv)."""
    refs = {r["qid"]: r["reference"] for r in _tsv_rows(REFERENCE)} if REFERENCE.exists() else {}
    out: dict[str, list[dict]] = {}
    for q in queries:
        if q.id not in refs:
            continue
        for e in engines:
            try:
                hits = e.search(refs[q.id])
            except Exception:  # noqa: BLE001 - a reference query only widens the pool
                continue
            out.setdefault(q.id, []).extend(score_query(q, hits, judgments)["ranking"])
    return out


def write_pool(queries: list[Query], per_query: dict, lookup, extra: dict[str, list[dict]],
               tsv_path: Path, txt_path: Path) -> int:
    """Write every unjudged (query, passage) of every system's top 10, shuffled, systems hidden.

    ``extra`` adds pool-only rankings (the reference queries') per query id.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    n_total = 0
    with open(tsv_path, "w", encoding="utf-8") as tsv, open(txt_path, "w", encoding="utf-8") as txt:
        tsv.write("qid\tn\tpid\tdoc_id\thash\tgrade\n")
        for q in queries:
            pool = {}
            rankings = [res["ranking"] for res in per_query[q.id].values()] + [extra.get(q.id, [])]
            for ranking in rankings:
                for r in ranking:
                    if r["grade"] is None:
                        pool[(r["pid"], r["hash"])] = r
            if not pool:
                continue
            items = sorted(pool.values(), key=lambda r: (r["pid"], r["hash"]))
            random.Random(q.id).shuffle(items)
            txt.write(f"\n=== {q.id} [{q.cls}] {q.text}\nNEED: {q.need}\n")
            for n, r in enumerate(items, 1):
                p = lookup(r["pid"], r["hash"])
                tsv.write(f"{q.id}\t{n}\t{r['pid']}\t{r['doc_id']}\t{r['hash']}\t\n")
                txt.write(f"[{q.id}:{n}] {p.title} | {p.date} | § {p.section or '-'} | {p.id}\n{p.text}\n")
                n_total += 1
    return n_total


def add_judgments(path: Path, judgments: Judgments) -> None:
    rows = list(_tsv_rows(path))
    pool = {(r["qid"], r["n"]): r for f in (POOL_TSV, HELDOUT_POOL_TSV) if f.exists() for r in _tsv_rows(f)}
    ready = []
    for r in rows:
        if not r.get("grade", "").strip():
            continue
        if not r.get("pid"):
            src = pool.get((r["qid"], r["n"]))
            if src is None:
                sys.exit(f"{path}: {r['qid']} #{r['n']} is not in {POOL_TSV.name} or {HELDOUT_POOL_TSV.name}")
            r = {**src, "grade": r["grade"]}
        ready.append({**r, "grade": r["grade"].strip()})
    added, same = judgments.add(ready)
    print(f"{added} judgments added to {judgments.path.name} / {judgments.heldout_path.name} ({same} already there).")


# --- report ------------------------------------------------------------------------------------


def _f(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def report(queries: list[Query], heldout: list[Query], per_query: dict, systems: list[str], meta: dict) -> dict:
    from bench import _table

    classes = list(dict.fromkeys(q.cls for q in queries))
    summary = {"all": summarise(queries, per_query, systems)}
    for c in classes:
        summary[c] = summarise([q for q in queries if q.cls == c], per_query, systems)
    if heldout:
        summary["heldout"] = summarise(heldout, per_query, systems)
    headers = ["class (queries)"] + [f"{s} {m}" for s in systems for m in ("nDCG@10", "P@5")]
    rows = []
    for label, key, n in ([(f"{c} ({sum(q.cls == c for q in queries)})", c, None) for c in classes]
                          + [(f"ALL ({len(queries)})", "all", None)]
                          + ([(f"held out ({len(heldout)})", "heldout", None)] if heldout else [])):
        rows.append([label] + [_f(summary[key][s][m]) for s in systems for m in ("ndcg10", "p5")])
    all_q = queries + heldout
    no_ideal = [q.id for q in all_q if all(per_query[q.id][s]["ndcg10"] is None for s in systems)]
    rows.append([f"zero-hit queries (of {len(all_q)})"] + [x for s in systems
                                              for x in (str(sum(1 for q in all_q if per_query[q.id][s]["hits"] == 0)), "")])
    rows.append(["unjudged/retrieved top-10"] + [
        x for s in systems for x in (f"{sum(per_query[q.id][s]['unjudged'] for q in all_q)}"
                                     f"/{sum(min(K, per_query[q.id][s]['hits']) for q in all_q)}", "")])
    errors = {s: [q.id for q in all_q if per_query[q.id][s].get("error")] for s in systems}
    print()
    print(f"kb relevance benchmark — {len(queries)} queries + {len(heldout)} held out, corpus "
          f"{meta['passages']:,} passages, kb {meta['kb_commit']}{' (dirty)' if meta['kb_dirty'] else ''} "
          f"(source {meta['kb_source']}"
          + (f"; index built from source {meta['kb_index_source']}, --keep-index"
             if meta.get("kb_index_source") not in (None, meta["kb_source"]) else "")
          + f"), {meta['when']}")
    print()
    print(_table(rows, tuple(headers)))
    print()
    print("nDCG@10: gains 2^g-1, log2 discounts, ideal DCG from all judged passages of the query (all systems).")
    print("P@5: grade >= 1 counts as relevant. Unjudged passages count as 0. Means over queries with at least")
    print(f"one passage judged >= 1; queries left out for having none: {len(no_ideal)}"
          + (f" ({', '.join(q for q in no_ideal if not q.startswith('h'))})" if no_ideal else "") + ".")
    for s, ids in errors.items():
        if ids:
            print(f"{s} raised an error on {len(ids)} queries: {', '.join(ids)}")
    return summary


def per_query_table(queries: list[Query], per_query: dict, systems: list[str]) -> None:
    from bench import _table

    rows = []
    for q in queries:
        r = [q.id, q.cls, q.text if len(q.text) <= 40 else q.text[:37] + "..."]
        for s in systems:
            x = per_query[q.id][s]
            r += [_f(x["ndcg10"], 2), _f(x["p5"], 1), str(x["hits"]) if x["hits"] < K else ""]
        rows.append(r)
    headers = ["id", "class", "query"] + [f"{s} {m}" for s in systems for m in ("nDCG", "P@5", "hits<10")]
    print()
    print(_table(rows, tuple(headers)))


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# --- main --------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Judged relevance benchmark: kb, bm25s+jieba and Whoosh+jieba.")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"corpus root (default: {DEFAULT_CORPUS})")
    ap.add_argument("--system", action="append", choices=SYSTEMS, help="run only this system (repeatable)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached passages and indexes")
    ap.add_argument("--pool", action="store_true", help=f"write the unjudged top-10 passages to {POOL_TSV.name}/.txt")
    ap.add_argument("--add-judgments", type=Path, metavar="FILE", help="append graded rows of FILE to judgments.tsv")
    ap.add_argument("--per-query", action="store_true", help="print one line per (non-held-out) query")
    ap.add_argument("--no-heldout", action="store_true", help="leave out the held-out queries")
    ap.add_argument("--cache", type=Path, metavar="DIR",
                    help=f"the cache folder (default {CACHE}); peers' indexes found beside it are reused")
    ap.add_argument("--keep-index", action="store_true",
                    help="development: reuse the cached passages and kb index although kb's source changed")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    global CACHE
    args = parse_args(argv)
    if args.cache is not None:
        CACHE = args.cache.resolve()
        CACHE.mkdir(parents=True, exist_ok=True)
        for peer in ("bm25s-jieba", "whoosh-jieba"):  # the same passages give the same peer indexes
            default = HERE / ".cache" / peer
            if default.is_dir() and not (CACHE / peer).exists():
                (CACHE / peer).symlink_to(default, target_is_directory=True)
    heldout_ids = frozenset(q.id for q in load_queries(HELDOUT)) if HELDOUT.exists() else frozenset()
    judgments = Judgments(JUDGMENTS, HELDOUT_JUDGMENTS, heldout_ids)
    if args.add_judgments:
        add_judgments(args.add_judgments, judgments)
        return 0
    corpus = args.corpus.resolve()
    if not corpus.is_dir():
        sys.exit(f"Corpus not found at {corpus}; give its location with --corpus DIR.")
    systems = [s for s in SYSTEMS if not args.system or s in args.system]
    queries = load_queries(QUERIES)
    heldout = [] if args.no_heldout or not HELDOUT.exists() else load_queries(HELDOUT, heldout=True)
    if {q.id for q in queries} & {q.id for q in heldout}:
        sys.exit(f"{QUERIES.name} and {HELDOUT.name} share query ids; ids must be unique across both.")
    t0 = time.perf_counter()
    kb_hash = kb_source_hash()
    passages, digest = load_passages(corpus, args.rebuild, kb_hash, args.keep_index)
    engines = open_systems(systems, corpus, args.rebuild, passages, digest, kb_hash, args.keep_index)
    per_query: dict[str, dict] = {}
    for q in queries + heldout:
        per_query[q.id] = {}
        for e in engines:
            try:
                hits = e.search(q.text)
                err = None
            except Exception as ex:  # a failing query is recorded and scored as zero hits, never fatal
                hits, err = [], f"{type(ex).__name__}: {ex}"
            per_query[q.id][e.name] = score_query(q, hits, judgments)
            if err:
                per_query[q.id][e.name]["error"] = err
    kb_engine = next((e for e in engines if e.name == "kb"), None)
    meta = {
        "when": _dt.datetime.now().isoformat(timespec="seconds"),
        "corpus": str(corpus),
        "passages": len(passages),
        "kb_commit": _git("rev-parse", "--short", "HEAD"),
        "kb_dirty": bool(_git("status", "--porcelain", "kb")),
        "kb_source": kb_hash,
        "kb_index_source": kb_engine.index_source if kb_engine is not None else None,
        "systems": systems,
        "judgments": len(judgments.rows),
        "build_s": {e.name: e.build_s for e in engines if e.build_s is not None},
    }
    summary = report(queries, heldout, per_query, systems, meta)
    if args.per_query:
        per_query_table(queries, per_query, systems)
    if args.pool:
        def lookup(pid: str, h: str) -> PassageInfo:
            p = passages.get(pid)
            if p is not None and text_hash(p.text) == h:
                return p
            if kb_engine is None or pid not in kb_engine.texts:
                sys.exit(f"passage {pid} is neither in the corpus reading nor among kb's results")
            return kb_engine.texts[pid]  # kb returned a passage the peers' reading does not hold

        extra = reference_rankings(queries + heldout, engines, judgments)
        n = write_pool(queries, per_query, lookup, extra, POOL_TSV, POOL_TXT)
        print(f"\n{n} unjudged (query, passage) pairs written to {POOL_TSV} and {POOL_TXT.name}.")
        if heldout:
            n = write_pool(heldout, per_query, lookup, extra, HELDOUT_POOL_TSV, HELDOUT_POOL_TXT)
            print(f"{n} held-out pairs written to {HELDOUT_POOL_TSV.name} and {HELDOUT_POOL_TXT.name} "
                  f"(for the judge only: tuners must not read them).")
    RESULTS.mkdir(parents=True, exist_ok=True)
    main_ids = {q.id for q in queries}
    out = {"meta": meta, "summary": summary,
           "queries": [{**asdict(q), "results": per_query[q.id]} for q in queries]}
    (RESULTS / "relevance-latest.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", "utf-8")
    if heldout:
        held = {"meta": meta, "queries": [{**asdict(q), "results": per_query[q.id]} for q in heldout
                                          if q.id not in main_ids]}
        (RESULTS / "relevance-heldout.json").write_text(json.dumps(held, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"\nPer-query figures written to {RESULTS / 'relevance-latest.json'} ({time.perf_counter() - t0:.0f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
