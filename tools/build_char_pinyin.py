"""Write ``kb/data/char_pinyin.tsv``: each Han character's toneless pinyin readings, from pypinyin.

    python tools/build_char_pinyin.py

Searching uses the table for the pinyin of a typed word ("did you mean"),
so that a cold search does not import pypinyin, whose dictionaries take about
0.2 CPU-seconds to load. Indexing still uses pypinyin itself. One line per
character: the character, a tab, then its readings separated by commas, the
first being the one pypinyin gives the character alone (``lazy_pinyin``).
Only the CJK Unified Ideographs block and Extension A are written. Run again
after upgrading pypinyin; ``tests/test_lazy_loading.py`` checks that the
table agrees with the installed pypinyin.
"""

from __future__ import annotations

from pathlib import Path

from pypinyin import Style, lazy_pinyin, pinyin

OUT = Path(__file__).resolve().parent.parent / "kb" / "data" / "char_pinyin.tsv"
RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF))


def main() -> None:
    import pypinyin

    lines = [f"# toneless pinyin of each Han character, from pypinyin {pypinyin.__version__} "
             "(tools/build_char_pinyin.py); the first reading is the character's default"]
    for lo, hi in RANGES:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            first = lazy_pinyin(ch)[0]
            if first == ch:  # no reading known
                continue
            readings = [first] + [r for r in pinyin(ch, style=Style.NORMAL, heteronym=True)[0] if r != first]
            readings = list(dict.fromkeys(r.replace("ü", "v") for r in readings))
            lines.append(f"{ch}\t{','.join(readings)}")
    OUT.write_text("\n".join(lines) + "\n", "utf-8")
    print(f"{len(lines) - 1} characters written to {OUT}")


if __name__ == "__main__":
    main()
