"""kb: a searchable knowledge base for Chinese policy documents.

    from kb import KnowledgeBase
    kb = KnowledgeBase("index")
    kb.index(["seeds"])
    for hit in kb.search("户籍", limit=5):
        print(hit.id, hit.title, hit.section, hit.snippet)
"""

from .api import KnowledgeBase, SearchResult
from .errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    KBError,
    PassageNotFoundError,
    QueryError,
    SourceNotFoundError,
)
from .models import Document, Hit, IndexSummary, Passage, Skipped, Stats

__version__ = "0.1.0"

__all__ = [
    "KnowledgeBase",
    "SearchResult",
    "Hit",
    "Passage",
    "Document",
    "IndexSummary",
    "Skipped",
    "Stats",
    "KBError",
    "IndexNotFoundError",
    "IndexVersionError",
    "IndexCorruptError",
    "IndexBusyError",
    "QueryError",
    "PassageNotFoundError",
    "SourceNotFoundError",
    "__version__",
]
