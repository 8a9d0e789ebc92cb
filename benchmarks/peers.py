"""The two peer systems of ``benchmarks/relevance.py``: bm25s + jieba and Whoosh + jieba.

Both index the passage text only (no title, no section), exactly the passages
kb indexes (read with kb's own ingest and chunking, see ``relevance.passages``),
so that passage ids are comparable across the three systems.

* ``Bm25sJieba``: ``bm25s.BM25()`` with its defaults (Lucene BM25, k1=1.5,
  b=0.75). Passages and queries are cut with ``jieba.lcut(text)`` in jieba's
  default *accurate* mode (``cut_all=False``, ``HMM=True``), lower-cased, and
  tokens without a letter or digit (spaces, punctuation) are dropped; no stop
  words. Query tokens absent from the vocabulary are dropped; a query left
  with no token, or a passage scoring 0, is no hit.
* ``WhooshJieba``: the Whoosh + jieba baseline of ``benchmarks/bench.py``
  (its schema: ``jieba.analyse.ChineseAnalyzer()`` on a stored TEXT field),
  one default writer, ``QueryParser("text")`` with its default AND grouping
  plus ``PlusMinusPlugin`` as in bench.py, Whoosh's default BM25F scoring.

Each class has ``build(passages, directory)`` (passages: iterable of
``(id, text)``) and ``open(directory)``; the opened object's
``search(query, k)`` returns ``[(passage_id, score), ...]`` best first.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Iterable

_WORDLIKE = re.compile(r"\w")


def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def jieba_tokens(text: str) -> list[str]:
    """``jieba.lcut`` (accurate mode), lower-cased, without whitespace and punctuation tokens."""
    return [t for t in (w.strip().lower() for w in _jieba().lcut(text)) if t and _WORDLIKE.search(t)]


class Bm25sJieba:
    name = "bm25s+jieba"

    def __init__(self, retriever, ids: list[str]):
        self._r = retriever
        self._ids = ids
        self._vocab = retriever.vocab_dict

    @classmethod
    def build(cls, passages: Iterable[tuple[str, str]], directory: Path) -> None:
        import bm25s

        ids, tokens = [], []
        for pid, text in passages:
            ids.append(pid)
            tokens.append(jieba_tokens(text))
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        directory.mkdir(parents=True, exist_ok=True)
        retriever.save(str(directory), show_progress=False)
        (directory / "ids.json").write_text(json.dumps(ids, ensure_ascii=False), "utf-8")

    @classmethod
    def open(cls, directory: Path) -> "Bm25sJieba":
        import bm25s

        retriever = bm25s.BM25.load(str(directory), show_progress=False)
        ids = json.loads((directory / "ids.json").read_text("utf-8"))
        return cls(retriever, ids)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        toks = [t for t in jieba_tokens(query) if t in self._vocab]
        if not toks:
            return []
        docs, scores = self._r.retrieve([toks], k=k, show_progress=False, n_threads=1)
        return [(self._ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


class WhooshJieba:
    name = "whoosh+jieba"

    def __init__(self, ix):
        from whoosh.qparser import PlusMinusPlugin, QueryParser

        self._ix = ix
        self._parser = QueryParser("text", ix.schema)
        self._parser.add_plugin(PlusMinusPlugin())

    @classmethod
    def build(cls, passages: Iterable[tuple[str, str]], directory: Path) -> None:
        from whoosh import index

        from bench import _baseline_schema  # the same schema as bench.py's baseline

        _jieba()
        directory.mkdir(parents=True, exist_ok=True)
        ix = index.create_in(str(directory), _baseline_schema())
        writer = ix.writer()
        for pid, text in passages:
            writer.add_document(id=pid, title="", text=text)
        writer.commit()
        ix.close()

    @classmethod
    def open(cls, directory: Path) -> "WhooshJieba":
        from whoosh import index

        _jieba()
        return cls(index.open_dir(str(directory)))

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        with self._ix.searcher() as s:
            return [(h["id"], float(h.score)) for h in s.search(self._parser.parse(query), limit=k)]
