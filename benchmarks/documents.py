"""Read and index the real documents of ``shared/corpus/documents``: a table per file and pages per second.

    python benchmarks/documents.py [--dir DIR] [--repeat 3]

DIR defaults to ``../shared/corpus/documents`` beside the checkout (or
``$KB_DOCUMENTS``). For each file it prints passages, title, date, pages and
two sample section paths, or the skip reason. Then the throughput lines:

    read   pages/s of reading and chunking PDF and DOCX files (median of --repeat runs)
    index  pages/s of a full ``KnowledgeBase.index`` of the folder into a new index (median)

Pages are the PDF's page count, and Word's rendered pages for DOCX (the last
page any passage is on). Timings on a shared machine are noisy; the medians
are what to compare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = Path(os.environ.get("KB_DOCUMENTS") or ROOT.parent / "shared" / "corpus" / "documents")


def read_all(files):
    from kb.chunking import chunk
    from kb.readers import Source, reader_for

    rows = []
    for path in files:
        reader = reader_for(path)
        res = reader(Source(path=path, rel=path.name, data=path.read_bytes())) if reader else None
        if res is None or not res.documents:
            reason = "; ".join(s.reason for s in res.skipped) if res else "unsupported"
            rows.append((path, None, [], reason))
            continue
        doc = res.documents[0]
        rows.append((path, doc, chunk(doc), ""))
    return rows


def pages_of(doc, passages) -> int:
    if doc is None:
        return 0
    return int(doc.metadata.get("pages") or max((p.page for p in passages), default=0))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if not args.dir.is_dir():
        print(f"{args.dir} is absent; nothing to measure")
        return 0
    files = sorted(p for p in args.dir.iterdir() if p.is_file() and p.suffix.lower() != ".md")
    rows = read_all(files)
    print("| file | passages | title | date | pages | sample section paths / skip reason |")
    print("|---|---:|---|---|---:|---|")
    for path, doc, passages, reason in rows:
        if doc is None:
            print(f"| {path.name} | 0 | | | | skipped: {reason} |")
            continue
        sections = []
        for p in passages:
            if p.section not in sections and " > " in p.section:
                sections.append(p.section)
        picks = [sections[0], sections[len(sections) // 2]] if len(sections) > 1 else sections or [passages[0].section]
        shown = " · ".join(s if len(s) <= 60 else s[:57] + "…" for s in picks)
        print(f"| {path.name} | {len(passages)} | {doc.title} | {doc.date} | {pages_of(doc, passages) or ''} | {shown} |")

    kinds = {".pdf": "PDF", ".docx": "DOCX"}
    paged = [p for p in files if p.suffix.lower() in kinds]
    page_count = {path: pages_of(doc, passages) for path, doc, passages, _ in rows}
    for suffix, label in kinds.items():
        group = [p for p in paged if p.suffix.lower() == suffix]
        pages = sum(page_count[p] for p in group)
        if not group:
            continue
        runs = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            read_all(group)
            runs.append(time.perf_counter() - t0)
        sec = statistics.median(runs)
        print(f"read   {label}: {len(group)} files, {pages} pages in {sec:.2f} s (median of {args.repeat}) "
              f"= {pages / sec:.0f} pages/s")
    from kb import KnowledgeBase

    pages = sum(page_count[p] for p in paged)
    runs = []
    for _ in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(prefix="kb-docs-"))
        try:
            src = tmp / "src"
            src.mkdir()
            for p in paged:
                shutil.copy(p, src / p.name)
            kb = KnowledgeBase(tmp / "ix")
            t0 = time.perf_counter()
            summary = kb.index([src])
            runs.append(time.perf_counter() - t0)
            kb.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    sec = statistics.median(runs)
    print(f"index  PDF+DOCX: {len(paged)} files, {pages} pages, {summary.total_passages} passages in {sec:.2f} s "
          f"(median of {args.repeat}) = {pages / sec:.0f} pages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
