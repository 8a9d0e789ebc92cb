"""Read /work/shared/corpus for the vocabulary tools (not part of the kb package).

``documents()`` yields the raw documents of the three corpus parts with their
part name, kind and year; ``passages()`` yields kb's own passages (kb's
reader and chunker) for the same files, so tools measure what kb indexes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent.parent / "shared" / "corpus"
if not DEFAULT_CORPUS.is_dir():  # a worktree under /work/wt/<name>, or a checkout beside shared/
    DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"

PARTS = ("gov-work-reports", "laws", "xwlb")


@dataclass(frozen=True)
class Doc:
    id: str
    part: str  # gwr-recent (government work reports 2015–2025), gwr-older, cpc, npc, laws, xwlb
    year: int | None
    title: str
    text: str


def _year(date: str) -> int | None:
    m = re.match(r"(\d{4})", date or "")
    return int(m.group(1)) if m else None


def documents(corpus: Path = DEFAULT_CORPUS) -> Iterator[Doc]:
    """Every document of the corpus, gov-work-reports first."""
    gwr = corpus / "gov-work-reports"
    for line in (gwr / "manifest.jsonl").read_text("utf-8").splitlines():
        rec = json.loads(line)
        text = (gwr / rec["file"]).read_text("utf-8")
        year = _year(rec.get("date", ""))
        kind = rec.get("kind", "")
        if kind == "government_work_report":
            part = "gwr-recent" if year and 2015 <= year <= 2025 else "gwr-older"
        elif kind == "cpc_congress_report":
            part = "cpc"
        else:
            part = "npc"
        yield Doc(rec["id"], part, year, rec.get("title", ""), text)
    for sub in ("laws", "xwlb"):
        for f in sorted((corpus / sub).glob("*.jsonl")):
            for line in f.read_text("utf-8").splitlines():
                if not line.strip():
                    continue
                rec = json.loads(line)
                yield Doc(rec["id"], sub, _year(rec.get("date", "")), rec.get("title", ""), rec.get("text", ""))


def passages(corpus: Path = DEFAULT_CORPUS):
    """(document, passage) for every passage kb makes of the corpus's three parts, in a stable order."""
    from kb.chunking import chunk
    from kb.ingest import discover, read_source

    files, _skipped, manifests = discover([corpus / p for p in PARTS])
    for sf in files:
        docs, _ = read_source(sf, manifests.get(sf.key))
        for doc in docs:
            for p in chunk(doc):
                yield doc, p
