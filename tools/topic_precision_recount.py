"""Re-tag the passages of a judgments file with today's data and recount precision.

Usage::

    python tools/topic_precision_recount.py tools/topic_precision/judgments-round2.tsv

For data changes made after a round was judged: a passage that no longer
carries its topic is left out of the recount. This is not a fresh sample (the
changes were made after reading the round's errors); it only shows which
judged passages a change affects.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import DEFAULT_CORPUS, passages  # noqa: E402


def main(argv=None) -> int:
    from kb.lexicon import tag, topics

    path = Path((argv or sys.argv[1:])[0])
    rows = [line.split("\t") for line in path.read_text("utf-8").splitlines()[1:] if line.strip()]
    wanted = {r[1] for r in rows}
    texts = {p.id: p.section + "\n" + p.text for _d, p in passages(DEFAULT_CORPUS) if p.id in wanted}
    kept, dropped = defaultdict(list), defaultdict(list)
    for topic, pid, _terms, judgment, *_ in rows:
        (kept if topic in tag(texts[pid]) else dropped)[topic].append((pid, int(judgment)))
    print("| topic | judged | still tagged | precision of those | dropped (judged 1 / 0) |")
    print("|---|---|---|---|---|")
    for t in topics():
        k, d = kept[t.slug], dropped[t.slug]
        if not k and not d:
            continue
        ones = sum(j for _p, j in d)
        prec = sum(j for _p, j in k) / len(k) if k else float("nan")
        print(f"| {t.slug} | {len(k) + len(d)} | {len(k)} | {prec:.2f} | {len(d)} ({ones} / {len(d) - ones}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
