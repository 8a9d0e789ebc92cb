"""The on-disk index: schema and format version, generations, locking, writing.

Layout of an index directory::

    index/
      CURRENT          name of the live generation, replaced atomically
      gen-000001/      a Whoosh index, and for each of its generations G a file
                       manifest (manifest-G.json) and a recall file (recall-G.bin),
                       both written before the commit that creates G
      .lock            held by the one process that writes

Readers open the generation named by CURRENT. An incremental run commits into
the live generation (Whoosh writes new segments, then swaps its table of
contents with a rename). ``--rebuild`` writes a new generation beside the live
one and flips CURRENT only when it is complete, so a failed or killed run
leaves the previous index searchable.

Whoosh's own exceptions are mapped to kb's errors in ``whoosh_errors``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from whoosh import fields
from whoosh.filedb.filestore import FileStorage

from .analysis import WordTokenizer
from .errors import IndexBusyError, IndexCorruptError, IndexNotFoundError, IndexVersionError, KBError

__all__ = ["FORMAT_VERSION", "make_schema", "IndexDir", "Manifest", "whoosh_errors"]

FORMAT_VERSION = 4
_META = "kb.json"  # in older formats; now manifest-<whoosh generation>.json
_CURRENT = "CURRENT"
_LOCK = ".lock"


def make_schema() -> fields.Schema:
    """The index schema. Bump FORMAT_VERSION whenever it or the analysis changes.

    Two kinds of records share it. A passage has ``id`` and the searchable
    fields. A document's record has ``docrec``, its title (indexed once, not
    with every passage) and its metadata. Word fields keep frequencies, not
    positions: exact phrases are checked against the verbatim text in
    ``recall.bin``.
    """
    words = WordTokenizer()
    return fields.Schema(
        # passages
        id=fields.ID(stored=True, unique=True),
        doc_id=fields.ID(),
        section=fields.TEXT(analyzer=words, phrase=False, field_boost=1.5),
        section_key=fields.ID(),
        text=fields.TEXT(analyzer=words, phrase=False),
        date_lo=fields.ID(),
        date_hi=fields.ID(),
        topics=fields.KEYWORD(commas=True, lowercase=True),
        # text, section, paragraph, part, seq, start, end, topics: zlib-compressed JSON
        p=fields.STORED(),
        # documents
        docrec=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=words, phrase=False),
        title_key=fields.ID(),
        doc=fields.STORED(),  # {"title", "date", "source", "editor", "path", "metadata", "passages": [ids]}
    )


class ManifestMissing(IndexCorruptError):
    """The generation has no manifest (written by a run that was killed before it)."""


def whoosh_generation(gen: Path) -> int:
    """The latest Whoosh generation in a generation directory (-1 when there is none)."""
    best = -1
    for p in gen.glob("_MAIN_*.toc"):
        try:
            best = max(best, int(p.name[6:-4]))
        except ValueError:
            pass
    return best


@contextlib.contextmanager
def whoosh_errors(path: Path) -> Iterator[None]:
    """Re-raise Whoosh's exceptions as kb's own, most specific first."""
    from whoosh.index import EmptyIndexError, IndexVersionError as WhooshVersionError, LockError

    try:
        yield
    except KBError:
        raise
    except EmptyIndexError:
        raise IndexNotFoundError(f"No index at {path}; run `kb index` first.") from None
    except WhooshVersionError:
        raise IndexVersionError(f"The index at {path} was written by another Whoosh version; run `kb index --rebuild`.") from None
    except LockError:
        raise IndexBusyError(f"The index at {path} is being written by another process; try again when it finishes.") from None
    except (OSError, EOFError, ValueError, KeyError, AttributeError, ImportError) as e:
        raise IndexCorruptError(
            f"The index at {path} cannot be read ({type(e).__name__}: {e}); run `kb index --rebuild`."
        ) from None


@dataclass
class Manifest:
    """Per-file fingerprints and the documents each file produced."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: str = ""
    updated: str = ""
    generation: int = -1  # the Whoosh generation this manifest describes

    def owner_of(self) -> dict[str, str]:
        owners = {}
        for key, rec in self.files.items():
            for d in rec.get("docs", ()):
                owners[d] = key
        return owners

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "created": self.created, "updated": self.updated,
                "generation": self.generation, "files": self.files}


def _fsync_dir(path: Path) -> None:
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


def _write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class IndexDir:
    """An index directory: find the live generation, open it, write new ones."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    # -- reading ---------------------------------------------------------
    def exists(self) -> bool:
        return (self.path / _CURRENT).is_file()

    def current_generation(self) -> Path:
        try:
            name = (self.path / _CURRENT).read_text("utf-8").strip()
        except FileNotFoundError:
            if self.path.is_dir() and any(self.path.glob("*.toc")):
                raise IndexVersionError(
                    f"The index at {self.path} was written by another version of kb; run `kb index --rebuild`."
                ) from None
            raise IndexNotFoundError(
                f"No index at {self.path}; run `kb index PATH` to build one (or set --index / KB_INDEX)."
            ) from None
        except OSError as e:
            raise IndexCorruptError(f"The index at {self.path} cannot be read ({e.strerror}).") from None
        gen = self.path / name
        if not name.startswith("gen-") or not gen.is_dir():
            raise IndexCorruptError(f"The index at {self.path} names a missing generation {name!r}; run `kb index --rebuild`.")
        return gen

    def read_manifest(self, gen: Path | None = None, generation: int | None = None) -> Manifest:
        """The file manifest of a Whoosh generation (default: the latest one)."""
        gen = gen or self.current_generation()
        if generation is None:
            generation = whoosh_generation(gen)
        path = gen / f"manifest-{generation}.json"
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            if (gen / _META).exists():
                raise IndexVersionError(
                    f"The index at {self.path} was written by an older kb; run `kb index --rebuild`."
                ) from None
            raise ManifestMissing(f"The index at {self.path} has no {path.name}; run `kb index --rebuild`.") from None
        except (OSError, ValueError) as e:
            raise IndexCorruptError(f"The index at {self.path} has an unreadable {_META} ({e}); run `kb index --rebuild`.") from None
        fmt = data.get("format")
        if fmt != FORMAT_VERSION:
            raise IndexVersionError(
                f"The index at {self.path} has format {fmt}, this kb reads format {FORMAT_VERSION}; run `kb index --rebuild`."
            )
        return Manifest(files=data.get("files", {}), created=data.get("created", ""), updated=data.get("updated", ""),
                        generation=int(data.get("generation", -1)))

    def open(self, gen: Path | None = None):
        """The live Whoosh index (read side). Retries once if a writer swapped files underneath."""
        for attempt in range(3):
            gen_path = gen or self.current_generation()
            self.read_manifest(gen_path)
            try:
                with whoosh_errors(self.path):
                    return FileStorage(str(gen_path), readonly=True).open_index()
            except (IndexCorruptError, IndexNotFoundError):
                if attempt == 2 or gen is not None:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def size_bytes(self) -> int:
        total = 0
        try:
            gen = self.current_generation()
        except KBError:
            return 0
        for p in gen.iterdir():
            with contextlib.suppress(OSError):
                total += p.stat().st_size
        return total

    # -- writing ---------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, timeout: float = 30.0) -> Iterator[None]:
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
        FileStorage(str(gen)).create_index(make_schema())
        return gen

    def write_manifest(self, gen: Path, manifest: Manifest, generation: int) -> None:
        """Write the manifest of Whoosh ``generation`` (before the commit that creates it)."""
        manifest.generation = generation
        _write_atomic(gen / f"manifest-{generation}.json", json.dumps(manifest.to_json(), ensure_ascii=False))

    def prune_manifests(self, gen: Path, keep) -> None:
        """Delete the manifests of Whoosh generations not in ``keep``."""
        from .recall import prune

        prune(gen, keep, "manifest-*.json")

    def publish(self, gen: Path, previous: Path | None = None) -> None:
        """Make ``gen`` the live generation.

        The generation it replaces stays on disk until the next run, so a
        search that read CURRENT just before the switch can still open it.
        """
        for p in gen.iterdir():
            if p.is_file():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
        _fsync_dir(gen)
        _write_atomic(self.path / _CURRENT, gen.name + "\n")
        self.collect_garbage(keep=(gen, previous))

    def collect_garbage(self, keep) -> None:
        """Delete generations other than those in ``keep`` (abandoned or replaced ones)."""
        keep = {k for k in (keep if isinstance(keep, (tuple, list, set)) else (keep,)) if k is not None}
        for p in self.path.glob("gen-*"):
            if p not in keep and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
