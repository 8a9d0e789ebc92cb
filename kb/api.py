"""``KnowledgeBase``: the one object every front end (CLI, HTTP, MCP) and embedding program calls.

Searching is safe from several threads at once: each search borrows a reader
of the live commit from a pool (``kb.searcher.ReaderPool``), readers of
replaced commits are closed, and reads that a concurrent rebuild interrupts
are retried. Writing (``index``) takes an inter-process lock; call it from
one thread at a time.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterable

from . import config
from .errors import DocumentNotFoundError, IndexCorruptError, IndexNotFoundError, PassageNotFoundError, QueryError
from .models import DocumentInfo, Hit, IndexSummary, OutlineEntry, SearchResult, Stats, TopicCount
from .store import FORMAT_VERSION, IndexStore

__all__ = ["KnowledgeBase", "default_index_path"]

DEFAULT_INDEX = "index"


def default_index_path() -> Path:
    """``$KB_INDEX`` or ``./index``."""
    return Path(os.environ.get("KB_INDEX") or DEFAULT_INDEX)


class KnowledgeBase:
    """A searchable knowledge base stored in one index directory.

    >>> kb = KnowledgeBase("index")
    >>> kb.index(["seeds"])                       # doctest: +SKIP
    >>> for hit in kb.search("户籍", limit=3):     # doctest: +SKIP
    ...     print(hit.id, hit.section)
    """

    def __init__(self, path: str | os.PathLike | None = None):
        from .lexicon import default_lexicon

        self.path = Path(path) if path is not None else default_index_path()
        self.lexicon = default_lexicon()
        self._store = IndexStore(self.path)
        self._lock = threading.Lock()
        self._engine = None
        self._pool = None

    # -- lifecycle ---------------------------------------------------------
    def exists(self) -> bool:
        """True when an index has been built at ``path``."""
        return self._store.exists()

    def require(self) -> None:
        """Raise ``IndexNotFoundError`` unless an index exists."""
        if not self.exists():
            raise IndexNotFoundError(f"No index at {self.path}; build one first.")

    def _engine_(self):
        if self._engine is None:
            from .engine import default_engine

            self._engine = default_engine()
        return self._engine

    def _readers(self):
        with self._lock:
            if self._pool is None:
                from .searcher import ReaderPool

                self._pool = ReaderPool(self._store, self._engine_())
            return self._pool

    def close(self) -> None:
        """Close every reader and mapped file (the object can be used again afterwards)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -----------------------------------------------------------
    def index(self, paths: Iterable[str | os.PathLike], *, rebuild: bool = False, progress=None,
              lock_timeout: float = config.LOCK_TIMEOUT) -> IndexSummary:
        """Index files and directories (incrementally unless ``rebuild``); returns what was done.

        Raises ``SourceNotFoundError`` for a missing path, ``IndexBusyError`` when
        another process holds the write lock past ``lock_timeout`` seconds, and
        ``IndexVersionError`` when the existing index needs ``rebuild=True``.
        """
        from .indexer import run_index

        return run_index(self._store, self._engine_(), list(paths), rebuild=rebuild, progress=progress,
                         lock_timeout=lock_timeout, lexicon=self.lexicon)

    # -- reading -----------------------------------------------------------
    def _reading(self, fn):
        """Run a read, retrying when a concurrent rebuild switched generations under it."""
        for attempt in range(3):
            try:
                with self._readers().view() as view:
                    return fn(view)
            except (IndexCorruptError, IndexNotFoundError):
                if attempt == 2 or not self.exists():
                    raise
                time.sleep(0.05 * (attempt + 1))
            except RecursionError:
                raise QueryError("The query is too complex to run; use fewer words or operators.") from None
        raise AssertionError("unreachable")

    def search(self, query: str, *, limit: int = 10, section: str | None = None, doc: str | None = None,
               topic: str | None = None, since: str | None = None, until: str | None = None,
               context: int = 0, expand: bool = True, correct: bool = False) -> SearchResult:
        """Passages matching ``query``, best first.

        ``section`` and ``doc`` restrict to sections / documents whose path or
        title contains the text (or whose id equals it); ``topic`` to a topic
        slug (see ``topics()``); ``since``/``until`` are ISO dates (partial
        dates allowed). Every restriction holds for every hit. With ``expand``
        (the default) English, pinyin and synonyms widen the query (see
        ``SearchResult.expanded``). With ``correct``, a query that finds
        nothing is retried with its "did you mean" suggestion
        (``SearchResult.corrected`` is then True).

        Raises ``QueryError`` for a query or option that is invalid and
        ``IndexNotFoundError`` when there is no index.
        """
        from .query import parse as q

        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise QueryError("The limit must be a positive whole number.", param="limit")
        if not isinstance(context, int) or isinstance(context, bool) or context < 0:
            raise QueryError("The context must be zero or more passages.", param="context")
        limit = min(limit, config.MAX_LIMIT)
        node = q.parse(query)
        filters, dates = _restrictions(section=section, doc=doc, topic=topic, since=since, until=until)
        result = self._reading(
            lambda view: self._search(view, query, node, filters, dates, limit, context, expand, correct))
        if correct and result.total == 0 and result.suggestion:
            fixed = self.search(result.suggestion, limit=limit, section=section, doc=doc, topic=topic, since=since,
                                until=until, context=context, expand=expand, correct=False)
            return SearchResult(fixed.hits, query=result.suggestion, total=fixed.total, expanded=fixed.expanded,
                                suggestion=result.suggestion, corrected=True, relaxed=fixed.relaxed)
        return result

    def _search(self, view, query, node, filters, dates, limit, context, expand, correct) -> SearchResult:
        from .searcher import make_hit, run_search

        self.lexicon.refresh()
        out = run_search(view, query, node, filters=filters, dates=dates, limit=limit, expand=expand,
                         prefer_suggestion=correct, lexicon=self.lexicon)
        needles = out.plan.needles
        hits = []
        for rec, score in out.rows:
            ctx = self._context(view, rec.id, rec.doc_id, context, needles) if context else ()
            hits.append(make_hit(rec, view.reader.document(rec.doc_id), score, needles, ctx))
        return SearchResult(tuple(hits), query=query, total=out.total, expanded=out.plan.expansions,
                            suggestion=out.suggestion, relaxed=out.relaxed)

    def _context(self, view, pid: str, doc_id: str, n: int, needles) -> tuple[Hit, ...]:
        """Up to ``n`` passages on each side of passage ``pid``, in document order."""
        from .searcher import make_hit

        doc = view.reader.document(doc_id)
        order = list(doc.passages) if doc else []
        try:
            i = order.index(pid)
        except ValueError:
            return ()
        out = []
        for other in order[max(0, i - n) : i] + order[i + 1 : i + 1 + n]:
            rec = view.reader.passage(other)
            if rec is not None:
                out.append(make_hit(rec, doc, 0.0, needles))
        return tuple(out)

    def get(self, passage_id: str, *, context: int = 0) -> Hit:
        """The passage with this id (and ``context`` neighbours on each side)."""
        if not isinstance(context, int) or isinstance(context, bool) or context < 0:
            raise QueryError("The context must be zero or more passages.", param="context")
        return self._reading(lambda view: self._get(view, passage_id, context))

    def _get(self, view, passage_id: str, context: int) -> Hit:
        from .searcher import make_hit

        rec = view.reader.passage(passage_id)
        if rec is None:
            raise PassageNotFoundError(
                f"No passage has id {passage_id!r}; ids look like <doc_id>#<paragraph>, as search results show them."
            )
        ctx = self._context(view, rec.id, rec.doc_id, context, ()) if context else ()
        return make_hit(rec, view.reader.document(rec.doc_id), 0.0, (), ctx)

    def documents(self, *, section: str | None = None, doc: str | None = None, topic: str | None = None,
                  since: str | None = None, until: str | None = None) -> tuple[DocumentInfo, ...]:
        """The indexed documents, by id; with filters (as for ``search``), those with a matching passage."""
        filters, dates = _restrictions(section=section, doc=doc, topic=topic, since=since, until=until)
        return self._reading(lambda view: self._documents(view, filters, dates))

    def _documents(self, view, filters, dates) -> tuple[DocumentInfo, ...]:
        from .query.plan import plan as make_plan
        from .query import parse as q

        records = {r.id: r for r in view.reader.documents()}
        if filters or dates:
            p = make_plan(q.And(tuple(filters)), None, lexicon=self.lexicon) if filters else None
            allowed = view.reader.allowed(p.filters if p else (), dates)
            keep = view.reader.documents_matching(allowed)
            records = {k: v for k, v in records.items() if k in keep}
        return tuple(_info(records[k]) for k in sorted(records))

    def document(self, doc_id: str, *, text: bool = False) -> DocumentInfo:
        """One document: metadata, its section outline with passage ids, and with ``text`` its whole text.

        Raises ``DocumentNotFoundError`` for an unknown id.
        """
        return self._reading(lambda view: self._document(view, doc_id, text))

    def _document(self, view, doc_id: str, text: bool) -> DocumentInfo:
        rec = view.reader.document(doc_id)
        if rec is None:
            raise DocumentNotFoundError(f"No document has id {doc_id!r}; list the documents to see their ids.",
                                        hint="docs")
        outline: list[list] = []
        parts: list[str] = []
        for pid in rec.passages:
            p = view.reader.passage(pid)
            if p is None:
                continue
            if outline and outline[-1][0] == p.section:
                outline[-1][1].append(pid)
            else:
                outline.append([p.section, [pid]])
                if text:
                    parts.append("§ " + p.section)
            if text:
                parts.append(p.text)
        return _info(rec, tuple(OutlineEntry(sec, tuple(ids)) for sec, ids in outline), "\n\n".join(parts))

    def topics(self) -> tuple[TopicCount, ...]:
        """Every topic of the taxonomy with the number of passages tagged with it."""
        topics = self.lexicon.topics()
        return self._reading(
            lambda view: tuple(TopicCount(t.slug, t.en, t.zh, view.reader.topic_count(t.slug)) for t in topics)
        )

    def stats(self) -> Stats:
        """Counts and provenance of the index."""
        return self._reading(self._stats)

    def _stats(self, view) -> Stats:
        manifest = view.manifest
        files = manifest.indexed_files()
        return Stats(
            documents=manifest.documents(),
            passages=view.reader.passage_count(),
            files=len(files),
            index_path=str(self.path),
            size_bytes=self._store.size_bytes(),
            format=FORMAT_VERSION,
            sources=tuple(files),
            last_indexed=manifest.updated,
        )


def _info(rec, outline=(), text: str = "") -> DocumentInfo:
    return DocumentInfo(id=rec.id, title=rec.title, date=rec.date, source=rec.source,
                        path=rec.rel or Path(rec.path).name, passages=len(rec.passages),
                        metadata=rec.metadata or {}, outline=outline, text=text)


def _restrictions(*, section=None, doc=None, topic=None, since=None, until=None):
    """Search restrictions as query filters and a date range; raises ``QueryError`` for a bad date or topic."""
    from .query import parse as q
    from .text.dates import date_range

    filters = [q.Filter(name, value) for name, value in (("section", section), ("doc", doc), ("topic", topic))
               if value]
    try:
        dates = date_range(since, until)
    except ValueError as e:
        bound = str(e)
        value = since if bound == "since" else until
        raise QueryError(f"The {bound} date {value!r} is not a date; use YYYY-MM-DD, YYYY-MM or YYYY.",
                         param=bound) from None
    return filters, dates
