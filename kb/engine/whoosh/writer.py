"""Writing a Whoosh index: one transaction of deletes and adds, committed atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Sequence

from ... import config
from ...models import Document, Passage
from ..base import DocumentRecord, PassageRecord, WriteTransaction
from .codec import document_fields, document_record, passage_fields, passage_record
from .errors import engine_errors

__all__ = ["WhooshTransaction"]


class WhooshTransaction(WriteTransaction):
    """A Whoosh writer on one index directory.

    With ``workers`` > 1, Whoosh's multi-process writer: this process keeps
    reading and chunking files while the workers segment the text and build
    segments. Whoosh's commit writes the new segments first and then swaps
    its table of contents with a rename, so a commit is atomic.
    """

    def __init__(self, path: Path, *, workers: int = 1):
        from whoosh.filedb.filestore import FileStorage

        self.path = path
        with engine_errors(path):
            self._ix = FileStorage(str(path)).open_index()
            self.base = self._ix.latest_generation()
            self._empty = self._ix.doc_count_all() == 0
            if workers > 1:
                self._w = self._ix.writer(procs=workers, multisegment=True, limitmb=config.WRITER_MEMORY_MB // 2)
            else:
                self._w = self._ix.writer(limitmb=config.WRITER_MEMORY_MB)
            self.commit = self._w.generation
        self._open = True
        self._base_searcher = None

    def delete_document(self, doc_id: str) -> None:
        if self._empty:
            return  # nothing to delete in a new index (and deleting by term there costs a scan per call)
        with engine_errors(self.path):
            self._w.delete_by_term("doc_id", doc_id)
            self._w.delete_by_term("docrec", doc_id)

    def add_document(self, doc: Document, passages: Sequence[Passage], topics: Sequence[Sequence[str]]) -> None:
        records = [document_fields(doc, [p.id for p in passages])]
        records += [passage_fields(doc, p, t) for p, t in zip(passages, topics)]
        with engine_errors(self.path):
            for fields in records:
                self._w.add_document(**fields)

    def _close_base(self) -> None:
        if self._base_searcher is not None:
            searcher, self._base_searcher = self._base_searcher, None
            searcher.close()

    def commit_with(self, before: Callable[[int], None]) -> None:
        self._close_base()
        before(self.commit)
        with engine_errors(self.path):
            self._w.commit(optimize=False)
            self._open = False
            self._ix.close()

    def cancel(self) -> None:
        self._close_base()
        if self._open:
            self._open = False
            try:
                self._w.cancel()
            finally:
                self._ix.close()

    def base_passages(self) -> Iterator[tuple[str, str]]:
        with engine_errors(self.path), self._ix.reader() as r:
            rows = [(f["id"], passage_record(f).text) for f in r.all_stored_fields() if "id" in f and "p" in f]
        return iter(rows)

    def base_documents(self) -> Iterator[DocumentRecord]:
        with engine_errors(self.path), self._ix.reader() as r:
            records = [document_record(f) for f in r.all_stored_fields() if "docrec" in f]
        return iter(records)

    def base_document(self, doc_id: str) -> tuple[DocumentRecord, list[PassageRecord]] | None:
        with engine_errors(self.path):
            if self._base_searcher is None:
                self._base_searcher = self._ix.searcher()  # one for the transaction: opening one reads every segment
            s = self._base_searcher
            stored = s.document(docrec=doc_id)
            if stored is None:
                return None
            rec = document_record(stored)
            passages = []
            for pid in rec.passages:
                f = s.document(id=pid)
                if f is not None:
                    passages.append(passage_record(f))
        return rec, passages
