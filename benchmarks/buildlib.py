"""Shared helpers of the build benchmarks: corpus selections, loading, timing, tables.

Not a benchmark by itself; ``build_profile.py`` and ``bulk_build.py`` import it.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as `python benchmarks/x.py` from anywhere
    sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus")
SEED = REPO / "seeds" / "xinhua-2020-12-01-shandong-urbanization.txt"
# The "3 MB slice" of the issue: the seed plus four months of the news shards.
SLICE_MONTHS = ("2024-10", "2024-11", "2024-12", "2025-01")
MB = 1e6


def slice_paths(corpus: Path = CORPUS) -> list[Path]:
    """The seed and ``xwlb-2024-10 .. xwlb-2025-01.jsonl`` (3.05 MB of files)."""
    return [SEED, *(corpus / "xwlb" / f"xwlb-{m}.jsonl" for m in SLICE_MONTHS)]


# The text corpus of the figures (37.35 MB): ``documents/`` holds binary originals
# (PDF, DOCX, OFD) that were added later and that kb's reader does not ingest yet.
WHOLE_FOLDERS = ("gov-work-reports", "laws", "xwlb")


def whole_paths(corpus: Path = CORPUS) -> list[Path]:
    """The corpus's text folders (7,556 documents, 37.35 MB)."""
    return [corpus / name for name in WHOLE_FOLDERS]


def selection(name: str) -> list[Path]:
    if name == "slice":
        return slice_paths()
    if name == "whole":
        return whole_paths()
    return [Path(p) for p in name.split(",")]


def source_bytes(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        else:
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


def load_documents(paths: list[Path]) -> list[tuple[Any, list[Any]]]:
    """(document, passages) of ``paths``, read and chunked as ``kb index`` does (duplicate ids skipped)."""
    from kb.chunking import chunk
    from kb.ingest import discover, read_source

    files, _skipped, manifests = discover(paths)
    seen: set[str] = set()
    out = []
    for sf in files:
        docs, _skips = read_source(sf, manifests.get(sf.key))
        for doc in docs:
            if doc.id in seen:
                continue
            seen.add(doc.id)
            out.append((doc, chunk(doc)))
    return out


def dir_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def cpu_seconds() -> float:
    """User+system CPU of this process and of its waited-for children."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


@dataclass
class Stages:
    """Wall and CPU seconds per named stage, over repetitions."""

    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall.setdefault(name, []).append(time.perf_counter() - t)
            self.cpu.setdefault(name, []).append(time.process_time() - c)

    def median(self, name: str, cpu: bool = False) -> float:
        return statistics.median((self.cpu if cpu else self.wall)[name])


def table(rows: list[tuple], headers: tuple) -> str:
    cells = [tuple(str(c) for c in r) for r in [headers, *rows]]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(_pad(c, w, i > 0) for i, (c, w) in enumerate(zip(r, widths)))

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


def _width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, w: int, right: bool) -> str:
    fill = " " * (w - _width(s))
    return fill + s if right else s + fill
