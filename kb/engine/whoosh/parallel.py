"""``ParallelBulkWriter``: the bulk writer with analysis and segment writing in worker processes.

The parent process hands batches of records (``add_document`` keyword
arguments) to a queue; each of ``procs`` workers takes batches as it becomes
free, analyses them (segmentation is most of the CPU) into its own
``SegmentBuilder``, and at ``commit`` writes its segment file. The parent
then commits one TOC that lists the new segments beside the old ones, so a
commit still switches the whole index at once, and a crash before it leaves
only unreferenced files (which the next commit deletes).

Records between ``start_group()`` and ``end_group()`` (a document and its
passages) always go to the same worker, so they stay in one segment, in
order. Deletions, merges and the TOC are the parent's, as in ``BulkWriter``.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as _queue
import traceback
from typing import Any

from .bulk import Analyzer, BulkWriter, SegmentBuilder

__all__ = ["ParallelBulkWriter", "default_procs"]

BATCH_CHARS = 200_000  # characters of field values per batch handed to a worker


def default_procs() -> int:
    """Every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _worker(tasks, results, analyze: Analyzer, folder: str, indexname: str, block_stored: bool, hook,
            parent: int) -> None:
    """Analyse batches until told to write (or stop); then write the segment and report it.

    A worker whose parent died exits within a second: a forked worker holds
    copies of the parent's file descriptors, and so its index locks.
    """
    try:
        from whoosh.filedb.filestore import FileStorage

        from ...text.segment import word_tokens

        word_tokens("预热分词词典")  # load the dictionary before the first batch arrives
        builder = SegmentBuilder(analyze.schema, block_stored)
        while True:
            try:
                kind, payload = tasks.get(timeout=1.0)
            except _queue.Empty:
                if os.getppid() != parent:
                    return
                continue
            if kind == "add":
                for fields in payload:
                    builder.add(analyze(fields))
            elif kind == "write":
                segment = None
                if len(builder):
                    segment = builder.write(FileStorage(folder), indexname, sync=payload)
                extra = hook(builder) if hook is not None else None
                results.put(("segment", segment, (builder.stats, extra), os.getpid()))
                return
            else:
                return
    except BaseException:
        results.put(("error", traceback.format_exc(), None, os.getpid()))


class ParallelBulkWriter(BulkWriter):
    """A ``BulkWriter`` whose new documents are analysed and written by ``procs`` worker processes.

    ``procs`` defaults to every core (``default_procs()``); with one
    process this is an ordinary ``BulkWriter``. ``context`` is a
    ``multiprocessing`` start method ("fork", "spawn", "forkserver").

    ``hook``, a picklable function, runs in each worker after it wrote its
    segment, with the worker's ``SegmentBuilder`` (its ``postings`` hold the
    terms of each field); what it returns (unless None) is in
    ``hook_results`` when ``commit``'s ``before_toc`` runs. kb uses it to
    compute the pinyin of new words where they are found, in parallel.
    """

    def __init__(self, ix, *, procs: int | None = None, context: str | None = None, block_stored: bool = False,
                 subwords: bool = True, batch_chars: int | None = None, hook=None, timeout: float = 0.0,
                 delay: float = 0.1):
        super().__init__(ix, block_stored=block_stored, subwords=subwords, timeout=timeout, delay=delay)
        self.procs = procs or default_procs()
        self.hook = hook
        self.hook_results: list = []
        self.batch_chars = batch_chars or BATCH_CHARS  # read at call time: tests make it small
        self._ctx = multiprocessing.get_context(context)
        self._batch: list[dict[str, Any]] = []
        self._chars = 0
        self._depth = 0
        self._workers: list = []
        self._tasks = self._results = None
        self.worker_stats: list[dict] = []

    def _start(self) -> None:
        ctx = self._ctx
        self._tasks = ctx.Queue(maxsize=4 * self.procs)
        self._results = ctx.Queue()
        folder = self.storage.folder
        for _ in range(self.procs):
            p = ctx.Process(target=_worker, args=(self._tasks, self._results, self.analyzer, folder, self.indexname,
                                                  self.block_stored, self.hook, os.getpid()), daemon=True)
            p.start()
            self._workers.append(p)

    # -- adding -----------------------------------------------------------------------
    def add_document(self, **fields) -> None:
        self._check()
        if self.procs == 1:
            super().add_document(**fields)
            return
        self._batch.append(fields)
        self._chars += sum(len(v) for v in fields.values() if isinstance(v, (str, bytes)))
        if self._depth == 0 and self._chars >= self.batch_chars:
            self._flush()

    def start_group(self) -> None:
        """Keep the records added until ``end_group`` in one segment."""
        self._depth += 1

    def end_group(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._chars >= self.batch_chars:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        if not self._workers:
            self._start()
        self._put(("add", self._batch))
        self._batch = []
        self._chars = 0

    def _put(self, item) -> None:
        while True:
            try:
                self._tasks.put(item, timeout=1.0)
                return
            except _queue.Full:
                self._check_workers()

    def _check_workers(self) -> None:
        try:
            kind, payload, _stats, _pid = self._results.get_nowait()
        except _queue.Empty:
            if any(not p.is_alive() for p in self._workers):
                raise RuntimeError("an index worker process died") from None
            return
        if kind == "error":
            raise RuntimeError(f"an index worker failed:\n{payload}")

    # -- finishing --------------------------------------------------------------------
    def commit(self, merge: bool = True, optimize: bool = False, sync: bool = True, before_toc=None) -> None:
        """As ``BulkWriter.commit``; ``hook_results`` are complete when ``before_toc`` runs."""
        self._check()
        if not self._workers:  # one process, or less than one batch: no worker is worth starting
            try:
                for fields in self._batch:
                    self.builder.add(self.analyzer(fields))
                self._batch = []
                if self.hook is not None and len(self.builder):
                    result = self.hook(self.builder)
                    if result is not None:
                        self.hook_results.append(result)
            except BaseException:
                self._finish()
                raise
            super().commit(merge=merge, optimize=optimize, sync=sync, before_toc=before_toc)
            return
        try:
            if self._batch:
                self._flush()
            for _ in self._workers:
                self._put(("write", sync))
            for _ in self._workers:
                kind, payload, stats, _pid = self._get_result()
                if kind == "error":
                    raise RuntimeError(f"an index worker failed:\n{payload}")
                if payload is not None:
                    self.add_segment(payload)
                    self.worker_stats.append(stats[0])
                if self.hook is not None and stats[1] is not None:
                    self.hook_results.append(stats[1])
        except BaseException:
            self._stop_workers()
            if not self.is_closed:
                self._finish()
            raise
        self._join()
        super().commit(merge=merge, optimize=optimize, sync=sync, before_toc=before_toc)

    def _get_result(self):
        while True:
            try:
                return self._results.get(timeout=1.0)
            except _queue.Empty:
                if any(not p.is_alive() and p.exitcode not in (0, None) for p in self._workers):
                    raise RuntimeError("an index worker process died before writing its segment") from None

    def cancel(self) -> None:
        self._stop_workers()
        super().cancel()

    def _join(self) -> None:
        for p in self._workers:
            p.join(timeout=60)
        self._workers = []

    def _stop_workers(self) -> None:
        for p in self._workers:
            if p.is_alive():
                p.kill()
        for p in self._workers:
            p.join(timeout=10)
        self._workers = []
