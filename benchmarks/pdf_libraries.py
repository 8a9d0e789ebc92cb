"""Compare PDF text-layer extractors on the real PDFs of ``shared/corpus/documents``.

    python benchmarks/pdf_libraries.py [--repeat 3] [--skip pdfminer.six]

For each candidate (pypdfium2, pypdf, pdfminer.six) and each PDF it prints:
seconds (median of ``--repeat`` runs; pdfminer runs once, it is slow), pages
per second, Han characters extracted, compatibility code points (Kangxi
radicals, CJK radicals supplement, compatibility ideographs) left in the text,
U+FFFD and private-use characters, and, for the five laws that also exist as
clean text in ``shared/corpus/laws``, the reading-order score: the share of
the reference text's 8-character Han shingles that occur in the extraction.
A reading-order fault (columns interleaved, a page number inside a word,
reversed runs) breaks shingles, so a lower score means more text out of order.

The candidates are imported here only; kb itself depends on one of them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The shared corpus sits beside the checkout; KB_DOCUMENTS points elsewhere (a worktree).
DOCS = Path(os.environ.get("KB_DOCUMENTS") or ROOT.parent / "shared" / "corpus" / "documents")
LAWS = DOCS.parent / "laws"

# PDF file name fragment → title of the clean reference text in shared/corpus/laws.
REFERENCES = {
    "安全生产法": "中华人民共和国安全生产法",
    "城镇燃气管理条例.pdf": "城镇燃气管理条例",
    "消防法": "中华人民共和国消防法",
    "特种设备安全法": "中华人民共和国特种设备安全法",
    "刑法": "中华人民共和国刑法",
}

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_COMPAT = re.compile(r"[\u2e80-\u2eff\u2f00-\u2fdf\uf900-\ufaff]")
_PUA = re.compile(r"[\ue000-\uf8ff]")


def pypdfium2_text(path: Path) -> tuple[list[str], int]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        out = []
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            out.append(tp.get_text_range())
            tp.close()
            page.close()
        return out, len(out)
    finally:
        pdf.close()


def pypdf_text(path: Path) -> tuple[list[str], int]:
    import pypdf

    reader = pypdf.PdfReader(str(path))
    out = [page.extract_text() or "" for page in reader.pages]
    return out, len(out)


def pdfminer_text(path: Path) -> tuple[list[str], int]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    out = []
    for layout in extract_pages(str(path)):
        out.append("".join(el.get_text() for el in layout if isinstance(el, LTTextContainer)))
    return out, len(out)


CANDIDATES = {"pypdfium2": pypdfium2_text, "pypdf": pypdf_text, "pdfminer.six": pdfminer_text}


def references() -> dict[str, str]:
    want = set(REFERENCES.values())
    found: dict[str, str] = {}
    for f in sorted(LAWS.glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            rec = json.loads(line)
            if rec.get("title") in want and rec["title"] not in found:
                found[rec["title"]] = rec["text"]
    return found


def han_only(text: str) -> str:
    return "".join(_HAN.findall(unicodedata.normalize("NFKC", text)))


def order_score(extracted: str, reference: str, k: int = 8) -> float:
    ref = han_only(reference)
    got = han_only(extracted)
    shingles = {got[i : i + k] for i in range(len(got) - k + 1)}
    total = max(1, len(ref) - k + 1)
    return sum(1 for i in range(len(ref) - k + 1) if ref[i : i + k] in shingles) / total


def main(argv=None) -> int:
    import logging

    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # it warns per glyph on some fonts
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip", action="append", default=[], help="a candidate to leave out")
    args = ap.parse_args(argv)
    if not DOCS.is_dir():
        print(f"{DOCS} is absent; nothing to measure")
        return 0
    refs = references()
    pdfs = sorted(DOCS.glob("*.pdf"))
    print(f"{'library':13} {'file':34} {'pages':>5} {'sec':>7} {'pages/s':>8} {'han':>7} {'compat':>6} "
          f"{'fffd':>4} {'pua':>4} {'order':>6}")
    totals: dict[str, list[float]] = {}
    for name, fn in CANDIDATES.items():
        if name in args.skip:
            continue
        for pdf in pdfs:
            runs = []
            pages_text: list[str] = []
            pages = 0
            repeat = 1 if name == "pdfminer.six" else args.repeat
            for _ in range(repeat):
                t0 = time.perf_counter()
                try:
                    pages_text, pages = fn(pdf)
                except Exception as e:  # a candidate that fails on a file is a finding, not a crash
                    print(f"{name:13} {pdf.name[:34]:34} failed: {type(e).__name__}: {e}")
                    break
                runs.append(time.perf_counter() - t0)
            if not runs:
                continue
            sec = statistics.median(runs)
            text = "\n".join(pages_text)
            score = ""
            for frag, title in REFERENCES.items():
                if frag in pdf.name and title in refs:
                    score = f"{order_score(text, refs[title]):.3f}"
            totals.setdefault(name, [0.0, 0])
            totals[name][0] += sec
            totals[name][1] += pages
            short = pdf.name.replace("nnzr-", "")[:34]
            print(f"{name:13} {short:34} {pages:5d} {sec:7.3f} {pages / sec if sec else 0:8.1f} "
                  f"{len(_HAN.findall(text)):7d} {len(_COMPAT.findall(text)):6d} {text.count(chr(0xFFFD)):4d} "
                  f"{len(_PUA.findall(text)):4d} {score:>6}")
    for name, (sec, pages) in totals.items():
        print(f"TOTAL {name}: {int(pages)} pages in {sec:.2f} s = {pages / sec:.1f} pages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
