"""Reading one commit of a Whoosh index: statistics, records, filters and search."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator, Sequence

from whoosh import query as wq
from whoosh.reading import TermNotFound

from ...errors import QueryError
from ...query.meta import CORE_FIELDS, Condition, field_values
from ...query.plan import AllOf, Match
from ...text import normalize
from ..base import DocumentRecord, EngineReader, PassageRecord, Recall, Row
from .codec import document_record, passage_record, stored_passage_id
from .compile import Compiler, DocSet
from .evaluate import top_matches
from .errors import engine_errors

__all__ = ["WhooshReader", "CommitCache", "passage_numbers", "passage_doc_id"]


def passage_doc_id(passage_id: str) -> str:
    """The document id in a passage id ("" when it is not one)."""
    doc_id, sep, _rest = str(passage_id).rpartition("#")
    return doc_id if sep else ""


def passage_numbers(searcher, doc_id: str, passage_ids: Sequence[str]) -> dict[str, int]:
    """Passage id → document number of a document's live passages.

    A document's passages are written in the order of its record's passage
    ids, in one segment, after its record (``kb.engine.whoosh.bulk`` keeps a
    document's records together, and merges keep their order), so the k-th
    live posting of its ``doc_id`` term is its k-th passage. When the counts
    disagree (an index not written that way), the ids are read from the
    passages' stored rows instead.
    """
    reader = searcher.reader()
    nums = live_postings(reader, "doc_id", doc_id)
    if not nums:
        return {}
    if len(nums) == len(passage_ids):
        return dict(zip(passage_ids, nums))
    found = {stored_passage_id(reader.stored_fields(n)): n for n in nums}
    return {pid: found[pid] for pid in passage_ids if pid in found}


def live_postings(reader, field: str, term: str) -> list[int]:
    """The document numbers of ``term``'s postings that are not deleted, ascending.

    Segment by segment: through the multi-segment reader every posting cost
    three more calls to ask whether it is deleted, and mapping verbatim
    matches to passages reads the postings of a thousand documents.
    """
    out: list[int] = []
    for seg, offset in reader.leaf_readers():
        try:
            # A segment reader's postings leave out its deleted documents (one set test each).
            out.extend(n + offset for n in seg.postings(field, term).all_ids())
        except TermNotFound:
            continue
    return out


def _s(term) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else term


SMALL_ALLOWED = 2000  # up to this many allowed passages drive a search (see WhooshReader.search)
DATE_SETS = 16  # date-filter sets kept per commit (see WhooshReader._date_docs)


class CommitCache:
    """Look-ups that stay true for one commit, shared by every reader of it.

    Document numbers are stable within a commit, so title matches, filter
    sets and id → number look-ups are computed once per commit, not per search.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.values: dict = {}

    def get(self, key, compute):
        with self.lock:
            if key in self.values:
                return self.values[key]
        value = compute()
        with self.lock:
            self.values.setdefault(key, value)
            return self.values[key]


class WhooshReader(EngineReader):
    """A Whoosh searcher over one commit, with the commit's shared cache."""

    def __init__(self, path: Path, searcher, cache: CommitCache):
        self.path = path
        self._s = searcher
        self._cache = cache
        self.commit = searcher.reader().generation()
        self.matchers = 0  # leaf queries built by this reader's searches (the work they cost)

    def _mapped(self):
        return engine_errors(self.path)

    # -- statistics ----------------------------------------------------------------------------------
    def doc_frequency(self, term: str) -> int:
        with self._mapped():
            return self._s.doc_frequency("text", term)

    def terms_with_prefix(self, prefix: str) -> Iterator[str]:
        with self._mapped():
            terms = [_s(t) for t in self._s.reader().expand_prefix("text", prefix)]
        return iter(terms)

    def text_terms(self) -> Iterator[str]:
        return iter(self._terms("text"))

    def _terms(self, fieldname: str) -> list[str]:
        def compute():
            with self._mapped():
                return [_s(b) for b in self._s.lexicon(fieldname)]

        return self._cache.get(("terms", fieldname), compute)

    # -- records -------------------------------------------------------------------------------------
    def passage(self, passage_id: str) -> PassageRecord | None:
        n = self._number(passage_id)
        if n is None:
            return None
        with self._mapped():
            stored = self._s.stored_fields(n)
        return passage_record(stored)

    def _number(self, passage_id: str) -> int | None:
        """The document number of a passage, from its document's passage order (see ``passage_numbers``)."""
        doc_id = passage_doc_id(passage_id)
        if not doc_id:
            return None
        return self._numbers_of(doc_id).get(passage_id)

    def _numbers_of(self, doc_id: str) -> dict[str, int]:
        """Passage id → document number for one document (cached per commit)."""

        def compute():
            rec = self.document(doc_id)
            if rec is None:
                return {}
            with self._mapped():
                return passage_numbers(self._s, doc_id, rec.passages)

        return self._cache.get(("numbers", doc_id), compute)

    def passage_at(self, ref) -> PassageRecord:
        with self._mapped():
            stored = self._s.stored_fields(ref)
        return passage_record(stored)

    def document(self, doc_id: str) -> DocumentRecord | None:
        if not doc_id:
            return None

        def compute():
            # The record's live posting, read directly: Searcher.document builds and runs a query
            # (about 120 us against 20), and mapping verbatim matches to passages asks this of every
            # document they are in (a thousand for a common word of a question).
            reader = self._s.reader()
            with self._mapped():
                nums = live_postings(reader, "docrec", doc_id)
                return document_record(reader.stored_fields(nums[0])) if nums else None

        return self._cache.get(("doc", doc_id), compute)

    def documents(self) -> Iterator[DocumentRecord]:
        return iter(list(self._doc_table().values()))

    def _doc_table(self) -> dict[str, DocumentRecord]:
        """Document id → record, read once per commit (only the document records, not the passages)."""

        def compute():
            s = self._s
            out = {}
            with self._mapped():
                for n in s.docs_for_query(wq.Every("docrec")):
                    f = s.stored_fields(n)
                    if f.get("docrec"):
                        out[f["docrec"]] = document_record(f)
            return out

        return self._cache.get(("doctable",), compute)

    def metadata_keys(self) -> tuple[str, ...]:
        """Every metadata field some document has, sorted."""

        def compute():
            keys = set()
            for rec in self._doc_table().values():
                keys.update(rec.metadata)
            return tuple(sorted(keys))

        return self._cache.get(("metakeys",), compute)

    def _doc_haystacks(self) -> list[tuple[str, str]]:
        """(document id, normalised id + title + text metadata values) for ``doc:`` matching."""

        def compute():
            out = []
            for rec in self._doc_table().values():
                parts = [rec.id, rec.title]
                for k in rec.metadata:
                    parts.extend(v for v in field_values(k, metadata=rec.metadata) if isinstance(v, str))
                out.append((rec.id, normalize("\x1f".join(parts))))
            return out

        return self._cache.get(("dochay",), compute)

    def passage_count(self) -> int:
        def compute():
            # Document records counted from the term dictionary (one ``docrec`` term each), less the
            # deleted ones: matching every record's term (Every) cost a cold search a quarter second.
            records = 0
            with self._mapped():
                for seg, _offset in self._s.reader().leaf_readers():
                    records += sum(ti.doc_frequency() for _t, ti in seg.iter_field("docrec"))
                    if seg.has_deletions():
                        records -= sum(1 for n in seg.deleted_docs_set if seg.stored_fields(n).get("docrec"))
                return self._s.doc_count() - records

        return self._cache.get(("count",), compute)

    def _doc_refs(self) -> dict[str, tuple[int, ...]]:
        """Document id → the numbers of its passages (from the ``doc_id`` postings, once per commit)."""

        def compute():
            reader = self._s.reader()
            out = {}
            with self._mapped():
                for t in self._terms("doc_id"):
                    ids = tuple(live_postings(reader, "doc_id", t))
                    if ids:
                        out[t] = ids
            return out

        return self._cache.get(("docrefs",), compute)

    def documents_matching(self, allowed) -> set[str]:
        return {d for d, refs in self._doc_refs().items() if any(r in allowed for r in refs)}

    def _ref_docs(self) -> dict[int, str]:
        """Passage number → its document id (the inverse of ``_doc_refs``, once per commit)."""

        def compute():
            return {r: d for d, refs in self._doc_refs().items() for r in refs}

        return self._cache.get(("refdocs",), compute)

    def doc_of(self, ref) -> str:
        return self._ref_docs().get(ref, "")

    def group_refs(self, refs) -> dict[str, list]:
        """Refs by document id, in the order given (documents in the order of their first ref)."""
        docs = self._ref_docs()
        out: dict[str, list] = {}
        for r in refs:
            out.setdefault(docs.get(r, ""), []).append(r)
        out.pop("", None)
        return out

    def topic_refs(self, slug: str) -> frozenset:
        def compute():
            with self._mapped():
                return frozenset(self._s.docs_for_query(wq.Term("topics", slug)))

        return self._cache.get(("topicrefs", slug), compute)

    def documents_containing(self, needles) -> set[str]:
        needles = [n for n in needles if n]
        if not needles:
            return set()
        out = {rec.id for rec in self._doc_table().values()
               if any(n in normalize(rec.title) for n in needles)}
        reader = self._s.reader()
        refs: set[int] = set()
        with self._mapped():
            for t in self._terms("section_key"):
                if any(n in t for n in needles):
                    refs.update(reader.postings("section_key", t).all_ids())
        docs = self._ref_docs()
        out.update(docs[r] for r in refs if r in docs)
        return out

    def _passages_of(self, doc_ids) -> frozenset[int]:
        refs = self._doc_refs()
        out: set[int] = set()
        for d in doc_ids:
            out.update(refs.get(d, ()))
        return frozenset(out)

    def topic_count(self, slug: str) -> int:
        with self._mapped():
            return self._s.doc_frequency("topics", slug)

    def docnums_for_ids(self, ids: Sequence[str]) -> frozenset[int]:
        """Document numbers of passages by id (per document, cached per commit)."""
        out = set()
        numbers: dict[str, dict[str, int]] = {}
        for pid in ids:
            doc_id = passage_doc_id(pid)
            nums = numbers.get(doc_id)
            if nums is None:
                nums = numbers[doc_id] = self._numbers_of(doc_id) if doc_id else {}
            n = nums.get(pid)
            if n is not None:
                out.add(n)
        return frozenset(out)

    # -- filters ---------------------------------------------------------------------------------------
    def title_docs(self, words: tuple[str, ...]) -> frozenset[int]:
        """The passages of documents whose title has all ``words``."""

        def compute():
            s = self._s
            q = wq.Term("title", words[0]) if len(words) == 1 else wq.And([wq.Term("title", w) for w in words])
            with self._mapped():
                records = s.docs_for_query(q)
                doc_ids = [s.stored_fields(n).get("docrec") for n in records]
                if not doc_ids:
                    return frozenset()
                return frozenset(s.docs_for_query(wq.Or([wq.Term("doc_id", d) for d in doc_ids if d])))

        return self._cache.get(("title", words), compute)

    def match_docs(self, m: Match) -> frozenset[int]:
        """The passages a field restriction allows."""
        key = ("match", m.field, normalize(m.value).strip(), m.key, m.op, m.value if m.field == "doc" else "")
        return self._cache.get(key, lambda: self._match_docs(m))

    def _match_docs(self, m: Match) -> frozenset[int]:
        s = self._s
        needle = normalize(m.value).strip()
        if m.field == "doc":
            # The id itself, or a part of the id, the title or a text metadata value.
            doc_ids = {d for d, hay in self._doc_haystacks() if needle and needle in hay}
            doc_ids.add(m.value.strip())
            return self._passages_of(doc_ids)
        if m.field == "meta":
            if m.key not in CORE_FIELDS and m.key not in self.metadata_keys():
                known = ", ".join((*self.metadata_keys(), *CORE_FIELDS))
                raise QueryError(f"No document has the field {m.key!r}; the fields are: {known}.", param="where")
            cond = Condition(m.key, m.op or "=", m.value)
            doc_ids = {d for d, rec in self._doc_table().items()
                       if cond.holds(field_values(m.key, metadata=rec.metadata, id=rec.id, title=rec.title,
                                                  date=rec.date, source=rec.source, path=rec.rel))}
            return self._passages_of(doc_ids)
        with self._mapped():
            if m.field == "section":
                reader = s.reader()
                docs: set[int] = set()
                for t in (t for t in self._terms("section_key") if needle and needle in t):
                    docs.update(reader.postings("section_key", t).all_ids())
                return frozenset(docs)
            if m.field == "topic":
                return frozenset(s.docs_for_query(wq.Term("topics", m.value.strip().lower())))
        raise AssertionError(m.field)  # pragma: no cover

    def _date_docs(self, bounds: tuple[str, str]) -> frozenset[int]:
        """Passages whose document's date overlaps ``bounds`` (kept per commit, as other filter sets are).

        A wide range is a union of a hundred thousand postings (13 ms on the whole corpus); the
        last ``DATE_SETS`` ranges asked for are kept, since each set can hold every passage.
        """
        key = tuple(bounds)
        with self._cache.lock:
            recent = self._cache.values.setdefault(("datesets",), {})
            if key in recent:
                recent[key] = recent.pop(key)  # most recently used last
                return recent[key]
        found = self._date_postings(key)
        with self._cache.lock:
            recent[key] = found
            while len(recent) > DATE_SETS:
                del recent[next(iter(recent))]
        return found

    def _date_postings(self, bounds: tuple[str, str]) -> frozenset[int]:
        """Passages whose document's date overlaps ``bounds``, from the postings of the date terms.

        (Whoosh's own filter over a TermRange of a thousand dates took seconds on the full corpus.)
        """
        lo, hi = bounds
        reader = self._s.reader()

        def matching(fieldname: str, keep) -> set[int]:
            out: set[int] = set()
            for t in self._terms(fieldname):
                if keep(t):
                    def compute(t=t):
                        with self._mapped():
                            return tuple(reader.postings(fieldname, t).all_ids())

                    out.update(self._cache.get(("postings", fieldname, t), compute))
            return out

        return frozenset(matching("date_hi", lambda t: t >= lo) & matching("date_lo", lambda t: t <= hi))

    def allowed(self, filters: Sequence[Match], dates: tuple[str, str] | None):
        sets = [self.match_docs(m) for m in filters]
        if dates is not None:
            sets.append(self._date_docs(dates))
        if not sets:
            return None
        sets.sort(key=len)
        out = sets[0]
        for other in sets[1:]:
            out = out & other
        return frozenset(out)

    # -- search ----------------------------------------------------------------------------------------
    def _compiler(self, recall, with_verbatim, exclude=frozenset()) -> Compiler:
        return Compiler(self, recall=recall, verbatim=with_verbatim, exclude=exclude)

    def _query(self, node, allowed, compiler: Compiler, min_match: int = 0):
        if node is None:  # only filters: every allowed passage, unscored
            return DocSet(allowed if allowed is not None else frozenset(), 0.0)
        if min_match and isinstance(node, AllOf):
            return compiler.all_of(node, min_match=min_match)
        return compiler.compile(node)

    def search(self, node, *, allowed, limit: int, recall: Recall | None = None, exclude: frozenset = frozenset(),
               with_verbatim: bool = False, min_match: int = 0) -> tuple[int, list[Row]]:
        compiler = self._compiler(recall, with_verbatim, exclude)
        query = self._query(node, allowed, compiler, min_match)
        self.matchers += compiler.matchers
        if query is None:
            return 0, []
        # Every match is scored (Whoosh's block-quality pruning ignores boosts on compound queries and
        # would drop the best hits when the limit is small), term at a time (see .evaluate).
        if allowed is not None and not allowed:
            return 0, []
        if allowed is not None:
            if len(allowed) <= SMALL_ALLOWED:
                # A few allowed passages drive the match (skipping through the query's postings to
                # them), instead of the query's every match being visited and filtered: the same
                # hits and scores (the set scores 0).
                query = wq.And([wq.ConstantScoreQuery(DocSet(frozenset(allowed)), 0.0), query])
        with self._mapped():
            return top_matches(self._s, query, limit, allowed)

    def refs(self, node, *, allowed, recall: Recall | None = None, with_verbatim: bool = False,
             min_match: int = 0) -> frozenset:
        compiler = self._compiler(recall, with_verbatim)
        query = self._query(node, allowed, compiler, min_match)
        self.matchers += compiler.matchers
        if query is None:
            return frozenset()
        with self._mapped():
            found = frozenset(self._s.docs_for_query(query))
        return found if allowed is None else found & allowed

    def term_refs(self, fieldname: str, term: str) -> frozenset:
        """The passages whose ``fieldname`` holds ``term``, from its postings."""
        with self._mapped():
            return frozenset(live_postings(self._s.reader(), fieldname, term))

    def matching(self, node, *, allowed, recall: Recall | None = None, with_verbatim: bool = False,
                 min_match: int = 0) -> frozenset:
        """What ``refs`` returns, computed with sets of postings instead of scoring matchers.

        Much faster for wide trees (a question's words with their synonyms);
        the same passages as ``refs`` (see ``Compiler.docs``).
        """
        compiler = self._compiler(recall, with_verbatim)
        with self._mapped():
            found = compiler.docs(node, min_match=min_match)
        self.matchers += compiler.matchers
        return found if allowed is None else found & allowed

    def close(self) -> None:
        with self._mapped():
            self._s.close()
