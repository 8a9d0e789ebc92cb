"""Whoosh's exceptions → kb's errors, around calls into Whoosh only.

Whoosh reports damaged files in many ways (``TypeError: ord()`` for an empty
table of contents, ``struct.error``, ``EOFError``, ``zlib.error``…), so inside
a Whoosh call any exception means the index cannot be read. The mapping wraps
nothing but those calls: an error in kb's own code keeps its type and is never
reported as a damaged index.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from ...errors import IndexBusyError, IndexCorruptError, IndexNotFoundError, IndexVersionError, KBError

__all__ = ["engine_errors"]


@contextlib.contextmanager
def engine_errors(path: Path | str) -> Iterator[None]:
    """Re-raise exceptions from Whoosh as kb's own, most specific first."""
    from whoosh.index import EmptyIndexError, IndexVersionError as WhooshVersionError, LockError

    try:
        yield
    except (KBError, KeyboardInterrupt, MemoryError, RecursionError):
        raise
    except EmptyIndexError:
        raise IndexNotFoundError(f"No index at {path}; build one first.") from None
    except WhooshVersionError:
        raise IndexVersionError(f"The index at {path} was written by another Whoosh version; rebuild it.") from None
    except LockError:
        raise IndexBusyError(f"The index at {path} is being written by another process; try again when it finishes.") from None
    except Exception as e:  # noqa: BLE001 - inside Whoosh, any failure means unreadable files
        raise IndexCorruptError(
            f"The index at {path} cannot be read ({type(e).__name__}: {e}); rebuild it."
        ) from None
