"""Frozen values shared by every layer of kb. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Block",
    "Document",
    "Passage",
    "PassageId",
    "Hit",
    "SearchResult",
    "Skipped",
    "IndexSummary",
    "Stats",
    "Expansion",
    "TopicCount",
    "DocumentInfo",
    "OutlineEntry",
    "DocumentGroup",
    "Facet",
    "FacetValue",
    "FieldInfo",
    "FileChange",
    "RemoveSummary",
    "LexiconProblem",
    "LexiconFile",
    "LexiconReport",
]


@dataclass(frozen=True)
class Block:
    """One unit of a document's body as its reader found it.

    ``start``/``end`` is its span in ``Document.text``. ``kind`` is ``"para"``
    (text; its lines form one paragraph unless a line is a heading by its
    wording, such as 一、 or 第三条), ``"heading"`` (a heading the format marks
    itself: a Markdown ``#``, a Word heading style; ``level`` 1 is outermost) or
    ``"table"`` (a table row or cell group: a passage of its own). ``page`` is
    the 1-based page the block starts on, 0 when the format has no pages.
    """

    start: int
    end: int
    kind: str = "para"
    level: int = 0
    page: int = 0


@dataclass(frozen=True)
class Document:
    """One source document, as a reader made it from a file or a JSONL line.

    ``text`` is the document's text with line endings normalised to ``\\n``;
    ``blocks`` are the spans of its body, in order (a title, page headers or
    a site's boilerplate are in no block, so they are never a passage). A
    document whose ``blocks`` are None is chunked line by line over its whole
    text.
    """

    id: str
    title: str
    text: str
    date: str = ""
    source: str = ""
    editor: str = ""
    path: str = ""
    format: str = "txt"
    blocks: tuple[Block, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    rel: str = ""  # the file's path relative to the indexed root (set by the indexer)


@dataclass(frozen=True, order=True)
class PassageId:
    """A passage's stable id: ``<doc_id>#<paragraph>``, or ``#<paragraph>.<part>`` for a part of a long paragraph."""

    doc_id: str
    paragraph: int
    part: int = 0

    @classmethod
    def parse(cls, value: str) -> "PassageId | None":
        """The id's parts, or None when ``value`` is not a passage id."""
        doc_id, sep, rest = str(value).rpartition("#")
        if not sep or not doc_id:
            return None
        para, _, part = rest.partition(".")
        if not para.isdigit() or (part and not part.isdigit()):
            return None
        return cls(doc_id, int(para), int(part or 0))

    def __str__(self) -> str:
        return f"{self.doc_id}#{self.paragraph}" + (f".{self.part}" if self.part else "")


@dataclass(frozen=True)
class Passage:
    """A searchable unit: one body paragraph, or one bounded part of a long one.

    ``id`` is ``<doc_id>#<paragraph>`` or ``<doc_id>#<paragraph>.<part>`` when a
    long paragraph was split; ``start``/``end`` is its span in the document text,
    and ``text == document.text[start:end]``.
    """

    id: str
    doc_id: str
    seq: int
    paragraph: int
    part: int
    start: int
    end: int
    text: str
    section: str
    page: int = 0  # 1-based page it starts on; 0 when the document has no pages


@dataclass(frozen=True)
class Expansion:
    """A term a query was widened to, and where it came from (glossary, dictionary, pinyin...)."""

    query: str
    term: str
    origin: str


@dataclass(frozen=True)
class Hit:
    """One matching passage with its document context and highlights.

    ``highlights`` are ``(start, end)`` character spans in ``text``; ``snippet``
    is an excerpt with each highlight wrapped in ``<mark>…</mark>``; ``page``
    is the page the passage starts on, None for documents without pages.
    ``path`` is the document's file on this machine; ``rel`` is that path
    relative to the indexed root (what a server may show to others).
    ``also_in`` holds the ids of passages elsewhere with the same text
    (copies of it in other documents), which a search shows once, as this hit.
    """

    id: str
    doc_id: str
    title: str
    date: str
    source: str
    paragraph: int
    section: str
    text: str
    snippet: str
    score: float
    highlights: tuple[tuple[int, int], ...] = ()
    start: int = 0
    end: int = 0
    path: str = ""
    topics: tuple[str, ...] = ()
    context: tuple["Hit", ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    page: int | None = None
    rel: str = ""
    also_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchResult:
    """The hits of one search, best first, with facts about the search.

    Iterating, ``len()`` and indexing go over ``hits``. ``query``: the query
    the hits answer; ``total``: how many passages match in all; ``expanded``:
    the terms the query was widened to; ``suggestion``: a "did you mean"
    query, or ""; ``corrected``: True when the query as typed found nothing
    and these are the suggestion's hits; ``relaxed``: True when some hits
    lack a word of the query (no passage has every word, or a question has
    fewer such passages than asked for); they follow those that have them
    all, ranked by how much of the query they cover.

    With ``group_by="doc"``, ``groups`` holds one ``DocumentGroup`` per
    matching document (the shown ones) and ``hits`` their best passages, in
    the same order. ``facets`` are counts over every match, when asked for.
    ``total_documents`` is the number of matching documents when it was
    computed (grouping or facets), else None. ``lexicon_outdated`` is True
    when the users' segmentation words changed since the index was built
    (the next ``index`` run applies them).
    """

    hits: tuple[Hit, ...]
    query: str
    total: int
    expanded: tuple[Expansion, ...] = ()
    suggestion: str = ""
    corrected: bool = False
    relaxed: bool = False
    groups: tuple["DocumentGroup", ...] = ()
    facets: tuple["Facet", ...] = ()
    total_documents: int | None = None
    lexicon_outdated: bool = False

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, i):
        return self.hits[i]

    def __bool__(self) -> bool:
        return bool(self.hits)


@dataclass(frozen=True)
class Skipped:
    """A file (or JSONL line) that was not indexed, and why."""

    path: str
    reason: str
    line: int = 0
    kind: str = "file"  # "file", "line" (of a JSONL file) or "directory"


@dataclass(frozen=True)
class FileChange:
    """What an index run did to one file: ``action`` is ``added``, ``updated``, ``removed`` or ``skipped``."""

    path: str
    action: str
    documents: int = 0
    passages: int = 0
    reason: str = ""


@dataclass(frozen=True)
class IndexSummary:
    """What one `index` run did. ``files`` counts the files it found.

    ``changes`` lists each file the run added, updated, removed or skipped
    (unchanged files are not listed). ``reanalysed`` counts documents
    indexed again because the users' segmentation words changed, ``retagged``
    documents whose topic tags changed with the topic vocabulary.
    """

    indexed: int
    updated: int
    removed: int
    unchanged: int
    skipped: tuple[Skipped, ...]
    passages: int
    files: int = 0
    documents: int = 0
    total_documents: int = 0
    total_passages: int = 0
    seconds: float = 0.0
    changes: tuple[FileChange, ...] = ()
    reanalysed: int = 0
    retagged: int = 0


@dataclass(frozen=True)
class Stats:
    """Size and provenance of an index."""

    documents: int
    passages: int
    files: int
    index_path: str
    size_bytes: int
    format: int
    sources: tuple[str, ...] = ()
    last_indexed: str = ""


@dataclass(frozen=True)
class TopicCount:
    """A topic of the taxonomy and how many passages of the index carry it."""

    slug: str
    en: str
    zh: str
    passages: int


@dataclass(frozen=True)
class OutlineEntry:
    """One section of a document's outline: its path and the passages filed under it, in order."""

    section: str
    passages: tuple[str, ...]


@dataclass(frozen=True)
class DocumentInfo:
    """An indexed document: metadata, passage count, and (when asked for) its outline and text.

    ``path`` is the file's path relative to the indexed root (never an
    absolute path); ``outline`` lists sections in document order;
    ``text`` is the whole text of its passages with section headings, when
    asked for.
    """

    id: str
    title: str
    date: str
    source: str
    path: str
    passages: int
    metadata: dict[str, Any] = field(default_factory=dict)
    outline: tuple[OutlineEntry, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class DocumentGroup:
    """One matching document of a grouped search.

    ``document`` describes it (no outline or text); ``best`` is its best
    passage; ``matches`` how many of its passages match; ``sections`` the
    sections holding them, in document order, each with the matching
    passage ids; ``score`` the best passage's score.
    """

    document: DocumentInfo
    best: Hit
    matches: int
    sections: tuple[OutlineEntry, ...]
    score: float


@dataclass(frozen=True)
class FacetValue:
    """One value of a facet: the matching passages and documents that have it."""

    value: str
    passages: int
    documents: int


@dataclass(frozen=True)
class Facet:
    """Counts per value of one field over every match, most frequent first."""

    field: str
    values: tuple[FacetValue, ...]


@dataclass(frozen=True)
class FieldInfo:
    """A document field that ``where`` filters and ``facets`` count, as the index holds it.

    ``documents``: how many documents have a value for it; ``values``: how
    many distinct values (as text) it takes; ``examples``: its most frequent
    values, at most five; ``metadata``: False for kb's own fields (``id``,
    ``title``, ``date``, ``source``, ``path``, ``year``).
    """

    name: str
    documents: int
    values: int
    examples: tuple[str, ...] = ()
    metadata: bool = True


@dataclass(frozen=True)
class RemoveSummary:
    """What ``remove`` dropped: the documents, the files no longer indexed, and the passages."""

    documents: tuple[str, ...]
    files: tuple[str, ...]
    passages: int
    total_documents: int = 0
    total_passages: int = 0


@dataclass(frozen=True)
class LexiconProblem:
    """A line of a user's vocabulary file that kb cannot use (``line`` 0: the whole file)."""

    path: str
    line: int
    message: str


@dataclass(frozen=True)
class LexiconFile:
    """A user's vocabulary file that was found, and how many entries it gives."""

    path: str
    kind: str
    entries: int


@dataclass(frozen=True)
class LexiconReport:
    """The result of checking users' vocabulary: the folders searched, the files found, the problems.

    ``pending_words`` are segmentation words added or removed since the
    index was built (the next ``index`` run applies them); empty when there
    is no index.
    """

    folders: tuple[str, ...]
    files: tuple[LexiconFile, ...]
    problems: tuple[LexiconProblem, ...]
    pending_words: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems
