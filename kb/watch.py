"""Keeping an index current: index again whenever files under the watched folders change.

Built on ``watchfiles`` (native file-system notifications: inotify on Linux,
FSEvents on macOS; polling where there are none, or with
``WATCHFILES_FORCE_POLLING=1``). Events are debounced: a burst of changes
(an editor's save, a copied folder) becomes one index run once the folders
have been quiet for ``debounce`` seconds. Each run is an ordinary
incremental ``KnowledgeBase.index`` over the watched paths, so whatever
happened while nobody was watching is caught up too, and the manifest alone
decides what was added, changed or removed.

The users' vocabulary folders are watched as well: a new segmentation word
or topic is applied to the indexed documents by the next run.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Callable, Iterator

from . import config
from .errors import KBError, SourceNotFoundError
from .models import IndexSummary

__all__ = ["watch"]


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def watch(kb, paths: list[Path], *, debounce: float = 0.5, stop: threading.Event | None = None,
          lock_timeout: float = config.LOCK_TIMEOUT,
          on_error: Callable[[KBError], None] | None = None) -> Iterator[IndexSummary]:
    """See ``KnowledgeBase.watch``. Raises ``SourceNotFoundError`` at once for a path that does not exist."""
    if not paths:
        raise SourceNotFoundError("Give at least one file or folder to watch.", param="paths")
    for p in paths:
        if not p.exists():
            raise SourceNotFoundError(f"{p} does not exist; give a file or directory to watch.", param="paths")
    if debounce < 0:
        raise KBError("The debounce must be zero or more seconds.", param="debounce")
    return _watch(kb, paths, debounce, stop, lock_timeout, on_error)


def _watch(kb, paths, debounce, stop, lock_timeout, on_error) -> Iterator[IndexSummary]:
    import watchfiles

    index_dir = Path(kb.path).absolute()
    lexicon_dirs = [f.absolute() for f in kb.lexicon.folders if f.is_dir()]

    def relevant(_change, name: str) -> bool:
        p = Path(name)
        if _inside(p, index_dir):
            return False  # our own writes
        if any(_inside(p, d) for d in lexicon_dirs):
            return True
        return not p.name.startswith(".") and not p.name.endswith("~")

    def run() -> IndexSummary | None:
        try:
            return kb.index(paths, lock_timeout=lock_timeout)
        except KBError as e:  # busy lock, a folder that vanished: report, keep watching
            if on_error is not None:
                on_error(e)
            return None

    # The watcher runs in a thread and is live before the first run, so no change made during or
    # right after that run is missed; bursts reach this generator through a queue.
    bursts: queue.Queue = queue.Queue()
    ready = threading.Event()
    done = threading.Event()
    quiet_ms = max(1, int(debounce * 1000))
    targets = [str(p) for p in (*paths, *lexicon_dirs)]

    def watcher() -> None:
        try:
            for changes in watchfiles.watch(*targets, watch_filter=relevant, step=quiet_ms,
                                             debounce=max(2000, 4 * quiet_ms), stop_event=done,
                                             rust_timeout=_READY_MS, yield_on_timeout=True, raise_interrupt=False):
                ready.set()
                if changes:
                    bursts.put(changes)
        except Exception as e:  # noqa: BLE001 - reported to the consumer, which stops
            bursts.put(e)
        finally:
            ready.set()
            bursts.put(None)

    thread = threading.Thread(target=watcher, name="kb-watch", daemon=True)
    thread.start()
    try:
        ready.wait(_READY_MS / 1000 * 10)
        first = run()
        if first is not None:
            yield first
        while not (stop is not None and stop.is_set()):
            try:
                item = bursts.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is None:
                return
            if isinstance(item, Exception):
                raise KBError(f"Watching stopped: {item}; start it again.") from item
            while True:  # bursts that queued up while indexing: one run covers them all
                try:
                    if bursts.get_nowait() is None:
                        bursts.put(None)
                        break
                except queue.Empty:
                    break
            summary = run()
            if summary is not None and (summary.changes or summary.reanalysed or summary.retagged):
                yield summary
    finally:
        done.set()
        thread.join(timeout=10)


_READY_MS = 200  # the watcher reports itself live after this long without changes
