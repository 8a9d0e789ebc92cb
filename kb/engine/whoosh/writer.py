"""Writing a Whoosh index: one transaction of deletes and adds, committed atomically.

Segments are written by kb's bulk writer (``kb.engine.whoosh.bulk``), not by
Whoosh's ``SegmentWriter``: postings are built in memory from one
``{term: frequency}`` map per record and written straight in Whoosh's W3
format, stored fields in compressed blocks (``storedblocks``), each part of
a segment in a file of its own. With ``workers`` > 1, worker processes
segment the text and write one segment each while this process keeps
reading and chunking files (``kb.engine.whoosh.parallel``). A document's
record and its passages always stay together, in order, in one segment
(the reader finds a passage by id through that order).

Commit: the new segment files are written and synced first, then the table
of contents (TOC) of the next generation is written to a temporary file,
synced and renamed into place; a crash before the rename leaves the
previous commit, and the next commit deletes the orphaned files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ...models import Document, Passage
from ..base import DocumentRecord, PassageRecord, WriteTransaction
from .codec import document_fields, document_record, passage_fields, passage_record, stored_passage_id
from .errors import engine_errors

__all__ = ["WhooshTransaction"]


class _WordsHook:
    """Runs in the process that built a segment: ``on_words`` of the words of its passage text that the
    base commit does not have (not called when there are none)."""

    def __init__(self, on_words: Callable[[list[str]], Any], folder: str, base_empty: bool):
        self.on_words = on_words
        self.folder = folder
        self.base_empty = base_empty

    def __call__(self, builder) -> Any:
        words = list(builder.postings.get("text", ()))
        if words and not self.base_empty:
            from whoosh.filedb.filestore import FileStorage

            # The base commit is still the latest: its term tables (deleted documents' words too,
            # which kb's side files already hold) decide what is new.
            with FileStorage(self.folder, readonly=True).open_index().reader() as r:
                words = [w for w in words if ("text", w) not in r]
        return self.on_words(words) if words else None


class WhooshTransaction(WriteTransaction):
    """kb's bulk writer on one index directory (see the module docstring)."""

    def __init__(self, path: Path, *, workers: int = 1, on_words: Callable[[list[str]], Any] | None = None):
        from whoosh.filedb.filestore import FileStorage

        from .parallel import ParallelBulkWriter

        self.path = path
        self.word_results: list[Any] = []
        with engine_errors(path):
            self._ix = FileStorage(str(path)).open_index()
            try:
                self.base = self._ix.latest_generation()
                self._w = ParallelBulkWriter(self._ix, procs=max(1, workers), block_stored=True)
                self._empty = not any(s.doc_count() for s in self._w.segments)
                if on_words is not None:
                    self._w.hook = _WordsHook(on_words, str(path), not any(s.doc_count_all() for s in self._w.segments))
            except BaseException:
                self._ix.close()
                raise
            self.commit = self._w.generation
        self._open = True

    def delete_document(self, doc_id: str) -> int:
        if self._empty:
            return 0  # nothing to delete in a new index
        with engine_errors(self.path):
            self._w.delete_by_term("docrec", doc_id)
            return self._w.delete_by_term("doc_id", doc_id)

    def add_document(self, doc: Document, passages: Sequence[Passage], topics: Sequence[Sequence[str]]) -> None:
        with engine_errors(self.path):
            w = self._w
            w.start_group()  # the record and its passages in one segment, in this order
            try:
                w.add_document(**document_fields(doc, [p.id for p in passages]))
                for p, t in zip(passages, topics):
                    w.add_document(**passage_fields(doc, p, t))
            finally:
                w.end_group()

    def commit_with(self, before: Callable[[int], None]) -> None:
        """Write the new segments, run ``before(commit)`` (kb's side files), then write the TOC.

        ``word_results`` are complete when ``before`` runs. An exception in
        ``before`` abandons the commit and reaches the caller as it was (not as
        a damaged index: it is kb's, not Whoosh's).
        """
        raised: list[BaseException] = []

        def before_toc() -> None:
            self.word_results = list(self._w.hook_results)
            try:
                before(self.commit)
            except Exception as e:
                raised.append(e)
                raise

        try:
            with engine_errors(self.path):
                try:
                    self._w.commit(before_toc=before_toc)
                finally:
                    self._open = False
                    self._ix.close()
        except Exception:
            if raised:
                raise raised[0] from None
            raise

    def cancel(self) -> None:
        if self._open:
            self._open = False
            try:
                if not self._w.is_closed:
                    self._w.cancel()
            finally:
                self._ix.close()

    def _base(self):
        """A searcher of the base commit (the writer's own, for deletions too)."""
        return self._w.searcher()

    def base_passages(self) -> Iterator[tuple[str, str]]:
        with engine_errors(self.path):
            r = self._base().reader()
            rows = [(stored_passage_id(f), passage_record(f).text) for f in r.all_stored_fields() if "p" in f]
        return iter(rows)

    def base_documents(self) -> Iterator[DocumentRecord]:
        with engine_errors(self.path):
            r = self._base().reader()
            records = [document_record(f) for f in r.all_stored_fields() if "docrec" in f]
        return iter(records)

    def base_document(self, doc_id: str) -> tuple[DocumentRecord, list[PassageRecord]] | None:
        from .reader import passage_numbers

        with engine_errors(self.path):
            s = self._base()
            stored = s.document(docrec=doc_id)
            if stored is None:
                return None
            rec = document_record(stored)
            numbers = passage_numbers(s, doc_id, rec.passages)
            passages = [passage_record(s.stored_fields(numbers[pid])) for pid in rec.passages if pid in numbers]
        return rec, passages
