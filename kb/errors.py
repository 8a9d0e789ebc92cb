"""The errors kb raises. Every message is one neutral sentence that says what went wrong.

Each class has a stable ``code`` that front ends map to their own terms (an
exit code, an HTTP status, an MCP error), a ``param`` naming the argument at
fault when there is one, so that a front end can name its own spelling of it
(the CLI says ``--limit`` where the API says ``limit``), and a ``hint`` token
naming what helps (``"topics"``: list the topic slugs). Messages name no
command-line flags; front ends add their own advice.
"""

from __future__ import annotations

__all__ = [
    "KBError",
    "IndexNotFoundError",
    "IndexVersionError",
    "IndexCorruptError",
    "IndexBusyError",
    "QueryError",
    "PassageNotFoundError",
    "DocumentNotFoundError",
    "SourceNotFoundError",
]


class KBError(Exception):
    """Base class of every error kb raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, param: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.param = param
        self.hint = hint


class IndexNotFoundError(KBError):
    """There is no index at the given location yet."""

    code = "index_not_found"


class IndexVersionError(KBError):
    """The index was written by another format version of kb and must be rebuilt."""

    code = "index_version"


class IndexCorruptError(KBError):
    """The index exists but cannot be read; rebuilding it repairs it."""

    code = "index_corrupt"


class IndexBusyError(KBError):
    """Another process is writing the index and did not finish within the timeout."""

    code = "index_busy"


class QueryError(KBError):
    """The query or a search option is invalid (empty, unbalanced, unknown field, bad date or limit...)."""

    code = "bad_query"


class PassageNotFoundError(KBError):
    """No passage has the requested id."""

    code = "passage_not_found"


class DocumentNotFoundError(KBError):
    """No document has the requested id."""

    code = "document_not_found"


class SourceNotFoundError(KBError):
    """A path given to ``index`` does not exist."""

    code = "source_not_found"
