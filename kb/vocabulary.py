"""Users' own vocabulary: where its files live, their formats, checking them, and what an index was built with.

A knowledge base reads users' vocabulary from the folders given to it
(``KnowledgeBase(lexicon=...)``, ``kb --lexicon DIR``), else from the folders
in ``$KB_LEXICON`` (separated like ``PATH``), else from a ``lexicon/`` folder
beside the index directory (``./lexicon`` for ``./index``). Files found there
are merged over kb's package vocabulary; each may be absent.

Formats (UTF-8; blank lines and lines starting with ``#`` are ignored):

``glossary.tsv``
    ``english phrase<TAB>中文词 中文词2 …``: an English phrase and the Chinese
    terms it means, most precise first. An entry for a phrase the package
    has replaces the package's.
``synonyms.txt``
    ``词甲 词乙 词丙``: a group of at least two terms (separated by spaces)
    that find each other.
``topics.json``
    ``{"topics": [{"slug": "new-quality-productivity", "en": "...", "zh": "...",
    "terms": ["新质生产力", ...], "aliases": ["..."]}]}``: topics tagged on
    passages whose text or section holds one of ``terms``; a slug the package
    has replaces the package's topic.
``words.txt``
    ``新质生产力`` or ``新质生产力 2000``: a segmentation word, optionally with a
    frequency (a positive whole number; higher keeps it whole more often).

When they take effect: glossary, synonyms and topic names on the next search
(no rebuild). Segmentation words change how text is split into words, so
documents indexed before must be indexed again: the manifest of each commit
records the words the index was built with, and the next ``index`` run
re-analyses, from the stored passages, every document whose text, title or
section holds an added or removed word (``IndexSummary.reanalysed``). Topic
tags are stored per passage: the next ``index`` run re-tags the documents
whose tags change (``IndexSummary.retagged``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterator

from .models import LexiconFile, LexiconProblem, LexiconReport
from .text import has_cjk

__all__ = ["default_folders", "parse_words", "check", "lexicon_state", "state_changes", "FOLDER_NAME", "ENV"]

FOLDER_NAME = "lexicon"
ENV = "KB_LEXICON"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def default_folders(index_path: str | os.PathLike) -> tuple[Path, ...]:
    """``$KB_LEXICON`` (separated by ``os.pathsep``), else the ``lexicon/`` folder beside the index."""
    env = os.environ.get(ENV)
    if env:
        return tuple(Path(p) for p in env.split(os.pathsep) if p)
    return (Path(index_path).absolute().parent / FOLDER_NAME,)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield n, line


def parse_words(text: str) -> Iterator[tuple[int, str, int | None, str]]:
    """(line, word, frequency or None, problem) for each entry of a ``words.txt``; ``word`` is "" on a problem."""
    for n, line in _lines(text):
        parts = line.split()
        word = parts[0]
        if len(parts) > 3:
            yield n, "", None, f"expected a word and at most a frequency and a tag, found {len(parts)} fields"
            continue
        if not any(ch.isalnum() for ch in word):
            yield n, "", None, f"{word!r} is not a word (no letter, digit or character)"
            continue
        freq = None
        if len(parts) > 1:
            if not parts[1].isdigit() or int(parts[1]) < 1:
                yield n, "", None, f"the frequency {parts[1]!r} is not a positive whole number"
                continue
            freq = int(parts[1])
        yield n, word, freq, ""


def _check_glossary(text: str) -> tuple[int, list[tuple[int, str]]]:
    entries, problems = 0, []
    for n, line in _lines(text):
        en, tab, zh = line.partition("\t")
        if not tab:
            problems.append((n, "expected an English phrase, a tab, then Chinese terms; found no tab"))
        elif not en.strip():
            problems.append((n, "the English phrase before the tab is empty"))
        elif has_cjk(en):
            problems.append((n, f"the English side {en.strip()!r} holds Chinese characters (are the columns swapped?)"))
        elif not zh.split():
            problems.append((n, f"no Chinese terms after the tab for {en.strip()!r}"))
        else:
            entries += 1
    return entries, problems


def _check_synonyms(text: str) -> tuple[int, list[tuple[int, str]]]:
    entries, problems = 0, []
    for n, line in _lines(text):
        group = line.split()
        if len(set(group)) < 2:
            problems.append((n, "a synonym group needs at least two different terms, separated by spaces"))
        else:
            entries += 1
    return entries, problems


def _check_words(text: str) -> tuple[int, list[tuple[int, str]]]:
    entries, problems = 0, []
    for n, word, _freq, problem in parse_words(text):
        if problem:
            problems.append((n, problem))
        else:
            entries += 1
    return entries, problems


def _element_lines(text: str, key: str) -> list[int]:
    """The line on which each element of the top-level array ``key`` starts."""
    m = re.search(rf'"{re.escape(key)}"\s*:\s*\[', text)
    if not m:
        return []
    dec = json.JSONDecoder()
    pos = m.end()
    out = []
    while pos < len(text):
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        out.append(text.count("\n", 0, pos) + 1)
        try:
            _obj, pos = dec.raw_decode(text, pos)
        except ValueError:
            break
    return out


def _check_topics(text: str) -> tuple[int, list[tuple[int, str]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        return 0, [(e.lineno, f"not valid JSON: {e.msg} (column {e.colno})")]
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        return 0, [(1, 'expected an object with a "topics" list: {"topics": [{"slug": …}, …]}')]
    lines = _element_lines(text, "topics")
    entries, problems, seen = 0, [], set()
    for i, t in enumerate(data["topics"]):
        n = lines[i] if i < len(lines) else 1
        if not isinstance(t, dict):
            problems.append((n, "a topic must be an object with slug, en, zh and terms"))
            continue
        missing = [k for k in ("slug", "en", "zh", "terms") if k not in t]
        if missing:
            problems.append((n, f"the topic {t.get('slug', '?')!r} lacks {', '.join(missing)}"))
            continue
        slug = t["slug"]
        if not isinstance(slug, str) or not _SLUG.match(slug):
            problems.append((n, f"the slug {slug!r} must be lower-case letters, digits and hyphens"))
        elif slug in seen:
            problems.append((n, f"the slug {slug!r} appears twice in this file"))
        elif not all(isinstance(t[k], str) and t[k].strip() for k in ("en", "zh")):
            problems.append((n, f"the topic {slug!r} needs non-empty en and zh names"))
        elif not isinstance(t["terms"], list) or not t["terms"] or not all(
                isinstance(x, str) and x.strip() for x in t["terms"]):
            problems.append((n, f"the topic {slug!r} needs a non-empty list of terms (strings)"))
        elif not isinstance(t.get("aliases", []), list) or not all(isinstance(x, str) for x in t.get("aliases", [])):
            problems.append((n, f"the aliases of {slug!r} must be a list of strings"))
        else:
            entries += 1
        if isinstance(slug, str):
            seen.add(slug)
    return entries, problems


_CHECKS = {"glossary.tsv": ("glossary", _check_glossary), "synonyms.txt": ("synonyms", _check_synonyms),
           "topics.json": ("topics", _check_topics), "words.txt": ("words", _check_words)}


def check(lexicon, pending_words: tuple[str, ...] = ()) -> LexiconReport:
    """Check every user file of ``lexicon`` (a ``kb.lexicon.Lexicon``): entries found and problems with line numbers."""
    files, problems = [], []
    for name, (kind, fn) in _CHECKS.items():
        for path in lexicon.user_files(name):
            try:
                text = path.read_bytes().decode("utf-8-sig")
            except (OSError, UnicodeDecodeError) as e:
                reason = "not UTF-8 text" if isinstance(e, UnicodeDecodeError) else f"cannot read it: {e.strerror}"
                problems.append(LexiconProblem(str(path), 0, reason))
                files.append(LexiconFile(str(path), kind, 0))
                continue
            entries, found = fn(text)
            files.append(LexiconFile(str(path), kind, entries))
            problems.extend(LexiconProblem(str(path), n, msg) for n, msg in found)
    return LexiconReport(tuple(str(f) for f in lexicon.folders), tuple(files), tuple(problems), pending_words)


# --- what an index was built with ----------------------------------------------------------------------


def lexicon_state(lexicon) -> dict[str, Any]:
    """What a commit records of the vocabulary: users' segmentation words, and each topic's fingerprint and terms."""
    from .text import normalize

    rules = lexicon.senses() if hasattr(lexicon, "senses") else {}
    topics = {}
    for t in lexicon.topics():
        # A topic's sense rules (senses.tsv) decide its tags as much as its terms do.
        terms = {normalize(x).strip() for x in t.terms}
        related = sorted(repr((k, v)) for k, v in rules.items() if k[0] in terms and k[1] in (t.slug, "*"))
        fp = hashlib.sha1((repr(t) + "".join(related)).encode("utf-8")).hexdigest()[:16]
        topics[t.slug] = [fp, list(t.terms)]
    return {"words": [[w, f] for w, f in lexicon.words()], "topics": topics}


def state_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(segmentation words added, removed or re-weighted; terms of changed topics; slugs of changed topics).

    ``old`` None or without ``topics`` (an index from before kb recorded them)
    counts as built with no users' words and the present topics.
    """
    old = old or {}
    before = {w: f for w, f in old.get("words", [])}
    after = {w: f for w, f in new.get("words", [])}
    words = {w for w in before.keys() | after.keys() if before.get(w, 0) != after.get(w, 0)}
    if "topics" not in old:
        return words, set(), set()
    slugs, terms = set(), set()
    for slug in old["topics"].keys() | new["topics"].keys():
        a, b = old["topics"].get(slug), new["topics"].get(slug)
        if a is None or b is None or a[0] != b[0]:
            slugs.add(slug)
            for side in (a, b):
                if side:
                    terms.update(side[1])
    return words, terms, slugs


def pending_words(old: dict[str, Any] | None, lexicon) -> tuple[str, ...]:
    """Segmentation words added or removed since the index recorded ``old``, sorted."""
    words, _terms, _slugs = state_changes(old, {"words": [[w, f] for w, f in lexicon.words()], "topics": {}})
    return tuple(sorted(words))
