"""Timings for hostile input: the speed claims the test suite used to assert with a stopwatch.

Run from the repository root, in the project's virtualenv::

    python benchmarks/hostile.py              # queries (median of 5 runs each) and a 3 MB one-line file
    python benchmarks/hostile.py --repeat 9   # more runs per query
    python benchmarks/hostile.py --no-index   # queries only

The tests guard the same inputs by the work they cause (leaf matchers built); this script prints
wall-clock figures, and beside each the limit the tests used to assert (2 s per hostile query, 3 s
for the two heaviest, 5 s for a 2,000-character English query, 60 s to index a 3 MB line), so a
regression in speed is visible without making a busy machine fail the suite. Timings are noisy on
a shared machine: repeat, and compare medians.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "xinhua-2020-12-01-shandong-urbanization.txt"
POLICY_WORDS = ("户籍 改革 城镇化 农村 土地 宅基地 集体 建设用地 承包地 产业 培育 财政 金融 社会保险 教育 医疗 就业 住房 养老 "
                "规划 编制 城乡 融合 发展 人才 返乡 技能 培训 基础设施 一体化 公共服务 生态 产品 价值 实现 路径 办法").split()


def _cjk(seed: int, n: int) -> str:
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n))


def _english() -> str:
    words = re.findall(r"[a-z]{4,}", (ROOT / "README.md").read_text("utf-8").lower())
    return " ".join(dict.fromkeys(words))[:1999]


# name: (query, former limit in seconds)
QUERIES = {
    "one word": ("户籍", 2.0),
    "10,000 characters (refused)": ("户籍改革" * 2500, 2.0),
    "deep nesting (600 levels)": ("(" * 600 + "户籍" + ")" * 600, 2.0),
    "control characters": ("户籍\x00\x01\x1b[31m改革\x7f", 2.0),
    "rare CJK and words": ("𪚥 户籍", 2.0),
    "full-width syntax": ("（户籍　ＯＲ　落户）", 2.0),
    "many minus signs": ("户籍 ------", 2.0),
    "1,999 CJK characters, no spaces": (_cjk(0, 1999), 3.0),
    "666 repeated words": (" ".join(["户籍"] * 666), 3.0),
    "2,000-character English query": (_english(), 5.0),
}


def time_queries(index: Path, repeat: int) -> list[tuple[str, float, float, str]]:
    from kb import KnowledgeBase, QueryError

    rows = []
    with KnowledgeBase(index) as kb:
        kb.search("户籍")  # load the segmenter and dictionaries first
        for name, (query, limit) in QUERIES.items():
            runs = []
            outcome = ""
            for _ in range(repeat):
                t0 = time.perf_counter()
                try:
                    result = kb.search(query)
                    outcome = f"{len(result)} hits"
                except QueryError:
                    outcome = "QueryError"
                runs.append(time.perf_counter() - t0)
            rows.append((name, statistics.median(runs), limit, outcome))
    return rows


def one_line_file(path: Path, chars: int = 1_000_000) -> None:
    rng = random.Random(7)
    parts, n = [], 0
    while n < chars:
        p = "".join(rng.choice(POLICY_WORDS) for _ in range(rng.randint(4, 8))) + "，"
        parts.append(p)
        n += len(p)
    path.write_text("".join(parts)[:chars] + "。", encoding="utf-8")


def time_indexing(work: Path) -> tuple[float, int]:
    src = work / "oneline"
    src.mkdir()
    one_line_file(src / "oneline.txt")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "kb.cli", "--index", str(work / "oneline-ix"), "index", str(src)],
                         capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return seconds, (src / "oneline.txt").stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per query (the median is printed)")
    ap.add_argument("--no-index", action="store_true", help="skip indexing the 3 MB one-line file")
    args = ap.parse_args()
    from kb import KnowledgeBase

    with tempfile.TemporaryDirectory(prefix="kb-hostile-") as tmp:
        work = Path(tmp)
        (work / "seeds").mkdir()
        (work / "seeds" / SEED.name).write_bytes(SEED.read_bytes())
        with KnowledgeBase(work / "ix") as kb:
            kb.index([work / "seeds"])
        print(f"hostile queries on the seed, median of {args.repeat} runs (warm process)")
        print(f"{'query':40} {'median':>10} {'former limit':>13}  outcome")
        for name, seconds, limit, outcome in time_queries(work / "ix", args.repeat):
            flag = "  OVER" if seconds > limit else ""
            print(f"{name:40} {seconds * 1000:8.1f} ms {limit:11.1f} s  {outcome}{flag}")
        if not args.no_index:
            seconds, size = time_indexing(work)
            flag = "  OVER" if seconds > 60 else ""
            print(f"\nkb index of one {size / 1e6:.1f} MB line (new process, one run): {seconds:.1f} s "
                  f"(former limit 60 s){flag}")


if __name__ == "__main__":
    main()
