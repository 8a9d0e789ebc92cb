"""The index directory: generations, the live pointer, the write lock, and per-commit snapshots.

Layout::

    index/
      CURRENT          name of the live generation, replaced atomically
      gen-000001/      the engine's index, and kb's side files for each of its
                       commits (manifest-N.json, recall-N.bin, pinyin-N.tsv; see
                       kb.store.snapshot)
      .lock            held by the one process that writes

Readers open the generation named by CURRENT. An incremental run commits into
the live generation. A rebuild writes a new generation beside the live one
and flips CURRENT only when it is complete, so a failed or killed run leaves
the previous index searchable; the generation it replaces stays until the
next run, for searches that opened it just before the switch.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

from ..errors import IndexBusyError, IndexCorruptError, IndexNotFoundError, IndexVersionError, KBError
from .atomic import fsync_dir, write_atomic
from .snapshot import ManifestMissing, Snapshot

__all__ = ["FORMAT_VERSION", "IndexStore", "Snapshot", "ManifestMissing"]

FORMAT_VERSION = 7  # bump whenever the schema, the analysis or a side file's format changes
_CURRENT = "CURRENT"
_LOCK = ".lock"


class IndexStore:
    """An index directory: find the live generation, make new ones, lock, publish, collect garbage."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    # -- reading -----------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.path / _CURRENT).is_file()

    def current(self) -> Path:
        """The live generation directory; raises ``IndexNotFoundError`` when there is no index."""
        try:
            name = (self.path / _CURRENT).read_text("utf-8").strip()
        except FileNotFoundError:
            if self.path.is_dir() and any(self.path.glob("*.toc")):
                raise IndexVersionError(f"The index at {self.path} was written by an older version of kb; rebuild it.") from None
            raise IndexNotFoundError(f"No index at {self.path}; build one first.") from None
        except (OSError, UnicodeDecodeError) as e:
            raise IndexCorruptError(f"The index at {self.path} cannot be read ({e}); rebuild it.") from None
        gen = self.path / name
        if not name.startswith("gen-") or "/" in name or not gen.is_dir():
            raise IndexCorruptError(f"The index at {self.path} names a missing generation {name!r}; rebuild it.")
        return gen

    def snapshot(self, gen: Path, commit: int) -> Snapshot:
        return Snapshot(gen, commit, FORMAT_VERSION)

    def size_bytes(self) -> int:
        total = 0
        try:
            gen = self.current()
        except KBError:
            return 0
        with contextlib.suppress(OSError):  # (a generation replaced meanwhile)
            for p in gen.iterdir():
                with contextlib.suppress(OSError):
                    total += p.stat().st_size
        return total

    # -- writing -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Hold the index's write lock, waiting up to ``timeout`` seconds for another writer."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise IndexBusyError(
                            f"Another kb process is writing the index at {self.path}; "
                            f"waited {timeout:g} s, try again when it finishes."
                        ) from None
                    time.sleep(0.1)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def new_generation(self) -> Path:
        """Create an empty generation directory (not yet live)."""
        self.path.mkdir(parents=True, exist_ok=True)
        n = 1
        for p in self.path.glob("gen-*"):
            with contextlib.suppress(ValueError):
                n = max(n, int(p.name[4:10]) + 1)
        gen = self.path / f"gen-{n:06d}"
        gen.mkdir()
        return gen

    def publish(self, gen: Path, previous: Path | None = None) -> None:
        """Make ``gen`` the live generation; generations other than it and ``previous`` are deleted."""
        for p in gen.iterdir():
            if p.is_file():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
        fsync_dir(gen)
        write_atomic(self.path / _CURRENT, gen.name + "\n")
        self.collect_garbage(keep=(gen, previous))

    def collect_garbage(self, keep) -> None:
        """Delete generations other than those in ``keep`` (abandoned or replaced ones)."""
        keep = {k for k in keep if k is not None}
        for p in self.path.glob("gen-*"):
            if p not in keep and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)

