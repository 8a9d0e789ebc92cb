"""The errors kb raises. Every message is one sentence that says what to do next."""

from __future__ import annotations

__all__ = [
    "KBError",
    "IndexNotFoundError",
    "IndexVersionError",
    "IndexCorruptError",
    "IndexBusyError",
    "QueryError",
    "PassageNotFoundError",
    "SourceNotFoundError",
]


class KBError(Exception):
    """Base class of every error kb raises on purpose."""


class IndexNotFoundError(KBError):
    """There is no index at the given location yet."""


class IndexVersionError(KBError):
    """The index was written by another format version of kb and must be rebuilt."""


class IndexCorruptError(KBError):
    """The index exists but cannot be read."""


class IndexBusyError(KBError):
    """Another process is writing the index and did not finish within the timeout."""


class QueryError(KBError):
    """The query string cannot be parsed (empty, unbalanced quotes or parentheses, unknown field...)."""


class PassageNotFoundError(KBError):
    """No passage has the requested id."""


class SourceNotFoundError(KBError):
    """A path given to `index` does not exist."""
