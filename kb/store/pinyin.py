"""The pinyin map of a commit, written as the previous map plus what the commit adds.

The map (``kb.lexicon.PinyinMap``'s file: one ``pinyin<TAB>word,word`` line
per reading, read line by line with a later line of a reading replacing an
earlier one) only ever gains words. A commit that adds words copies the
previous commit's file and appends one line per reading that gained a word,
holding every word of that reading; a commit that adds none writes no map
(readers use the newest map not newer than their commit). When appended
lines make up a fifth of the file, it is written out whole and sorted again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from .atomic import fsync_dir

__all__ = ["write_map", "read_lines"]

REWRITE_SHARE = 0.2  # appended lines above this share of the readings: the file is written whole


def read_lines(path: Path | None) -> tuple[dict[str, str], int]:
    """(reading → its words as written, lines) of a map file; empty when there is none."""
    if path is None:
        return {}, 0
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return {}, 0
    entries: dict[str, str] = {}
    lines = 0
    for line in text.split("\n"):
        key, _, words = line.partition("\t")
        if words:
            entries[key] = words
            lines += 1
    return entries, lines


def write_map(target: Path, base: Path | None, new: Mapping[str, set[str]]) -> bool:
    """Write the map ``target``: the map ``base`` plus the words of ``new`` (reading → words).

    Returns False (and writes nothing) when ``new`` holds no word ``base``
    lacks. The file is replaced atomically.
    """
    if not new:
        return False
    entries, lines = read_lines(base)
    changed: dict[str, str] = {}
    for key, words in new.items():
        old = entries.get(key)
        have = set(old.split(",")) if old else set()
        if not words <= have:
            changed[key] = ",".join(sorted(have | words))
    if not changed:
        return False
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    duplicates = lines - len(entries) + len(changed.keys() & entries.keys())
    try:
        if base is None or duplicates > REWRITE_SHARE * max(1, len(entries)):
            entries.update(changed)
            text = "".join(f"{k}\t{entries[k]}\n" for k in sorted(entries))
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        else:
            with open(base, "rb") as src, open(tmp, "wb") as f:
                data = src.read()
                f.write(data)
                if data and not data.endswith(b"\n"):
                    f.write(b"\n")
                f.write("".join(f"{k}\t{v}\n" for k, v in changed.items()).encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(target.parent)
    return True
