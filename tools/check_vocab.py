"""Check that the Chinese vocabulary in kb's data files occurs in the shared corpus.

Usage (from the worktree, in its venv)::

    python tools/check_vocab.py                 # every data file, a summary per file
    python tools/check_vocab.py --missing       # also list the terms not found
    python tools/check_vocab.py --terms 以旧换新 低空经济   # look terms up

Checked: the Chinese terms of ``kb/data/glossary.tsv``, the abbreviations and
full forms of ``kb/data/abbreviations.tsv`` (full forms listed under a
``# not in the corpus`` comment are reported separately), the words of
``kb/data/policy_terms.txt`` and ``kb/data/synonyms.txt``. The corpus is
normalised as kb normalises it (traditional → simplified, full-width →
half-width), so a term counts as found where kb's verbatim search would find it.
The bundled seed article is searched too and reported separately. ``--terms``
gives the number of documents per corpus part. The exit status is 1 when a
glossary term or an abbreviation form (outside the declared block) is found
nowhere.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import DEFAULT_CORPUS, documents  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "kb" / "data"
PARTS = ("gwr-recent", "gwr-older", "cpc", "npc", "xwlb", "laws", "seed")


class Corpus:
    """The normalised corpus, one string per part with documents separated by a control character."""

    SEP = "\x00"

    def __init__(self, root: Path):
        from kb.text import normalize

        texts: dict[str, list[str]] = defaultdict(list)
        for doc in documents(root):
            texts[doc.part].append(normalize(doc.title + "\n" + doc.text))
        # The bundled seed article is reported as its own part: the first glossary came from it.
        for f in sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt")):
            texts["seed"].append(normalize(f.read_text("utf-8")))
        self.parts = {p: self.SEP + self.SEP.join(v) + self.SEP for p, v in texts.items()}

    def doc_frequency(self, term: str) -> dict[str, int]:
        """Documents per corpus part that contain ``term`` (already normalised)."""
        out = {}
        for part, text in self.parts.items():
            n, i = 0, text.find(term)
            while i >= 0:
                n += 1
                end = text.find(self.SEP, i)  # skip to the next document
                i = text.find(term, end)
            if n:
                out[part] = n
        return out


def glossary_terms() -> list[tuple[str, str]]:
    out = []
    for line in (DATA / "glossary.tsv").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            en, _, zh = line.partition("\t")
            out.extend((en, t) for t in zh.split())
    return out


def abbreviation_terms() -> tuple[list[tuple[str, str]], set[str]]:
    """(abbreviation, term) for every abbreviation and full form, and the forms declared absent from the corpus."""
    out, declared_absent = [], set()
    absent_block = False
    path = DATA / "abbreviations.tsv"
    for line in (path.read_text("utf-8") if path.exists() else "").splitlines():
        if line.startswith("#"):
            absent_block = absent_block or bool(re.match(r"#\s*---.*not in the corpus", line))
            continue
        if not line.strip():
            continue
        cols = [c.strip() for c in line.split("\t") if c.strip()]
        for c in cols:
            out.append((cols[0], c))
            if absent_block:
                declared_absent.add(c)
    return out, declared_absent


def word_list(name: str) -> list[str]:
    out = []
    for line in (DATA / name).read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.extend(line.split()[:1] if name == "policy_terms.txt" else line.split())
    return out


def main(argv=None) -> int:
    from kb.text import normalize

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--missing", action="store_true", help="list the terms not found")
    ap.add_argument("--terms", nargs="+", help="only look these terms up")
    args = ap.parse_args(argv)
    corpus = Corpus(args.corpus)
    if args.terms:
        for t in args.terms:
            df = corpus.doc_frequency(normalize(t))
            print(t, " ".join(f"{p}:{df[p]}" for p in PARTS if p in df) or "NOT FOUND")
        return 0
    abbr, declared_absent = abbreviation_terms()
    checks = {
        "glossary.tsv": glossary_terms(),
        "abbreviations.tsv": abbr,
        "policy_terms.txt": [("", t) for t in word_list("policy_terms.txt")],
        "synonyms.txt": [("", t) for t in word_list("synonyms.txt")],
    }
    status = 0
    for name, pairs in checks.items():
        terms = sorted({t for _k, t in pairs})
        found = {t: corpus.doc_frequency(normalize(t)) for t in terms}
        in_corpus = {t for t in terms if set(found[t]) - {"seed"}}
        seed_only = [t for t in terms if t not in in_corpus and found[t]]
        missing = [t for t in terms if not found[t]]
        undeclared = [t for t in missing if t not in declared_absent]
        gwr = sum(1 for t in terms if found[t].get("gwr-recent"))
        print(f"{name}: {len(terms)} distinct Chinese terms, {len(in_corpus)} occur in the corpus "
              f"({gwr} in the 2015-2025 government work reports), {len(seed_only)} only in the seed article, "
              f"{len(missing)} in neither"
              + (f" ({len(missing) - len(undeclared)} declared absent)" if name == "abbreviations.tsv" else ""))
        if args.missing:
            for t in seed_only + missing:
                keys = sorted({k for k, x in pairs if x == t and k})
                print(f"  {'seed only' if t in seed_only else 'missing'}: {t}" + (f"  ({', '.join(keys)[:80]})" if keys else "")
                      + ("  [declared absent]" if t in declared_absent else ""))
        # The glossary and abbreviations must be corpus-grounded; the older word lists are only reported.
        if undeclared and name in ("glossary.tsv", "abbreviations.tsv"):
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
