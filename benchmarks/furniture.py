"""Count page furniture and misplaced structure in the passages of saved report pages.

    python benchmarks/furniture.py [FOLDER]

FOLDER (default ``tests/data/pages``) holds saved pages and ``truth.json``, hand
labels written from reading the pages: furniture strings that must be in no
passage, photo captions that must be neither a passage nor a section heading,
salutations and set phrases that must be in no section path, body sentences
that must be indexed, the section each of some passages belongs under, and the
title, date and source. The script reads each page with the kb it imports
(run it with another checkout first on ``PYTHONPATH`` for a before/after
comparison) and prints one line per page and a total:

    furniture  passages that contain a furniture string
    captions   passages that contain a caption
    cap-head   section labels that are (or contain) a caption
    bad-head   section labels that are a salutation or set phrase
    body       body sentences found in some passage / labelled
    sections   passages filed under the labelled section / labelled
    fields     title, date and source right / labelled
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else ROOT / "tests" / "data" / "pages"
    truth = json.loads((folder / "truth.json").read_text("utf-8"))
    import kb
    from kb.chunking import chunk
    from kb.readers import Source, reader_for

    print(f"kb from {Path(kb.__file__).resolve().parent}")
    head = f"{'page':30} {'passages':>8} {'furniture':>9} {'captions':>8} {'cap-head':>8} {'bad-head':>8} {'body':>7} {'sections':>8} {'fields':>6}"
    print(head)
    tot = dict(passages=0, furniture=0, captions=0, caphead=0, badhead=0, body=0, body_n=0, sec=0, sec_n=0, fld=0, fld_n=0)
    for name, t in truth.items():
        if name.startswith("_"):
            continue
        path = folder / name
        reader = reader_for(path)
        docs = []
        why = ""
        if reader is None:
            why = "unsupported"
        else:
            res = reader(Source(path=path, rel=name, data=path.read_bytes()))
            docs = res.documents
            if not docs:
                why = "; ".join(s.reason for s in res.skipped)
        passages = [p for d in docs for p in chunk(d)]
        furniture = sum(1 for p in passages if any(f in p.text for f in t["furniture"]))
        captions = sum(1 for p in passages if any(c in p.text for c in t["captions"]))
        labels = {lab for p in passages for lab in p.section.split(" > ")}
        caphead = sum(1 for lab in labels if any(c in lab or (lab and lab in c and len(lab) >= 6) for c in t["captions"]))
        badhead = sum(1 for lab in labels if any(b in lab for b in t["not_headings"]))
        body = sum(1 for b in t["body"] if any(b in p.text for p in passages))
        sec_ok = 0
        for frag, want in t["sections"].items():
            hits = [p for p in passages if frag in p.text]
            if hits and all(want in p.section for p in hits):
                sec_ok += 1
        for frag, wrong in t.get("not_in_section", {}).items():
            hits = [p for p in passages if frag in p.text]
            if hits and not any(wrong in p.section for p in hits):
                sec_ok += 1
        n_sec = len(t["sections"]) + len(t.get("not_in_section", {}))
        doc = docs[0] if docs else None
        fld_n = fld = 0
        for key in ("title", "date", "source"):
            if key in t:
                fld_n += 1
                fld += int(doc is not None and getattr(doc, key) == t[key])
        row = dict(passages=len(passages), furniture=furniture, captions=captions, caphead=caphead, badhead=badhead,
                   body=body, body_n=len(t["body"]), sec=sec_ok, sec_n=n_sec, fld=fld, fld_n=fld_n)
        for k, v in row.items():
            tot[k] += v
        print(f"{name[:30]:30} {len(passages):8d} {furniture:9d} {captions:8d} {caphead:8d} {badhead:8d} "
              f"{body:3d}/{len(t['body']):<3d} {sec_ok:4d}/{n_sec:<3d} {fld:2d}/{fld_n:<3d}" + (f"  skipped: {why}" if why else ""))
        if "-v" in sys.argv:
            for p in passages:
                print(f"    [{p.section[:60]}] {p.text[:50]!r}")
            if doc is not None:
                print(f"    title={doc.title!r} date={doc.date!r} source={doc.source!r}")
    print(f"{'TOTAL':30} {tot['passages']:8d} {tot['furniture']:9d} {tot['captions']:8d} {tot['caphead']:8d} "
          f"{tot['badhead']:8d} {tot['body']:3d}/{tot['body_n']:<3d} {tot['sec']:4d}/{tot['sec_n']:<3d} {tot['fld']:2d}/{tot['fld_n']:<3d}")
    return 0


if __name__ == "__main__":
    sys.exit(main([a for a in sys.argv[1:] if a != "-v"]))
