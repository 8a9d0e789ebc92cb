"""``KnowledgeBase``: the one object every front end (CLI, HTTP, MCP) and embedding program calls.

Searching is safe from several threads at once: each search borrows a reader
of the live commit from a pool (``kb.searcher.ReaderPool``), readers of
replaced commits are closed, and reads that a concurrent rebuild interrupts
are retried. Writing (``index``) takes an inter-process lock; call it from
one thread at a time.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Union

from . import config
from .errors import (DocumentNotFoundError, IndexCorruptError, IndexNotFoundError, KBError, PassageNotFoundError,
                     QueryError)
from .models import (DocumentGroup, DocumentInfo, FieldInfo, Hit, IndexSummary, LexiconReport, OutlineEntry,
                     RemoveSummary, SearchResult, Stats, TopicCount)
from .store import FORMAT_VERSION, IndexStore

__all__ = ["KnowledgeBase", "SearchStream", "default_index_path"]

DEFAULT_INDEX = "index"
GROUP_BY = ("doc",)
SORTS = ("relevance", "date")

Where = Union[str, Iterable[str], Mapping[str, Any], None]


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

    def __init__(self, path: str | os.PathLike | None = None, *,
                 lexicon: str | os.PathLike | Iterable[str | os.PathLike] | None = None):
        """Open (or prepare) the index at ``path`` (default ``$KB_INDEX`` or ``./index``).

        ``lexicon`` names the folders of users' vocabulary files (one path or
        several; default ``$KB_LEXICON``, else the ``lexicon/`` folder beside
        the index; see ``kb.vocabulary``), merged over kb's own vocabulary.
        """
        from .lexicon import Lexicon
        from .vocabulary import default_folders

        self.path = Path(path) if path is not None else default_index_path()
        if lexicon is None:
            folders = default_folders(self.path)
        elif isinstance(lexicon, (str, os.PathLike)):
            folders = (Path(lexicon),)
        else:
            folders = tuple(Path(f) for f in lexicon)
        self.lexicon = Lexicon(folders)
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

    def _refresh_lexicon(self) -> None:
        """Pick up changed users' vocabulary files; their segmentation words apply to queries at once."""
        from .text.segment import set_user_words

        self.lexicon.refresh()
        set_user_words(self.lexicon.words())

    def _outdated(self, view) -> bool:
        from .vocabulary import pending_words

        return bool(pending_words(view.manifest.lexicon, self.lexicon))

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

    def remove(self, targets: str | os.PathLike | Iterable[str | os.PathLike], *,
               lock_timeout: float = config.LOCK_TIMEOUT) -> RemoveSummary:
        """Drop documents from the index without a rebuild: by indexed file, folder of them, or document id.

        One commit; the files are forgotten, so a later ``index`` run over a
        folder that still holds them indexes them again (a file of which only
        some documents were removed is read again then). Raises
        ``DocumentNotFoundError`` when a target matches nothing (and then
        removes nothing), ``IndexNotFoundError`` when there is no index.
        """
        from .indexer import run_remove

        if isinstance(targets, (str, os.PathLike)):
            targets = [targets]
        return run_remove(self._store, self._engine_(), [os.fspath(t) for t in targets], lock_timeout=lock_timeout)

    def watch(self, paths: Iterable[str | os.PathLike], *, debounce: float = 0.5, stop=None,
              lock_timeout: float = config.LOCK_TIMEOUT, on_error=None) -> Iterator[IndexSummary]:
        """Keep the index current while files under ``paths`` change; yields the summary of each run.

        Indexes ``paths`` at once, then again after each burst of changes
        (events closer than ``debounce`` seconds are one burst), including
        changes to the users' vocabulary folders. A file that cannot be read
        is a skipped entry of its run, never an error; a run that fails (the
        lock is busy, a disk error) is passed to ``on_error(exc)`` when given
        and watching goes on. Stops when ``stop`` (a ``threading.Event``) is
        set or the caller closes the generator. See ``kb.watch``.
        """
        from .watch import watch

        return watch(self, [Path(p) for p in paths], debounce=debounce, stop=stop, lock_timeout=lock_timeout,
                     on_error=on_error)

    def lexicon_check(self) -> LexiconReport:
        """Check the users' vocabulary files: what each gives, and each problem with its line number.

        ``pending_words`` lists segmentation words the index was not built
        with yet (empty when there is no index).
        """
        from .vocabulary import check, pending_words

        self.lexicon.refresh()
        pending: tuple[str, ...] = ()
        if self.exists():
            try:
                pending = self._reading(lambda view: pending_words(view.manifest.lexicon, self.lexicon))
            except KBError:
                pending = ()
        return check(self.lexicon, pending)

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
               topic: str | None = None, since: str | None = None, until: str | None = None, where: Where = (),
               context: int = 0, expand: bool = True, correct: bool = True, group_by: str | None = None,
               sort: str = "relevance", facets: str | Iterable[str] | None = None) -> SearchResult:
        """Passages matching ``query``, best first.

        ``section`` and ``doc`` restrict to sections / documents whose path
        contains the text, or documents whose id, title or a text metadata
        value contains it (or whose id equals it); ``topic`` to a topic slug
        (see ``topics()``); ``since``/``until`` are ISO dates (partial dates
        allowed); ``where`` to documents whose fields satisfy conditions
        (``"province=云南"``, ``"year>=2020"``, a list of them, or a mapping
        ``{"province": "云南"}``; see ``kb.query.meta``). Every restriction
        holds for every hit. With ``expand`` (the default) English, pinyin and
        synonyms widen the query (see ``SearchResult.expanded``). With
        ``correct`` (the default, as in the CLI, the HTTP API and MCP), a
        query that finds nothing is retried with its "did you mean"
        suggestion (``SearchResult.corrected`` is then True); pass
        ``correct=False`` to get the empty result and the suggestion alone.

        ``group_by="doc"`` gives one ``DocumentGroup`` per matching document
        (``SearchResult.groups``; ``limit`` counts documents); ``sort="date"``
        orders hits (or groups) by document date, newest first, instead of by
        relevance; ``facets`` (``"topic,province,year"`` or a list) counts
        values over every match (``SearchResult.facets``). With any of these,
        the search works on the whole match set and ``total`` counts it (see
        ``iter_search``).

        Raises ``QueryError`` for a query or option that is invalid and
        ``IndexNotFoundError`` when there is no index.
        """
        from .facets import parse_fields
        from .query import parse as q

        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise QueryError("The limit must be a positive whole number.", param="limit")
        if not isinstance(context, int) or isinstance(context, bool) or context < 0:
            raise QueryError("The context must be zero or more passages.", param="context")
        _check_grouping(group_by, sort)
        fields = parse_fields(facets)
        limit = min(limit, config.MAX_LIMIT)
        node = q.parse(query)
        filters, dates = _restrictions(section=section, doc=doc, topic=topic, since=since, until=until, where=where)
        if group_by or fields or sort != "relevance":
            result = self._reading(lambda view: self._search_all(view, query, node, filters, dates, limit, context,
                                                                 expand, correct, group_by, sort, fields))
        else:
            result = self._reading(
                lambda view: self._search(view, query, node, filters, dates, limit, context, expand, correct))
        if correct and result.total == 0 and result.suggestion:
            fixed = self.search(result.suggestion, limit=limit, section=section, doc=doc, topic=topic, since=since,
                                until=until, where=where, context=context, expand=expand, correct=False,
                                group_by=group_by, sort=sort, facets=fields)
            return replace(fixed, query=result.suggestion, suggestion=result.suggestion, corrected=True)
        return result

    def _search(self, view, query, node, filters, dates, limit, context, expand, correct) -> SearchResult:
        from .searcher import make_hit, run_search

        self._refresh_lexicon()
        out = run_search(view, query, node, filters=filters, dates=dates, limit=limit, expand=expand,
                         prefer_suggestion=correct, lexicon=self.lexicon)
        needles = out.plan.needles
        hits = []
        for rec, score in out.rows:
            ctx = self._context(view, rec.id, rec.doc_id, context, needles) if context else ()
            hits.append(make_hit(rec, view.reader.document(rec.doc_id), score, needles, ctx, out.also_in.get(rec.id, ())))
        return SearchResult(tuple(hits), query=query, total=out.total, expanded=out.plan.expansions,
                            suggestion=out.suggestion, relaxed=out.relaxed,
                            lexicon_outdated=self._outdated(view))

    def _search_all(self, view, query, node, filters, dates, limit, context, expand, correct, group_by, sort,
                    fields) -> SearchResult:
        from .facets import count
        from .searcher import make_hit, run_all

        self._refresh_lexicon()
        out = run_all(view, query, node, filters=filters, dates=dates, expand=expand, prefer_suggestion=correct,
                      lexicon=self.lexicon)
        reader = view.reader
        rows = _sorted_rows(reader, out.rows, sort)
        refs = [ref for ref, _score in rows]
        by_doc = reader.group_refs(refs) if (group_by or fields) else None
        facets = count(reader, refs, fields, self.lexicon.topics(), by="documents" if group_by else "passages") \
            if fields else ()
        needles = out.plan.needles
        groups: tuple[DocumentGroup, ...] = ()
        if group_by:
            scores = dict(rows)
            groups = tuple(_group(reader, d, refs_, scores, needles)
                           for d, refs_ in itertools.islice(by_doc.items(), limit))
            hits = tuple(g.best for g in groups)
        else:
            hits_ = []
            for ref, score in rows[:limit]:
                rec = reader.passage_at(ref)
                ctx = self._context(view, rec.id, rec.doc_id, context, needles) if context else ()
                hits_.append(make_hit(rec, reader.document(rec.doc_id), score, needles, ctx,
                                      out.also_in.get(rec.id, ())))
            hits = tuple(hits_)
        return SearchResult(hits, query=query, total=out.total, expanded=out.plan.expansions,
                            suggestion=out.suggestion, relaxed=out.relaxed, groups=groups, facets=facets,
                            total_documents=len(by_doc) if by_doc is not None else None,
                            lexicon_outdated=self._outdated(view))

    def iter_search(self, query: str, *, section: str | None = None, doc: str | None = None,
                    topic: str | None = None, since: str | None = None, until: str | None = None,
                    where: Where = (), expand: bool = True, correct: bool = True, group_by: str | None = None,
                    sort: str = "relevance") -> "SearchStream":
        """Every match of ``query``, streamed: ``Hit``s (or ``DocumentGroup``s with ``group_by="doc"``).

        Takes the restrictions and options of ``search``. The match set is
        computed at once (as engine refs and scores, a few bytes per match;
        errors are raised here), then each hit is made only when the caller
        takes it, so exporting 50,000 hits never holds 50,000 ``Hit``s. The
        returned ``SearchStream`` is an iterator with the facts of the search
        (``total``, ``total_documents``, ``expanded``, ``suggestion``,
        ``corrected``, ``relaxed``, ``metadata_keys``); it holds a reader of
        the index until it is exhausted or closed (``with`` closes it).
        """
        from .query import parse as q

        _check_grouping(group_by, sort)
        node = q.parse(query)
        filters, dates = _restrictions(section=section, doc=doc, topic=topic, since=since, until=until, where=where)
        stream = self._stream(query, node, filters, dates, expand, correct, group_by, sort)
        if correct and stream.total == 0 and stream.suggestion:
            suggestion = stream.suggestion
            stream.close()
            stream = self._stream(suggestion, q.parse(suggestion), filters, dates, expand, False, group_by, sort)
            stream.suggestion, stream.corrected = suggestion, True
        return stream

    def _stream(self, query, node, filters, dates, expand, correct, group_by, sort) -> "SearchStream":
        from .searcher import run_all

        self._refresh_lexicon()
        for attempt in range(3):
            cm = self._readers().view()
            view = cm.__enter__()
            try:
                out = run_all(view, query, node, filters=filters, dates=dates, expand=expand,
                              prefer_suggestion=correct, lexicon=self.lexicon)
                rows = _sorted_rows(view.reader, out.rows, sort)
                return SearchStream(cm, view, query, out, rows, group_by)
            except BaseException as e:
                cm.__exit__(type(e), e, e.__traceback__)
                if isinstance(e, (IndexCorruptError, IndexNotFoundError)) and attempt < 2 and self.exists():
                    time.sleep(0.05 * (attempt + 1))
                    continue
                if isinstance(e, RecursionError):
                    raise QueryError("The query is too complex to run; use fewer words or operators.") from None
                raise
        raise AssertionError("unreachable")

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
                  since: str | None = None, until: str | None = None, where: Where = ()) -> tuple[DocumentInfo, ...]:
        """The indexed documents, by id; with filters (as for ``search``), those with a matching passage."""
        filters, dates = _restrictions(section=section, doc=doc, topic=topic, since=since, until=until, where=where)
        self.lexicon.refresh()
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

    def fields(self) -> tuple[FieldInfo, ...]:
        """The fields ``where`` and ``facets`` take: every metadata field of the index, then kb's own.

        Each with the number of documents that have it, its number of
        distinct values and its most frequent values, so a front end can
        tell a category (province, kind) from an identifier (url).
        """
        return self._reading(lambda view: _fields(view.reader.documents(), view.reader.metadata_keys()))

    def topics(self) -> tuple[TopicCount, ...]:
        """Every topic of the taxonomy with the number of passages tagged with it."""
        self.lexicon.refresh()
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


def _fields(records, metadata_keys) -> tuple[FieldInfo, ...]:
    from collections import Counter

    from .query.meta import CORE_FIELDS, field_values, value_text

    names = [*metadata_keys, *(f for f in CORE_FIELDS if f not in metadata_keys)]
    counts: dict[str, Counter] = {n: Counter() for n in names}
    having: dict[str, int] = dict.fromkeys(names, 0)
    for rec in records:
        for n in names:
            values = field_values(n, metadata=rec.metadata or {}, id=rec.id, title=rec.title, date=rec.date,
                                  source=rec.source, path=rec.rel)
            if values:
                having[n] += 1
                counts[n].update({value_text(v) for v in values})
    return tuple(FieldInfo(n, having[n], len(counts[n]), tuple(v for v, _ in counts[n].most_common(5)),
                           metadata=n in metadata_keys) for n in names)


def _where_conditions(where: Where) -> list:
    """``where`` as ``kb.query.meta.Condition``s: from "field=value" strings or a {field: value} mapping."""
    from .query.meta import Condition, parse_where, split_operator

    if not where:
        return []
    if isinstance(where, str):
        return [parse_where(where)]
    if isinstance(where, Mapping):
        out = []
        for k, v in where.items():
            op, operand = split_operator(str(v)) if isinstance(v, str) else ("=", str(v))
            if not str(k).strip() or not operand:
                raise QueryError(f"The condition {k!r}: {v!r} needs a field and a value.", param="where")
            out.append(Condition(str(k).strip(), op, operand))
        return out
    return [c for w in where for c in _where_conditions(w)]


def _restrictions(*, section=None, doc=None, topic=None, since=None, until=None, where: Where = ()):
    """Search restrictions as query filters and a date range; raises ``QueryError`` for a bad date or topic."""
    from .query import parse as q
    from .text.dates import date_range

    filters = [q.Filter(name, value) for name, value in (("section", section), ("doc", doc), ("topic", topic))
               if value]
    filters += [q.Filter("meta." + c.key, c.op + c.value) for c in _where_conditions(where)]
    try:
        dates = date_range(since, until)
    except ValueError as e:
        bound = str(e)
        value = since if bound == "since" else until
        raise QueryError(f"The {bound} date {value!r} is not a date; use YYYY-MM-DD, YYYY-MM or YYYY.",
                         param=bound) from None
    return filters, dates


def _check_grouping(group_by, sort) -> None:
    if group_by not in (None, *GROUP_BY):
        raise QueryError(f"Cannot group by {group_by!r}; group by one of: {', '.join(GROUP_BY)}.", param="group_by")
    if sort not in SORTS:
        raise QueryError(f"Cannot sort by {sort!r}; sort by one of: {', '.join(SORTS)}.", param="sort")


def _sorted_rows(reader, rows, sort: str):
    """Rows by relevance (as given), or by document date, newest first (undated last; ties keep relevance order)."""
    if sort != "date":
        return rows
    dates: dict[str, str] = {}

    def date_of(row) -> str:
        d = reader.doc_of(row[0])
        if d not in dates:
            rec = reader.document(d)
            dates[d] = rec.date if rec else ""
        return dates[d]

    return sorted(rows, key=date_of, reverse=True)


def _group(reader, doc_id: str, refs, scores, needles) -> DocumentGroup:
    """A matching document: its best passage (the first ref), how many match, and their sections in document order."""
    from .searcher import make_hit

    rec = reader.document(doc_id)
    records = [reader.passage_at(r) for r in refs]
    best = make_hit(records[0], rec, scores[refs[0]], needles)
    order = {pid: i for i, pid in enumerate(rec.passages)} if rec else {}
    records_in_order = sorted(records, key=lambda p: (order.get(p.id, len(order)), p.seq))
    sections: list[list] = []
    for p in records_in_order:
        if sections and sections[-1][0] == p.section:
            sections[-1][1].append(p.id)
        else:
            sections.append([p.section, [p.id]])
    return DocumentGroup(document=_info(rec), best=best, matches=len(refs),
                         sections=tuple(OutlineEntry(sec, tuple(ids)) for sec, ids in sections),
                         score=best.score)


class SearchStream:
    """Every match of a search, made into ``Hit``s (or ``DocumentGroup``s) one at a time.

    Attributes: ``query`` (the query the matches answer), ``total`` (matching
    passages), ``total_documents``, ``expanded``, ``suggestion``,
    ``corrected``, ``relaxed``, ``group_by`` and ``metadata_keys`` (every
    metadata field of the index, for table columns). Holds a reader of the
    index until exhausted or closed; ``with`` closes it.
    """

    def __init__(self, cm, view, query: str, outcome, rows, group_by):
        self._cm = cm
        self._view = view
        reader = view.reader
        self.query = query
        self.total = len(rows)
        self.expanded = outcome.plan.expansions
        self.suggestion = outcome.suggestion
        self.corrected = False
        self.relaxed = outcome.relaxed
        self.group_by = group_by
        self.metadata_keys = reader.metadata_keys()
        self._by_doc = reader.group_refs(ref for ref, _ in rows)
        self.total_documents = len(self._by_doc)
        self._it = self._generate(reader, rows, outcome.plan.needles)

    def _generate(self, reader, rows, needles):
        from .searcher import make_hit

        if self.group_by:
            scores = dict(rows)
            for d, refs in self._by_doc.items():
                yield _group(reader, d, refs, scores, needles)
            return
        for ref, score in rows:
            rec = reader.passage_at(ref)
            yield make_hit(rec, reader.document(rec.doc_id), score, needles)

    def __iter__(self) -> "SearchStream":
        return self

    def __next__(self):
        if self._it is None:
            raise StopIteration
        try:
            return next(self._it)
        except StopIteration:
            self.close()
            raise
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the index reader (idempotent)."""
        cm, self._cm = self._cm, None
        self._it = None
        if cm is not None:
            cm.__exit__(None, None, None)

    def __enter__(self) -> "SearchStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the pool may be gone
            pass
