"""``KnowledgeBase``: the one object tools embed and the CLI calls.

Searching is safe from several threads at once: each thread keeps its own
Whoosh searcher, reopened when the index changes, and reads that a concurrent
rebuild interrupts are retried. Writing (``index``) takes an inter-process
lock; call it from one thread at a time.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterable


from . import query as q
from .errors import IndexCorruptError, IndexNotFoundError, PassageNotFoundError, QueryError
from .index import FORMAT_VERSION, IndexDir, whoosh_errors
from .indexer import Progress, run_index
from . import lexicon
from .lexicon import LazyPinyinMap, PinyinMap
from .models import Hit, IndexSummary, Stats, TopicCount
from .recall import RecallFile
from .search import Verbatim, date_docs, date_filter, make_hit, new_weighting, run_search, suggest

__all__ = ["KnowledgeBase", "SearchResult", "default_index_path"]

DEFAULT_INDEX = "index"
MAX_LIMIT = 10_000


def default_index_path() -> Path:
    """``$KB_INDEX`` or ``./index``."""
    return Path(os.environ.get("KB_INDEX") or DEFAULT_INDEX)


class SearchResult(tuple):
    """The hits of one search (a tuple of ``Hit``), with facts about the search.

    ``query``: the query the hits answer; ``total``: how many passages match in
    all; ``expanded``: the ``Expansion`` terms the query was widened to;
    ``suggestion``: a "did you mean" query, or ""; ``corrected``: True when the
    original query found nothing and these are the suggestion's hits.
    """

    query: str
    total: int
    expanded: tuple
    suggestion: str
    corrected: bool

    def __new__(cls, hits: Iterable[Hit], *, query: str, total: int, expanded: tuple = (), suggestion: str = "",
                corrected: bool = False):
        obj = super().__new__(cls, tuple(hits))
        obj.query = query
        obj.total = total
        obj.expanded = expanded
        obj.suggestion = suggestion
        obj.corrected = corrected
        return obj

    @property
    def hits(self) -> tuple[Hit, ...]:
        return tuple(self)


def _doc_of(stored: dict) -> str:
    return stored.get("id", "").rsplit("#", 1)[0]


class _DocCache(dict):
    """Document records (title, date, source, path, metadata) looked up once per search."""

    def __init__(self, searcher):
        super().__init__()
        self.searcher = searcher

    def __missing__(self, doc_id: str) -> dict:
        rec = self.searcher.document(docrec=doc_id) if doc_id else None
        value = (rec or {}).get("doc") or {}
        self[doc_id] = value
        return value


class KnowledgeBase:
    """A searchable knowledge base stored in one index directory.

    >>> kb = KnowledgeBase("index")
    >>> kb.index(["seeds"])                       # doctest: +SKIP
    >>> for hit in kb.search("户籍", limit=3):     # doctest: +SKIP
    ...     print(hit.id, hit.section)
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_index_path()
        self._dir = IndexDir(self.path)
        self._lock = threading.Lock()
        self._ix = None
        self._gen = None
        self._recall = None
        self._local = threading.local()
        self._searchers: list = []
        self._pinyin = None

    # -- lifecycle ---------------------------------------------------------
    def exists(self) -> bool:
        """True when an index has been built at ``path``."""
        return self._dir.exists()

    def _index(self):
        """The open Whoosh index, reopened when another process published a new generation."""
        gen = self._dir.current_generation()
        with self._lock:
            if self._ix is None or gen != self._gen:
                if self._ix is not None:
                    self._ix.close()
                self._ix = self._dir.open(gen)
                self._gen = gen
                self._recall = None
            return self._ix

    def _searcher(self):
        """This thread's searcher, kept open across searches and refreshed when the index changes.

        Opening a searcher reads every segment's tables (about 50 ms on the
        full corpus), so it is paid once, not per search.
        """
        ix = self._index()
        cached = getattr(self._local, "searcher", None)
        if cached is not None and cached[0] is ix:
            s = cached[1]
            if s.up_to_date():
                return s
            fresh = ix.searcher(weighting=new_weighting())
            with self._lock:
                if s in self._searchers:
                    self._searchers.remove(s)
            s.close()  # only this thread used it
        else:
            fresh = ix.searcher(weighting=new_weighting())
        with self._lock:
            self._searchers.append(fresh)
        self._local.searcher = (ix, fresh)
        return fresh

    def _pinyin_map(self) -> LazyPinyinMap:
        """The generation's pinyin map, loaded on first use and kept until the file changes."""
        path = self._gen / PinyinMap.FILE
        try:
            stamp = (self._gen, path.stat().st_mtime_ns)
        except OSError:
            stamp = (self._gen, None)
        with self._lock:
            if self._pinyin is None or self._pinyin[0] != stamp:
                self._pinyin = (stamp, LazyPinyinMap(self._gen))
            return self._pinyin[1]

    def _recall_file(self, searcher) -> RecallFile:
        """The verbatim-recall file of the generation ``searcher`` reads, mapped on first use."""
        generation = searcher.reader().generation()
        with self._lock:
            key = (self._gen, generation)
            if self._recall is None or self._recall[0] != key:
                if self._recall is not None:
                    self._recall[1].close()
                self._recall = (key, RecallFile(self._gen, generation))
            return self._recall[1]

    def close(self) -> None:
        with self._lock:
            if self._ix is not None:
                self._ix.close()
                self._ix = None
            if self._recall is not None:
                self._recall[1].close()
                self._recall = None
            for searcher in self._searchers:
                searcher.close()
            self._searchers.clear()
            self._local = threading.local()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -----------------------------------------------------------
    def index(self, paths: Iterable[str | os.PathLike], *, rebuild: bool = False,
              progress: Progress | None = None, lock_timeout: float = 30.0) -> IndexSummary:
        """Index files and directories (incrementally unless ``rebuild``); returns what was done.

        Raises ``SourceNotFoundError`` for a missing path, ``IndexBusyError`` when
        another process holds the write lock past ``lock_timeout`` seconds, and
        ``IndexVersionError`` when the existing index needs ``rebuild=True``.
        """
        summary = run_index(self._dir, list(paths), rebuild=rebuild, progress=progress, lock_timeout=lock_timeout)
        return summary

    # -- reading -----------------------------------------------------------
    def _reading(self, fn):
        """Run a read, retrying when a concurrent ``index --rebuild`` switched generations under it."""
        for attempt in range(3):
            try:
                return fn()
            except (IndexCorruptError, IndexNotFoundError):
                if attempt == 2 or not self._dir.exists():
                    raise
                self._drop_cache()
                time.sleep(0.05 * (attempt + 1))
            except RecursionError:
                raise QueryError("The query is too complex to run; use fewer words or operators.") from None
        raise AssertionError("unreachable")

    def _drop_cache(self) -> None:
        with self._lock:
            self._ix = None
            self._gen = None
            self._recall = None
            self._local = threading.local()

    def search(self, query: str, *, limit: int = 10, section: str | None = None, doc: str | None = None,
               topic: str | None = None, since: str | None = None, until: str | None = None,
               context: int = 0, expand: bool = True, correct: bool = False) -> SearchResult:
        """Passages matching ``query``, best first.

        ``section`` and ``doc`` restrict to sections / documents whose path or
        title contains the text (or whose id equals it); ``topic`` to a topic
        slug (see ``topics()``); ``since``/``until`` are ISO dates (partial
        dates allowed). With ``expand`` (the default) English, pinyin and
        synonyms widen the query (see ``SearchResult.expanded``). With
        ``correct``, a query that finds nothing is retried with its
        "did you mean" suggestion (``SearchResult.corrected`` is then True).

        Raises ``QueryError`` for a query that cannot be parsed and
        ``IndexNotFoundError`` when there is no index.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise QueryError("--limit must be a positive whole number.")
        if context < 0:
            raise QueryError("--context must be zero or more.")
        limit = min(limit, MAX_LIMIT)
        node = q.parse(query)
        extra = []
        if section:
            extra.append(q.Filter("section", section))
        if doc:
            extra.append(q.Filter("doc", doc))
        if topic:
            extra.append(q.Filter("topic", topic))
        if extra:
            node = q.And((node, *extra))
        filt = date_filter(since, until)
        return self._reading(lambda: self._search(query, node, limit, filt, context, expand, correct,
                                                  dict(section=section, doc=doc, topic=topic, since=since, until=until)))

    def _search(self, query: str, node, limit: int, filt, context: int, expand: bool, correct: bool,
                filters: dict) -> SearchResult:
        with whoosh_errors(self.path):
            s = self._searcher()
            pinyin = self._pinyin_map()
            verbatim = Verbatim(s, self._recall_file(s))
            allowed = date_docs(s, filt) if filt else None
            total, rows, compiled = run_search(s, node, limit=limit, filter_query=allowed, expand=expand,
                                               pinyin_map=pinyin, verbatim=verbatim)
            suggestion = ""
            if expand and (total == 0 or compiled.untranslated):
                suggestion = suggest(s, query, node, compiled, pinyin, verbatim)
            docs = _DocCache(s)
            hits = []
            for stored, score in rows:
                ctx = self._context(s, docs, stored, context, compiled.needles) if context else ()
                hits.append(make_hit(stored, docs[_doc_of(stored)], score, compiled.needles, ctx))
        result = SearchResult(hits, query=query, total=total, expanded=tuple(compiled.expansions), suggestion=suggestion)
        if correct and total == 0 and suggestion:
            fixed = self.search(suggestion, limit=limit, context=context, expand=expand, correct=False, **filters)
            return SearchResult(fixed, query=suggestion, total=fixed.total, expanded=fixed.expanded,
                                suggestion=suggestion, corrected=True)
        return result

    def topics(self) -> tuple[TopicCount, ...]:
        """Every topic of the taxonomy with the number of passages tagged with it."""
        return self._reading(self._topics)

    def _topics(self) -> tuple[TopicCount, ...]:
        with whoosh_errors(self.path):
            s = self._searcher()
            return tuple(
                TopicCount(t.slug, t.en, t.zh, s.doc_frequency("topics", t.slug)) for t in lexicon.topics()
            )

    def _context(self, searcher, docs: "_DocCache", stored: dict, n: int, needles) -> tuple[Hit, ...]:
        """Up to ``n`` passages on each side of ``stored``, in document order."""
        pid = stored.get("id", "")
        doc_id = pid.rsplit("#", 1)[0]
        order = docs[doc_id].get("passages") or []
        try:
            i = order.index(pid)
        except ValueError:
            return ()
        out = []
        for other in order[max(0, i - n) : i] + order[i + 1 : i + 1 + n]:
            f = searcher.document(id=other)
            if f is not None:
                out.append(make_hit(f, docs[doc_id], 0.0, needles))
        return tuple(out)

    def get(self, passage_id: str, *, context: int = 0) -> Hit:
        """The passage with this id (and ``context`` neighbours on each side)."""
        return self._reading(lambda: self._get(passage_id, context))

    def _get(self, passage_id: str, context: int) -> Hit:
        with whoosh_errors(self.path):
            s = self._searcher()
            stored = s.document(id=passage_id) if passage_id else None
            if stored is None:
                raise PassageNotFoundError(
                    f"No passage has id {passage_id!r}; ids look like <doc_id>#<paragraph>, as printed by `kb search`."
                )
            docs = _DocCache(s)
            ctx = self._context(s, docs, stored, context, []) if context else ()
            return make_hit(stored, docs[_doc_of(stored)], 0.0, [], ctx)

    def stats(self) -> Stats:
        """Counts and provenance of the index."""
        return self._reading(self._stats)

    def _stats(self) -> Stats:
        with whoosh_errors(self.path):
            s = self._searcher()
            manifest = self._dir.read_manifest(self._gen, s.reader().generation())
            documents = sum(len(r.get("docs", ())) for r in manifest.files.values())
            passages = s.doc_count() - documents  # one record per document besides its passages
        return Stats(
            documents=documents,
            passages=passages,
            files=len(manifest.files),
            index_path=str(self.path),
            size_bytes=self._dir.size_bytes(),
            format=FORMAT_VERSION,
            sources=tuple(sorted(manifest.files)),
            last_indexed=manifest.updated,
        )

    def require(self) -> None:
        """Raise ``IndexNotFoundError`` unless an index exists."""
        if not self.exists():
            raise IndexNotFoundError(f"No index at {self.path}; run `kb index PATH` to build one (or set --index / KB_INDEX).")
