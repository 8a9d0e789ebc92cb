"""Mine frequent multi-character policy terms from the shared corpus, for review.

Usage (from the worktree, in its venv)::

    python tools/mine_terms.py --top 4000 --out /tmp/terms.tsv
    python tools/mine_terms.py --abbreviations --out /tmp/abbr.tsv

Terms: the corpus is normalised as kb normalises it (traditional → simplified,
full-width → half-width) and segmented with kb's own segmenter (rjieba plus
``kb/data/policy_terms.txt``). Candidates are runs of 1–5 consecutive words
inside one clause, 2–12 characters long, that neither start nor end with a
function word or a bare adverb/verb prefix, and contain no stop phrase.
Candidates that almost only occur inside one longer candidate (质生产力 inside
新质生产力) are dropped. Each candidate is scored by its frequency per million
characters in each corpus part, weighted: the government work reports of
2015–2025 most, then CPC congress reports and the news, then older reports and
the laws.

The output is a TSV for a human to review (not committed): term, score, counts
and document frequencies per part, the years of the 2015–2025 reports that use
it, how many words kb's segmenter makes of it, its frequency in jieba's general
dictionary (high: an everyday word rather than a policy term), how kb's
segmenter splits it today, and whether the glossary already has it.

``--abbreviations`` lists abbreviations the corpus introduces itself
(（简称“两新”）, 以下简称…) and quoted numbered slogans (“三农”, “六稳”) with
their counts and a context, for building ``kb/data/abbreviations.tsv``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import DEFAULT_CORPUS, documents  # noqa: E402

# Per-million-character frequencies are weighted by corpus part: the recent
# government work reports are the vocabulary the glossary must cover first.
WEIGHTS = {"gwr-recent": 4.0, "cpc": 1.5, "xwlb": 1.5, "npc": 1.0, "gwr-older": 0.5, "laws": 0.5}
PART_ORDER = ("gwr-recent", "cpc", "npc", "gwr-older", "xwlb", "laws")

# Words that never start or end a term.
EDGE_STOP = set(
    "的 地 得 了 着 过 和 与 及 以及 或 或者 等 等等 在 是 对 把 将 要 为 从 向 也 都 而 并 又 更 还 就 才 已 已经 "
    "我们 我 你 他 她 它 其 之 所 被 让 使 给 由 于 于是 以 以上 以下 之一 中 上 下 里 内 外 后 前 时 个 这 那 该 此 "
    "各 每 其中 一个 一些 有 没有 不 不是 能 会 可以 应当 应该 必须 需要 可 得到 通过 按照 根据 依照 依法 关于 对于 "
    "今年 去年 明年 全年 当年 目前 当前 同时 还要 进而 从而 因此 但 但是 如果 一 二 三 四 五 六 七 八 九 十 "
    "一是 二是 三是 四是 五是 六是 第一 第二 第三 方面 工作 问题 情况 领域 方式 有关 相关 重要 主要 积极 大力 进一步 "
    "全面 持续 着力 稳步 切实 继续 不断 努力 有效 更加 更好 坚决 认真 深入 加快 推进 推动 促进 加强 深化 坚持 实施 "
    "完善 健全 落实 支持 提高 扩大 提升 强化 做好 抓好 开展 加大 优化 保持 实现 建立 建设 发展 改革 创新 进行 作出 "
    "做出 取得 形成 增强 统筹 着眼 围绕 聚焦 引导 鼓励 规范 严格 依托 利用 充分 发挥 完成 增加 减少 降低 保障 保护 "
    "合理 有序 稳定 稳妥 加以 予以 给予 确保 力争 争取 基本 初步 明显 显著 较大 新 多 大 小 好 高 低 万 亿 元 "
    "个人 单位 国家 政府 部门 地方 人民 社会 经济 全国 各地 各级 有关部门 亿元 万元 万人 百分之 左右 以来 期间".split()
)
# A candidate containing one of these is a sentence fragment, not a term.
INNER_STOP = ("的", "了", "我们", "今年", "去年", "明年", "一是", "二是", "三是", "应当", "可以", "不得", "必须")
CJK = re.compile(r"[\u4e00-\u9fff]+")
CLAUSE = re.compile(r"[^\u4e00-\u9fff\w]+")
MAX_TOKENS = 5
MIN_CHARS, MAX_CHARS = 2, 12


def _segment(text: str) -> list[list[str]]:
    """kb's precise segmentation of ``text``, as clauses of CJK words."""
    from kb.text.segment import _segmenter

    seg = _segmenter()
    out = []
    for clause in CLAUSE.split(text):
        if not CJK.search(clause):
            continue
        words = [w for w in seg.cut(clause, hmm=True)]
        out.append(words)
    return out


def _candidates(words: list[str]):
    n = len(words)
    for i in range(n):
        if words[i] in EDGE_STOP or not CJK.fullmatch(words[i]):
            continue
        length = 0
        for j in range(i, min(n, i + MAX_TOKENS)):
            w = words[j]
            if not CJK.fullmatch(w):
                break
            length += len(w)
            if length > MAX_CHARS:
                break
            if length < MIN_CHARS or w in EDGE_STOP:
                continue
            yield "".join(words[i : j + 1])


def _compact_years(years) -> str:
    ys = sorted(years)
    out, start, prev = [], None, None
    for y in ys:
        if start is None:
            start = prev = y
        elif y == prev + 1:
            prev = y
        else:
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = prev = y
    if start is not None:
        out.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(out)


def mine(corpus: Path, min_df: int, top: int, min_chars: int = 2) -> list[dict]:
    from kb.text import normalize
    from kb.text.segment import query_words

    counts: dict[str, Counter] = defaultdict(Counter)
    dfs: dict[str, Counter] = defaultdict(Counter)
    years: dict[str, set] = defaultdict(set)
    chars: Counter = Counter()
    ndocs: Counter = Counter()
    for doc in documents(corpus):
        text = normalize(doc.text)
        chars[doc.part] += len(text)
        ndocs[doc.part] += 1
        seen = set()
        c = counts[doc.part]
        for clause in _segment(text):
            for term in _candidates(clause):
                if any(s in term for s in INNER_STOP):
                    continue
                c[term] += 1
                seen.add(term)
        dfs[doc.part].update(seen)
        if doc.part == "gwr-recent":
            for t in seen:
                years[t].add(doc.year)
        # Lossy counting keeps memory bounded on the large parts: a term seen once in a
        # whole shard of documents cannot reach the output thresholds anyway.
        if len(c) > 3_000_000:
            for t in [t for t, v in c.items() if v < 2]:
                del c[t]
                dfs[doc.part].pop(t, None)
    total_df: Counter = Counter()
    for part in dfs:
        total_df.update(dfs[part])
    score: dict[str, float] = {}
    for t, df in total_df.items():
        if df < min_df:
            continue
        score[t] = sum(WEIGHTS[p] * counts[p][t] * 1e6 / chars[p] for p in counts if chars[p])
    total_count = Counter()
    for p in counts:
        for t in score:
            total_count[t] += counts[p][t]
    # Subsumption: drop a term whose occurrences almost all lie inside one longer candidate.
    by_len = sorted(score, key=len, reverse=True)
    drop = set()
    contained: dict[str, int] = defaultdict(int)
    for t in by_len:
        if len(t) < 3:
            continue
        for a in range(len(t)):
            for b in range(a + 2, len(t) + 1):
                if b - a == len(t):
                    continue
                s = t[a:b]
                if s in score:
                    contained[s] = max(contained[s], total_count[t])
    for s, m in contained.items():
        if m >= 0.9 * total_count[s]:
            drop.add(s)
    from kb.lexicon import glossary

    known = {z for terms in glossary().values() for z in terms}
    general = _general_frequency()
    rows = []
    keep = [t for t in score if t not in drop and len(t) >= min_chars]
    for t in sorted(keep, key=lambda t: -score[t])[:top]:
        split = query_words(t)
        rows.append({
            "term": t,
            "score": round(score[t], 2),
            "count": sum(counts[p][t] for p in counts),
            **{f"df:{p}": dfs[p][t] for p in PART_ORDER},
            "gwr_years": _compact_years(years.get(t, ())),
            "words": len(_segment(t)[0]) if _segment(t) else 0,
            "general": general.get(t, 0),
            "kb_split": "/".join(split) if len(split) > 1 else "",
            "in_glossary": "Y" if t in known else "",
        })
    return rows


def _general_frequency() -> dict[str, int]:
    """Word → frequency in jieba's general dictionary (high = everyday word, not a policy term)."""
    try:
        import jieba
    except ImportError:  # jieba is in the bench extra; without it the column stays 0
        return {}
    jieba.setLogLevel(60)
    jieba.initialize()
    return dict(jieba.dt.FREQ)


# --- abbreviations ------------------------------------------------------------------------

_INTRO = re.compile(r"[（(]?(?:以下)?简称[为]?[“\"]([^”\"]{2,12})[”\"]")
_QUOTED = re.compile(r"“([^“”，。、；]{2,10})”")
_NUMBERED = re.compile(r"[一二两三四五六七八九十双百千万]")


def abbreviations(corpus: Path) -> list[dict]:
    from kb.text import normalize

    found: dict[str, dict] = {}
    for doc in documents(corpus):
        text = normalize(doc.text)
        for m in _INTRO.finditer(text):
            abbr = m.group(1)
            row = found.setdefault(abbr, {"abbr": abbr, "how": "简称", "count": 0, "docs": set(), "context": ""})
            row["count"] += 1
            row["docs"].add(doc.part)
            if not row["context"] or doc.part == "gwr-recent":
                row["context"] = text[max(0, m.start() - 60) : m.end()].replace("\n", " ")
        if doc.part in ("gwr-recent", "cpc", "npc", "xwlb"):
            for m in _QUOTED.finditer(text):
                q = m.group(1)
                if not _NUMBERED.search(q) or len(q) > 8:
                    continue
                row = found.setdefault(q, {"abbr": q, "how": "quoted", "count": 0, "docs": set(), "context": ""})
                row["count"] += 1
                row["docs"].add(doc.part)
                if not row["context"]:
                    row["context"] = text[max(0, m.start() - 50) : m.end() + 30].replace("\n", " ")
    rows = sorted(found.values(), key=lambda r: (-r["count"], r["abbr"]))
    for r in rows:
        r["docs"] = ",".join(sorted(r["docs"]))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--top", type=int, default=4000, help="how many terms to list (best first)")
    ap.add_argument("--min-df", type=int, default=2, help="minimum number of documents a term occurs in")
    ap.add_argument("--min-chars", type=int, default=2, help="shortest term to list")
    ap.add_argument("--abbreviations", action="store_true", help="list abbreviations instead of terms")
    ap.add_argument("--out", type=Path, help="write the TSV here (default: stdout)")
    args = ap.parse_args(argv)
    rows = abbreviations(args.corpus) if args.abbreviations else mine(args.corpus, args.min_df, args.top, args.min_chars)
    if not rows:
        return 1
    cols = list(rows[0])
    lines = ["\t".join(cols)] + ["\t".join(str(r[c]) for c in cols) for r in rows]
    out = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(out, "utf-8")
    else:
        sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
