"""Measure the precision of kb's topic tags on the shared corpus.

Usage (from the worktree, in its venv)::

    # passages per topic, and a judging sheet of 50 tagged passages per topic
    python tools/topic_precision.py sheet --seed 1 --out /tmp/sheet-round1.tsv
    # after filling in the judgments (1 = about the topic, 0 = not):
    python tools/topic_precision.py score tools/topic_precision/judgments-round1.tsv

The corpus's three parts (gov-work-reports, laws, xwlb) are read and chunked
with kb's own reader and chunker, and every passage is tagged with kb's own
``kb.lexicon.tag`` over ``section + "\\n" + text``, exactly as the indexer
does. For each topic, ``--per-topic`` of its tagged passages are drawn with
``random.Random(seed)`` (topics in taxonomy order, passages in corpus order
before sampling), so a sheet is reproducible from its seed and the data files.

The sheet has one row per sampled passage: topic, passage id, the topic's
signal terms found in it, an empty ``judgment`` column, and the passage
(section path, then the text with the signal terms in 【】; a long text is
shown as its opening and the context of each match). The committed judgments
file keeps topic, passage id, terms, judgment and an optional note.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import DEFAULT_CORPUS, passages  # noqa: E402

SHOW_WHOLE = 260  # texts up to this many characters are shown whole
WINDOW = 70  # characters of context each side of a match in a longer text


def tagged(corpus: Path):
    """(topic slug → [(passage id, section, text)] in corpus order, number of passages)."""
    from kb.lexicon import tag

    by_topic: dict[str, list] = defaultdict(list)
    n = 0
    for _doc, p in passages(corpus):
        n += 1
        for slug in tag(p.section + "\n" + p.text):
            by_topic[slug].append((p.id, p.section, p.text))
    return by_topic, n


def _found_terms(slug: str, text: str) -> list[str]:
    from kb.text import normalize
    from kb.lexicon import topic_by_slug

    norm = normalize(text)
    terms = sorted(topic_by_slug(slug).terms, key=len, reverse=True)
    found = []
    for t in terms:
        nt = normalize(t)
        if nt in norm and not any(nt in f for f in found):
            found.append(nt)
    return found


def _display(section: str, text: str, terms: list[str]) -> str:
    from kb.text import normalize

    norm = normalize(text)
    pat = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))) if terms else None
    if len(text) <= SHOW_WHOLE or pat is None:
        spans = [(0, len(text))]
    else:
        spans = [(0, 60)]
        for m in pat.finditer(norm):
            spans.append((max(0, m.start() - WINDOW), min(len(text), m.end() + WINDOW)))
        merged: list[list[int]] = []
        for s, e in sorted(spans):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        spans = [tuple(x) for x in merged]
    parts = []
    for s, e in spans:
        chunk = text[s:e]
        if pat is not None:
            chunk = _mark(chunk, normalize(chunk), pat)
        parts.append(("…" if s > 0 else "") + chunk + ("…" if e < len(text) else ""))
    body = " ".join(parts)
    sec = f"§{section} | " if section else ""
    return (sec + body).replace("\t", " ").replace("\n", " ")


def _mark(chunk: str, norm: str, pat: re.Pattern) -> str:
    """``chunk`` with the matches of ``pat`` in its normalised form in 【】 (offsets carry over when lengths agree)."""
    if len(norm) != len(chunk):
        return chunk
    out, last = [], 0
    for m in pat.finditer(norm):
        out.append(chunk[last : m.start()])
        out.append("【" + chunk[m.start() : m.end()] + "】")
        last = m.end()
    out.append(chunk[last:])
    return "".join(out)


def cmd_sheet(args) -> int:
    from kb.lexicon import topics

    by_topic, n = tagged(args.corpus)
    rng = random.Random(args.seed)
    counts = {t.slug: len(by_topic.get(t.slug, ())) for t in topics()}
    lines = ["topic\tpassage\tterms\tjudgment\tpassage text"]
    for t in topics():
        pool = by_topic.get(t.slug, [])
        sample = rng.sample(pool, min(args.per_topic, len(pool)))
        for pid, section, text in sample:
            terms = _found_terms(t.slug, section + "\n" + text)
            lines.append(f"{t.slug}\t{pid}\t{' '.join(terms)}\t\t{_display(section, text, terms)}")
    args.out.write_text("\n".join(lines) + "\n", "utf-8")
    summary = {"passages": n, "seed": args.seed, "per_topic": args.per_topic, "tagged": counts}
    if args.counts:
        args.counts.write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def cmd_counts(args) -> int:
    from kb.lexicon import topics

    by_topic, n = tagged(args.corpus)
    counts = {t.slug: len(by_topic.get(t.slug, ())) for t in topics()}
    print(json.dumps({"passages": n, "tagged": counts}, ensure_ascii=False, indent=1))
    return 0


def read_judgments(path: Path) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for line in path.read_text("utf-8").splitlines()[1:]:
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 4 or cols[3].strip() not in ("0", "1"):
            raise SystemExit(f"{path}: a row without a 0/1 judgment: {line[:80]}")
        out[cols[0]].append(int(cols[3]))
    return out


def cmd_score(args) -> int:
    from kb.lexicon import topics

    tables = [(p, read_judgments(p)) for p in args.judgments]
    head = "| topic | " + " | ".join(f"{p.stem}: precision (n)" for p, _ in tables) + " |"
    print(head)
    print("|" + "---|" * (len(tables) + 1))
    for t in topics():
        cells = []
        for _p, j in tables:
            v = j.get(t.slug, [])
            cells.append(f"{sum(v) / len(v):.2f} ({len(v)})" if v else "–")
        print(f"| {t.slug} | " + " | ".join(cells) + " |")
    for p, j in tables:
        allv = [x for v in j.values() for x in v]
        print(f"{p.stem}: overall {sum(allv) / len(allv):.3f} over {len(allv)} judgments; "
              f"topics below 0.9: {sorted(s for s, v in j.items() if sum(v) / len(v) < 0.9)}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sheet", help="write a judging sheet")
    s.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--per-topic", type=int, default=50)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--counts", type=Path, help="also write the passage counts per topic (JSON) here")
    s.set_defaults(func=cmd_sheet)
    c = sub.add_parser("counts", help="passages tagged per topic")
    c.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    c.set_defaults(func=cmd_counts)
    sc = sub.add_parser("score", help="precision per topic from judgment files")
    sc.add_argument("judgments", type=Path, nargs="+")
    sc.set_defaults(func=cmd_score)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
