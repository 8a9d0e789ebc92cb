"""Write side: plan the changes, read and chunk the files, and commit them with their side files.

Incremental by default: a file whose size and mtime (or, failing that, content
hash) are unchanged is not read again (``kb.store.manifest.plan_changes``); a
changed file's documents are replaced; documents of files that disappeared
from the given roots are removed. Every document is deleted by id before it
is added, so re-running after an interrupted run never duplicates anything.

Crash safety: the manifest and the recall file of the commit are written
before the engine commits (``Snapshot.write`` in the transaction's pre-commit
hook), and a rebuild publishes its new generation only when it is complete.
A run killed at any moment leaves the old or the new state.

For tests, the run announces its phases (``KB_PHASE_LOG``: a file the names
are appended to) and can stop itself at some (``KB_PAUSE_AT``: their names,
comma-separated; the process sends itself SIGSTOP there), so that a test can
kill it at an exact point. The phases: ``locked`` (the write lock is held),
``generation`` (a rebuild made its new generation), ``adding`` (the first
document went to the engine), ``manifest`` and ``commit`` (every side file of
the commit is written and the engine is about to switch to it), ``committed``
(the engine switched) and ``published`` (a rebuild's generation is live).
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import replace
import shutil
import signal
import time
from pathlib import Path
from typing import Callable, Iterable

from . import config
from .chunking import chunk
from .errors import DocumentNotFoundError, IndexCorruptError, SourceNotFoundError
from .ingest import SourceFile, discover, read_source_hashed
from .lexicon import PinyinMap, default_lexicon
from .models import Document, FileChange, IndexSummary, Passage, PassageId, RemoveSummary, Skipped
from .store import FORMAT_VERSION, IndexStore, ManifestMissing, Snapshot
from .store import recall
from .store.manifest import Changes, Manifest, meta_fingerprint, plan_changes
from .text import normalize

__all__ = ["run_index", "run_remove", "Progress"]

Progress = Callable[[int, int, str], None]


def _phase(name: str) -> None:
    """Announce a phase of the run (a test hook; free when the variables are unset)."""
    log = os.environ.get("KB_PHASE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
    if name in os.environ.get("KB_PAUSE_AT", "").split(","):
        os.kill(os.getpid(), signal.SIGSTOP)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _manifest_from_documents(records, old: Manifest) -> Manifest:
    """A manifest naming, for each source file, the documents the index holds from it.

    Fingerprints are absent, so every file is read again and compared.
    """
    files: dict[str, dict] = {}
    for rec in records:
        files.setdefault(rec.path, {"docs": []})["docs"].append(rec.id)
    return Manifest(files=files, created=old.created, updated=old.updated)


def _skips_cacheable(skips: list[Skipped]) -> bool:
    """Whether a file's skip reasons depend on the file alone (so an unchanged file need not be read again)."""
    return not any("duplicate document id" in s.reason or "already indexed" in s.reason for s in skips)


def run_index(store: IndexStore, engine, paths: Iterable[Path | str], *, rebuild: bool = False,
              progress: Progress | None = None, lock_timeout: float = config.LOCK_TIMEOUT,
              workers: int | None = None, lexicon=None) -> IndexSummary:
    """Index ``paths`` into ``store``; see the module docstring.

    ``workers`` forces the number of writer processes (default: every core
    for runs with at least ``config.PARALLEL_MIN_BYTES`` of files to read, else 1).
    """
    t0 = time.monotonic()
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.exists():
            raise SourceNotFoundError(f"{p} does not exist; give a file or directory to index.", param="paths")
    roots = [str(p.absolute()) for p in paths]
    lexicon = lexicon or default_lexicon()
    files, walk_skipped, metas = discover(paths, exclude=[store.path, *getattr(lexicon, "folders", ())])
    skipped = list(walk_skipped)
    walk_skipped_files = sum(1 for s in skipped if s.kind == "file")
    with store.lock(timeout=lock_timeout):
        _phase("locked")
        live = None
        base_commit = -1
        manifest = Manifest()
        lost_manifest = False
        if not rebuild and store.exists():
            live = store.current()
            base_commit = engine.latest_commit(live)
            try:
                manifest = store.snapshot(live, base_commit).read_manifest()
            except ManifestMissing:
                lost_manifest = True
        fresh = live is None
        if fresh:
            gen = store.new_generation()
            engine.create(gen)
            _phase("generation")
        else:
            gen = live
            store.collect_garbage(keep=(gen,))
        manifest.created = manifest.created or _now()
        changes = plan_changes(files, manifest, metas, roots)
        from .vocabulary import lexicon_state, state_changes

        lexicon.refresh()
        state = lexicon_state(lexicon)
        run = _Run(store, engine, gen, fresh, manifest, metas, progress, lexicon)
        run.lexicon_before, run.lexicon_after = manifest.lexicon, state
        if not fresh and not lost_manifest and run.nothing_to_do(changes, base_commit):
            # Nothing to write: no commit (a new mtime of an unchanged file is remembered in place).
            run.keep(changes, base_commit)
            skipped.extend(run.skipped)
            return run.summary(files, walk_skipped_files, skipped, t0)
        manifest.updated = _now()
        # Users' segmentation words reach the segmenter before anything is analysed (and before
        # a multi-process writer forks its workers, which inherit them).
        from .text.segment import set_user_words

        set_user_words(lexicon.words())
        try:
            commit, base = run.write(changes, files, roots, lost_manifest, workers)
        except BaseException:
            if fresh:
                shutil.rmtree(gen, ignore_errors=True)
            raise
        skipped.extend(run.skipped)
        _phase("committed")
        if run.pinyin_lost:
            run.write_pinyin(commit)  # the base commit had no map: a whole one, from the index's words
        # Readers may still be on the previous commit for a moment; older snapshots go.
        Snapshot.prune(gen, keep=(commit, base))
        if fresh:
            store.publish(gen, previous=live)
            _phase("published")
    return run.summary(files, walk_skipped_files, skipped, t0)


def _pinyin_entries(words: list[str]) -> dict[str, set[str]]:
    """Reading → words of the Chinese ones among ``words`` (runs where they were analysed: see ``Engine.begin``)."""
    pm = PinyinMap()
    pm.add_terms(words)
    return pm.entries


class _Run:
    """The state of one index run inside the write lock."""

    def __init__(self, store: IndexStore, engine, gen: Path, fresh: bool, manifest: Manifest, metas, progress,
                 lexicon):
        self.store = store
        self.engine = engine
        self.gen = gen
        self.fresh = fresh
        self.manifest = manifest
        self.metas = metas
        self.progress = progress
        self.lexicon = lexicon
        self.skipped: list[Skipped] = []
        self.indexed = self.updated = self.unchanged = 0
        self.written_docs = self.written_passages = 0
        self.total_passages = 0
        self.removed: list[str] = []
        self.gone: set[str] = set()  # documents whose old passages are deleted
        self.new_records: list[bytes] = []
        self.changes: list[FileChange] = []
        self.lexicon_before: dict | None = None
        self.lexicon_after: dict | None = None
        self.reanalysed = self.retagged = 0
        self.live = 0  # passages in the index as the run goes (the base's, less deletions, plus additions)
        self.pinyin_lost = False

    def summary(self, files, walk_skipped_files: int, skipped: list[Skipped], t0: float) -> IndexSummary:
        return IndexSummary(
            indexed=self.indexed,
            updated=self.updated,
            removed=len(self.removed),
            unchanged=self.unchanged,
            skipped=tuple(skipped),
            passages=self.written_passages,
            files=len(files) + walk_skipped_files,
            documents=self.written_docs,
            total_documents=self.manifest.documents(),
            total_passages=self.total_passages,
            seconds=round(time.monotonic() - t0, 3),
            changes=tuple(self.changes),
            reanalysed=self.reanalysed,
            retagged=self.retagged,
        )

    def nothing_to_do(self, changes: Changes, base_commit: int) -> bool:
        """Whether the live commit is current: no file to read or drop, the same vocabulary, whole side files."""
        from .vocabulary import state_changes

        if changes.todo or changes.removed or changes.forgotten:
            return False
        if any(state_changes(self.lexicon_before, self.lexicon_after)):
            return False
        snap = self.store.snapshot(self.gen, base_commit)
        listing = snap.intact_listing()
        if listing is None or snap.pinyin_path() is None:
            return False  # a lost side file: the run repairs it
        self.total_passages = listing.live
        return True

    def keep(self, changes: Changes, base_commit: int) -> None:
        """Report an up-to-date index; remember new mtimes of unchanged files in the live manifest."""
        self.unchanged = changes.unchanged
        self.skipped.extend(changes.skipped)
        if changes.refreshed:
            for key, mtime in changes.refreshed.items():
                self.manifest.files[key]["mtime_ns"] = mtime
            # The same commit's manifest, rewritten atomically: only fingerprints change, and a
            # reader that reads either version sees the same files and documents.
            Snapshot.write(self.gen, base_commit, FORMAT_VERSION, self.manifest)

    def write(self, changes: Changes, files: list[SourceFile], roots, lost_manifest: bool,
              workers: int | None) -> tuple[int, int]:
        """Apply the changes in one engine transaction; returns (the new commit, the base commit)."""
        if workers is None:
            big = sum(sf.size for sf, _ in changes.todo) >= config.PARALLEL_MIN_BYTES
            workers = config.worker_count() if big else 1
        with self.engine.begin(self.gen, workers=workers, on_words=_pinyin_entries) as tx:
            base_snap = self.store.snapshot(self.gen, tx.base)
            listing = None if self.fresh else base_snap.intact_listing()
            everything: list[bytes] | None = None
            if listing is None and not self.fresh:
                # The base commit's recall parts are lost or damaged: rebuild them from the stored
                # passages (read before this run deletes any).
                everything = [recall.record(pid, normalize(text)) for pid, text in tx.base_passages()]
            self.live = listing.live if listing is not None else len(everything or ())
            self.pinyin_lost = not self.fresh and base_snap.pinyin_path() is None
            if lost_manifest:
                # The live commit has no manifest (deleted, or written by a kb that crashed in an
                # older format): rebuild it from the document records and read every file again.
                self.manifest = _manifest_from_documents(tx.base_documents(), self.manifest)
                changes = plan_changes(files, self.manifest, self.metas, roots)
                changes.todo = [(sf, sf.key in self.manifest.files) for sf in files]
                changes.unchanged = 0
                changes.unchanged_skips = []
                changes.skipped = []
            self.apply(tx, changes)
            if not self.fresh:
                self.reanalyse(tx)
            self.manifest.lexicon = self.lexicon_after
            self.total_passages = self.live

            def before_commit(commit: int) -> None:
                # Every side file of the commit is written first: the commit then switches the index
                # and them at once.
                gone = self.gone
                rest = None if everything is None else (
                    lambda: [r for r in everything if recall.record_doc_id(r) not in gone])
                new_listing = recall.commit_parts(self.gen, commit, listing, self.new_records, gone, self.live, rest)
                self.manifest.recall = new_listing.to_json()
                if not self.pinyin_lost:
                    entries: dict[str, set[str]] = {}
                    for part in tx.word_results:
                        for key, words in (part or {}).items():
                            entries.setdefault(key, set()).update(words)
                    base_snap.add_pinyin(commit, entries)
                Snapshot.write(self.gen, commit, FORMAT_VERSION, self.manifest)
                _phase("manifest")
                _phase("commit")

            tx.commit_with(before_commit)
            return tx.commit, tx.base

    def _delete(self, tx, doc_id: str) -> None:
        self.live -= tx.delete_document(doc_id)

    def _add(self, tx, doc: Document, passages: list[Passage], topics) -> None:
        tx.add_document(doc, passages, topics)
        self.live += len(passages)

    def apply(self, tx, changes: Changes) -> None:
        m = self.manifest
        self.unchanged = changes.unchanged
        self.skipped.extend(changes.skipped)
        for key, mtime in changes.refreshed.items():
            m.files[key]["mtime_ns"] = mtime

        def delete_doc(doc_id: str) -> None:
            self.gone.add(doc_id)
            self._delete(tx, doc_id)

        self.removed = changes.removed
        for key in changes.removed:
            for d in m.files[key].get("docs", ()):
                delete_doc(d)
            self.changes.append(FileChange(key, "removed", len(m.files[key].get("docs", ())),
                                           int(m.files[key].get("passages", 0))))
            del m.files[key]
        for key in changes.forgotten:
            del m.files[key]
        owners = m.owner_of()
        announced = False
        for n, (sf, before) in enumerate(changes.todo, 1):
            if self.progress:
                self.progress(n, len(changes.todo), str(sf.path))
            docs, file_skips, digest = read_source_hashed(sf, self.metas.get(sf.key))
            self.skipped.extend(file_skips)
            record = {"size": sf.size, "mtime_ns": sf.mtime_ns, "sha1": digest,
                      "meta": meta_fingerprint(self.metas.get(sf.key))}
            if not docs:
                reason = next((s.reason for s in file_skips if s.kind == "file"), "no documents: every line was skipped")
                self.changes.append(FileChange(str(sf.path), "skipped", reason=reason))
                if not any(s.kind == "file" for s in file_skips):
                    file_skips = file_skips + [Skipped(str(sf.path), "no documents: every line was skipped")]
                    self.skipped.append(file_skips[-1])
                if before:
                    last = self.skipped[-1]
                    self.skipped[-1] = Skipped(last.path, last.reason + "; the indexed version is kept", last.line,
                                               last.kind)
                elif digest and _skips_cacheable(file_skips):
                    # Remembered, so that an unchanged file that cannot be read is not read again.
                    m.files[sf.key] = {**record, "docs": [], "passages": 0,
                                       "skipped": [[s.path, s.reason, s.line, s.kind] for s in file_skips]}
                continue
            for d in m.files.get(sf.key, {}).get("docs", ()):
                delete_doc(d)
            doc_ids: list[str] = []
            count = 0
            for doc in docs:
                owner = owners.get(doc.id)
                if (owner is not None and owner != sf.key) or doc.id in doc_ids:
                    line = int(doc.metadata.get("line", 0)) if doc.format == "jsonl" else 0
                    where = doc.path + (f":{line}" if line else "")
                    other = owner if owner and owner != sf.key else "the same file"
                    self.skipped.append(Skipped(where, f"duplicate document id {doc.id!r} (already indexed from {other})",
                                                line, "line" if line else "file"))
                    continue
                doc_ids.append(doc.id)
                delete_doc(doc.id)  # also clears what an interrupted run may have left
                if not doc.rel:
                    doc = replace(doc, rel=sf.rel)
                passages = chunk(doc)
                self._add(tx, doc, passages, [self.lexicon.tag(p.section + "\n" + p.text) for p in passages])
                if not announced:
                    _phase("adding")
                    announced = True
                for p in passages:
                    self.new_records.append(recall.record(p.id, normalize(p.text)))
                count += len(passages)
            if not doc_ids:
                self.skipped.append(Skipped(str(sf.path), "no documents: every document id is already indexed"))
                self.changes.append(FileChange(str(sf.path), "skipped", reason=self.skipped[-1].reason))
                continue
            for d in doc_ids:
                owners[d] = sf.key
            line_skips = [[s.path, s.reason, s.line, s.kind] for s in file_skips if s.kind == "line"]
            m.files[sf.key] = {**record, "docs": doc_ids, "passages": count, "skipped": line_skips}
            self.written_docs += len(doc_ids)
            self.written_passages += count
            if before:
                self.updated += 1
            else:
                self.indexed += 1
            self.changes.append(FileChange(str(sf.path), "updated" if before else "added", len(doc_ids), count))

    def reanalyse(self, tx) -> None:
        """Index again, from their stored passages, the documents that the vocabulary's changes affect.

        Added or removed segmentation words: every document whose passages,
        title or sections hold one is analysed again. Changed topics: every
        document that holds a term of a changed topic or is tagged with one
        is tagged again, and written only when a passage's tags change.
        Documents this run re-read from their files are already current.
        """
        from .vocabulary import state_changes

        words, terms, slugs = state_changes(self.lexicon_before, self.lexicon_after)
        if not words and not terms and not slugs:
            return
        words = {normalize(w) for w in words}
        terms = {normalize(t) for t in terms}
        snap = self.store.snapshot(self.gen, tx.base)
        reader = self.engine.open_reader(self.gen)
        try:
            try:
                recall_file = snap.recall()
            except IndexCorruptError:  # lost recall parts (this run rebuilds them): words and titles only
                recall_file = None
            def holding(needles) -> set[str]:
                docs = reader.documents_containing(needles)
                for n in needles:
                    ids = recall_file.find(n, cap=1 << 30) if recall_file is not None else None
                    for pid in ids or ():
                        parsed = PassageId.parse(pid)
                        if parsed:
                            docs.add(parsed.doc_id)
                return docs

            by_words = holding(words) if words else set()
            by_topics = holding(terms) if terms else set()
            for slug in slugs:
                by_topics.update(reader.group_refs(reader.topic_refs(slug)))
        finally:
            reader.close()
            snap.close()
        for doc_id in sorted((by_words | by_topics) - self.gone):
            stored = tx.base_document(doc_id)
            if stored is None:
                continue
            rec, records = stored
            tags = [self.lexicon.tag(p.section + "\n" + p.text) for p in records]
            retag = tags != [tuple(p.topics) for p in records]
            if doc_id not in by_words and not retag:
                continue
            doc = Document(id=rec.id, title=rec.title, text="", date=rec.date, source=rec.source, editor=rec.editor,
                           path=rec.path, metadata=dict(rec.metadata), rel=rec.rel)
            passages = [Passage(id=p.id, doc_id=rec.id, seq=p.seq, paragraph=p.paragraph, part=p.part, start=p.start,
                                end=p.end, text=p.text, section=p.section, page=p.page) for p in records]
            self._delete(tx, doc_id)
            self._add(tx, doc, passages, tags)
            if doc_id in by_words:
                self.reanalysed += 1
            if retag:
                self.retagged += 1

    def write_pinyin(self, commit: int) -> None:
        """A whole pinyin map of the new commit, from every word of the index (after the commit; a repair)."""
        pm = PinyinMap()
        reader = self.engine.open_reader(self.gen)
        try:
            pm.add_terms(reader.text_terms())
        finally:
            reader.close()
        Snapshot.write_pinyin(self.gen, commit, pm)


def _resolve_target(target: str, manifest: Manifest, owners: dict[str, str]) -> list[str]:
    """Document ids a ``remove`` target names: an indexed file, a folder of them, or a document id."""
    keys = []
    for p in dict.fromkeys((Path(target).absolute(), Path(target).resolve())):
        key = str(p)
        if manifest.files.get(key, {}).get("docs"):
            keys.append(key)
        else:
            keys.extend(k for k, r in manifest.files.items() if r.get("docs") and k.startswith(key.rstrip("/") + "/"))
        if keys:
            break
    docs = [d for k in keys for d in manifest.files[k]["docs"]]
    if not docs and target in owners:
        docs = [target]
    return docs


def run_remove(store: IndexStore, engine, targets: Iterable[str], *,
               lock_timeout: float = config.LOCK_TIMEOUT) -> RemoveSummary:
    """Drop documents (by file, folder or document id) from the index in one commit; see ``KnowledgeBase.remove``."""
    targets = [str(t) for t in targets]
    if not targets:
        raise DocumentNotFoundError("Give at least one indexed file, folder or document id to remove.",
                                    param="targets")
    with store.lock(timeout=lock_timeout):
        gen = store.current()
        base_commit = engine.latest_commit(gen)
        manifest = store.snapshot(gen, base_commit).read_manifest()
        owners = manifest.owner_of()
        docs: dict[str, None] = {}
        for t in targets:
            found = _resolve_target(t, manifest, owners)
            if not found:
                raise DocumentNotFoundError(
                    f"Nothing in the index matches {t!r}; give an indexed file, a folder of them or a document id.",
                    param="targets", hint="docs")
            docs.update(dict.fromkeys(found))
        gone = set(docs)
        dropped_files = []
        for key in sorted({owners[d] for d in gone if d in owners}):
            rec = manifest.files[key]
            left = [d for d in rec["docs"] if d not in gone]
            if left:
                # Part of a file (JSONL lines): forget its fingerprint so the next run reads it again.
                rec.update(docs=left, size=-1, sha1="")
            else:
                del manifest.files[key]
                dropped_files.append(key)
        manifest.updated = _now()
        snap = store.snapshot(gen, base_commit)
        listing = snap.intact_listing()
        with engine.begin(gen) as tx:
            everything = None
            if listing is None:  # lost recall parts: rebuilt from the stored passages
                everything = [recall.record(pid, normalize(text)) for pid, text in tx.base_passages()]
            deleted = sum(tx.delete_document(d) for d in docs)
            live = (listing.live if listing is not None else len(everything)) - deleted
            rest = None if everything is None else (lambda: [r for r in everything if recall.record_doc_id(r) not in gone])

            def before_commit(commit: int) -> None:
                manifest.recall = recall.commit_parts(gen, commit, listing, [], gone, live, rest).to_json()
                Snapshot.write(gen, commit, FORMAT_VERSION, manifest)

            tx.commit_with(before_commit)
            commit, base = tx.commit, tx.base
        Snapshot.prune(gen, keep=(commit, base))
    return RemoveSummary(documents=tuple(docs), files=tuple(dropped_files), passages=deleted,
                         total_documents=manifest.documents(), total_passages=live)
