"""The engine interface: what kb needs from an index engine, and nothing about how one works.

An engine stores two kinds of records in an index directory it owns:
passages (searchable text, section path, topics, date range, and what a hit
shows) and documents (title, metadata, passage ids; stored once). It is
written through a ``WriteTransaction`` and read through an ``EngineReader``.
Each commit has a number (``commit``) that grows with every commit; kb keys
its own per-commit side files (``kb.store.Snapshot``) by it.

Reading executes a plan node (``kb.query.plan``) and returns rows
(``(ref, score)``; a ref is the engine's own handle on a passage) within an
``Allowed`` restriction that the engine resolved from the search's filters.
Verbatim recall (kb's own side file) reaches the engine as a ``Recall``
object that lists the ids of passages containing a string.

Errors: an engine maps its own exceptions to ``IndexCorruptError`` (and the
other ``KBError``s) only around its own calls, never around kb's code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

from ..models import Document, Passage

__all__ = [
    "PassageRecord",
    "DocumentRecord",
    "Recall",
    "Row",
    "Engine",
    "EngineReader",
    "WriteTransaction",
]


@dataclass(frozen=True)
class PassageRecord:
    """What a hit shows of a passage, as stored."""

    id: str
    doc_id: str
    text: str
    section: str
    paragraph: int = 0
    part: int = 0
    seq: int = 0
    start: int = 0
    end: int = 0
    topics: tuple[str, ...] = ()
    page: int = 0


@dataclass(frozen=True)
class DocumentRecord:
    """A document's metadata and passage ids, stored once."""

    id: str
    title: str
    date: str = ""
    source: str = ""
    editor: str = ""
    path: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    passages: tuple[str, ...] = ()
    rel: str = ""  # path relative to the indexed root


class Recall(Protocol):
    """Verbatim recall: the passages whose normalised text contains a string."""

    @property
    def available(self) -> bool:
        """False when the recall file is missing or unreadable (then verbatim matching is skipped)."""

    def find(self, needle: str, cap: int) -> list[str] | None:
        """Ids of the passages containing ``needle``; None when more than ``cap`` do."""


Row = tuple[Any, float]  # (engine ref, score)


class EngineReader(ABC):
    """A consistent view of one commit of the index. Not shared between threads."""

    commit: int

    # -- statistics (planning asks these) ----------------------------------------------------------
    @abstractmethod
    def doc_frequency(self, term: str) -> int:
        """Passages whose text holds ``term`` as a word."""

    @abstractmethod
    def terms_with_prefix(self, prefix: str) -> Iterator[str]:
        """Words of the passage text that start with ``prefix``."""

    @abstractmethod
    def text_terms(self) -> Iterator[str]:
        """Every word of the passage text."""

    # -- records -----------------------------------------------------------------------------------
    @abstractmethod
    def passage(self, passage_id: str) -> PassageRecord | None: ...

    @abstractmethod
    def passage_at(self, ref) -> PassageRecord: ...

    @abstractmethod
    def document(self, doc_id: str) -> DocumentRecord | None: ...

    @abstractmethod
    def documents(self) -> Iterator[DocumentRecord]: ...

    @abstractmethod
    def passage_count(self) -> int: ...

    @abstractmethod
    def documents_matching(self, allowed) -> set[str]:
        """Ids of the documents with at least one passage in ``allowed`` (an ``allowed()`` value, not None)."""

    @abstractmethod
    def topic_count(self, slug: str) -> int: ...

    # -- whole match sets (grouping, facets, export) -------------------------------------------------
    @abstractmethod
    def metadata_keys(self) -> tuple[str, ...]:
        """Every metadata field some document has, sorted."""

    @abstractmethod
    def group_refs(self, refs: Iterable) -> dict[str, list]:
        """Refs by document id, in the order given (documents in the order of their first ref)."""

    @abstractmethod
    def doc_of(self, ref) -> str:
        """The id of the document a passage ref belongs to."""

    @abstractmethod
    def topic_refs(self, slug: str) -> frozenset:
        """Every passage tagged with a topic."""

    @abstractmethod
    def documents_containing(self, needles: Iterable[str]) -> set[str]:
        """Ids of documents whose title or a section path contains any normalised needle."""

    @abstractmethod
    def docnums_for_ids(self, ids: Sequence[str]) -> frozenset:
        """Refs of passages by id (unknown ids are left out)."""

    # -- searching ---------------------------------------------------------------------------------
    @abstractmethod
    def allowed(self, filters: Sequence, dates: tuple[str, str] | None):
        """The passages a search may return (None: all), from plan filters and a date range."""

    @abstractmethod
    def search(self, node, *, allowed, limit: int, recall: Recall | None = None, exclude: frozenset = frozenset(),
               with_verbatim: bool = False, min_match: int = 0) -> tuple[int, list[Row]]:
        """(how many passages match, the best ``limit`` rows) for a plan node (None: every allowed passage).

        ``with_verbatim`` adds, for every word, the passages that hold it only
        verbatim (except those in ``exclude``, which the word index already
        found); they score low. With ``min_match`` 1, an ``AllOf`` matches
        passages with any of its parts (relaxation; exclusions still hold).
        """

    @abstractmethod
    def refs(self, node, *, allowed, recall: Recall | None = None, with_verbatim: bool = False,
             min_match: int = 0) -> frozenset:
        """Every passage a plan node matches (for counting which words a passage has)."""

    @abstractmethod
    def close(self) -> None: ...


class WriteTransaction(ABC):
    """One write to the index: deletes and adds, then commit (or cancel). A context manager."""

    commit: int  # the number the commit will have
    base: int  # the commit this transaction started from (-1 for a new index)
    # What ``on_words`` (see ``Engine.begin``) returned, once per process that found new words.
    word_results: list

    @abstractmethod
    def delete_document(self, doc_id: str) -> int:
        """Delete a document's record and passages (a no-op when it is not there); returns the passages deleted."""

    @abstractmethod
    def add_document(self, doc: Document, passages: Sequence[Passage], topics: Sequence[Sequence[str]]) -> None: ...

    @abstractmethod
    def commit_with(self, before: Callable[[int], None]) -> None:
        """Run ``before(commit)`` (kb writes its side files there), then commit atomically."""

    @abstractmethod
    def cancel(self) -> None: ...

    @abstractmethod
    def base_passages(self) -> Iterator[tuple[str, str]]:
        """(id, text) of every passage in the base commit (to repair a lost side file)."""

    @abstractmethod
    def base_documents(self) -> Iterator[DocumentRecord]:
        """Every document record in the base commit (to repair a lost manifest)."""

    @abstractmethod
    def base_document(self, doc_id: str) -> tuple[DocumentRecord, list[PassageRecord]] | None:
        """A document's record and its passages' records in the base commit (None when it is not there).

        kb re-analyses a document from these (new segmentation words, new
        topic tags) without reading its file again.
        """

    def __enter__(self) -> "WriteTransaction":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.cancel()


class Engine(ABC):
    """An index engine bound to one directory."""

    name: str

    @abstractmethod
    def create(self, path: Path) -> None:
        """Make an empty index in ``path`` (an existing empty directory)."""

    @abstractmethod
    def latest_commit(self, path: Path) -> int:
        """The number of the newest commit in ``path`` (-1 when there is none)."""

    @abstractmethod
    def open_reader(self, path: Path) -> EngineReader: ...

    @abstractmethod
    def begin(self, path: Path, *, workers: int = 1,
              on_words: Callable[[list[str]], Any] | None = None) -> WriteTransaction:
        """A write transaction; ``workers`` processes may share its work.

        ``on_words``, a picklable function, is called with the words of the
        passage text of the documents the transaction adds that the base
        commit does not have (once per process that analysed some, in that
        process; not at all when there are none); the transaction's
        ``word_results`` lists what it returned before ``commit_with`` runs
        its hook. kb computes the pinyin of new words there, so that it never
        reads the whole vocabulary again.
        """

    @abstractmethod
    def counts(self, path: Path) -> tuple[int, int]:
        """(documents, passages) in the newest commit."""

    def files(self, path: Path) -> Iterable[Path]:
        """The files of the index in ``path`` (for size and for tests that damage them)."""
        return (p for p in path.iterdir() if p.is_file())
