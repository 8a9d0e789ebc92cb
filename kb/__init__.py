"""kb: a searchable knowledge base for Chinese policy documents.

    from kb import KnowledgeBase
    kb = KnowledgeBase("index")
    kb.index(["seeds"])
    for hit in kb.search("户籍", limit=5):
        print(hit.id, hit.title, hit.section, hit.snippet)

The names below are imported on first use, so importing ``kb`` (and running
``kb --help``) loads neither the index engine nor the segmenter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.2.0"

_EXPORTS = {
    "KnowledgeBase": "kb.api",
    "SearchStream": "kb.api",
    "DocumentInfo": "kb.models",
    "OutlineEntry": "kb.models",
    "DocumentGroup": "kb.models",
    "Facet": "kb.models",
    "FacetValue": "kb.models",
    "FieldInfo": "kb.models",
    "FileChange": "kb.models",
    "RemoveSummary": "kb.models",
    "LexiconReport": "kb.models",
    "LexiconProblem": "kb.models",
    "LexiconFile": "kb.models",
    "SearchResult": "kb.models",
    "Hit": "kb.models",
    "Passage": "kb.models",
    "PassageId": "kb.models",
    "Document": "kb.models",
    "IndexSummary": "kb.models",
    "Skipped": "kb.models",
    "Stats": "kb.models",
    "TopicCount": "kb.models",
    "Expansion": "kb.models",
    "KBError": "kb.errors",
    "IndexNotFoundError": "kb.errors",
    "IndexVersionError": "kb.errors",
    "IndexCorruptError": "kb.errors",
    "IndexBusyError": "kb.errors",
    "QueryError": "kb.errors",
    "PassageNotFoundError": "kb.errors",
    "DocumentNotFoundError": "kb.errors",
    "SourceNotFoundError": "kb.errors",
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .api import KnowledgeBase, SearchStream
    from .errors import (DocumentNotFoundError, IndexBusyError, IndexCorruptError, IndexNotFoundError,
                         IndexVersionError, KBError, PassageNotFoundError, QueryError, SourceNotFoundError)
    from .models import (Document, DocumentGroup, DocumentInfo, Expansion, Facet, FacetValue, FieldInfo, FileChange,
                         Hit, IndexSummary, LexiconFile, LexiconProblem, LexiconReport, OutlineEntry, Passage,
                         PassageId, RemoveSummary, SearchResult, Skipped, Stats, TopicCount)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
