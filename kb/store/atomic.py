"""Atomic file replacement: write a temporary file, fsync it, rename it, fsync the directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

__all__ = ["write_atomic", "write_chunks_atomic", "fsync_dir"]


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (a no-op where directories cannot be synced)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8); readers see the old or the new file."""
    write_chunks_atomic(path, [data.encode("utf-8") if isinstance(data, str) else data])


def write_chunks_atomic(path: Path, chunks: Iterable[bytes]) -> None:
    """Like ``write_atomic``, for data produced in pieces."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
