"""Write side: discover files, read and chunk them, and commit passages to the index.

Incremental by default: a file whose size and mtime (or, failing that, content
hash) are unchanged is not read again; a changed file's documents are replaced;
documents of files that disappeared from the given roots are removed. Every
document is deleted by id before it is added, so re-running after an
interrupted run never duplicates anything.

Large runs use Whoosh's multi-process writer: this process reads and chunks
files while worker processes segment the text and build index segments, so
both cores work.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Callable, Iterable

from . import recall
from .text import normalize
from .chunking import chunk
from .errors import SourceNotFoundError
from .index import IndexDir, Manifest, ManifestMissing, whoosh_errors
from .ingest import SourceFile, discover, read_source_hashed
from .lexicon import PinyinMap, tag
from .models import Document, IndexSummary, Passage, Skipped
from .search import pack_passage, unpack_passage
from .text.dates import date_bounds

__all__ = ["run_index", "passage_fields", "doc_fields", "Progress", "PARALLEL_MIN_BYTES"]

Progress = Callable[[int, int, str], None]

# Below this much new text the worker processes cost more than they save.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _meta_fingerprint(record) -> str:
    """A hash of the manifest.jsonl record that describes a file ("" when there is none)."""
    if not record:
        return ""
    return hashlib.sha1(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def doc_fields(doc: Document, passage_ids: list[str]) -> dict:
    """The Whoosh fields of a document's own record (its metadata and passage ids, stored once)."""
    return {
        "docrec": doc.id,
        "title": doc.title,
        "title_key": normalize(doc.title),
        "doc": {
            "title": doc.title,
            "date": doc.date,
            "source": doc.source,
            "editor": doc.editor,
            "path": doc.path,
            "metadata": doc.metadata or {},
            "passages": passage_ids,
        },
    }


def passage_fields(doc: Document, p: Passage, topics: Iterable[str] = ()) -> dict:
    """The Whoosh fields of one passage; what a hit shows is packed into ``p``."""
    topics = list(topics)
    f = {
        "id": p.id,
        "doc_id": doc.id,
        "section": p.section,
        "section_key": normalize(p.section),
        "text": p.text,
        "topics": ",".join(topics),
        "p": pack_passage(p, topics),
    }
    if doc.date:
        lo, hi = date_bounds(doc.date)
        f["date_lo"], f["date_hi"] = lo, hi
    return f


def _under(key: str, roots: list[str]) -> bool:
    return any(key == r or key.startswith(r.rstrip("/") + "/") for r in roots)


def _manifest_from_index(ix, old: Manifest) -> Manifest:
    """A manifest naming, for each source file, the documents the index holds from it.

    Fingerprints are dropped, so every file is read again and compared.
    """
    files: dict[str, dict] = {}
    with ix.reader() as r:
        for _docnum, stored in r.iter_docs():
            if "docrec" in stored:
                path = (stored.get("doc") or {}).get("path", "")
                files.setdefault(path, {"docs": []})["docs"].append(stored["docrec"])
    return Manifest(files=files, created=old.created, updated=old.updated, generation=-1)


def _rebuild_recall_records(reader) -> list[bytes]:
    """Recall records for every live passage, from the stored text (repairs a stale file)."""
    out = []
    for fields in reader.all_stored_fields():
        if "id" in fields and "p" in fields:
            out.append(recall.record(fields["id"], normalize(unpack_passage(fields)["text"])))
    return out


def run_index(
    index: IndexDir,
    paths: Iterable[Path | str],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    lock_timeout: float = 30.0,
    procs: int | None = None,
) -> IndexSummary:
    """Index ``paths`` into ``index``; see the module docstring.

    ``procs`` forces the number of writer processes (default: 2 for runs with
    at least ``PARALLEL_MIN_BYTES`` of files to read, else 1).
    """
    t0 = time.monotonic()
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.exists():
            raise SourceNotFoundError(f"{p} does not exist; give a file or directory to index.")
    roots = [str(p.absolute()) for p in paths]
    files, skipped, manifests = discover(paths)
    skipped = list(skipped)
    walk_skipped_files = sum(1 for s in skipped if s.kind == "file")
    with index.lock(timeout=lock_timeout):
        live = None
        manifest = Manifest()
        lost_manifest = False
        if not rebuild and index.exists():
            live = index.current_generation()
            try:
                manifest = index.read_manifest(live)
            except ManifestMissing:
                lost_manifest = True
        fresh = live is None
        gen = index.new_generation() if fresh else live
        if not fresh:
            index.collect_garbage(keep=gen)
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        manifest.created = manifest.created or now
        manifest.updated = now

        found = {f.key for f in files}
        removed = [k for k in manifest.files if k not in found and _under(k, roots)]
        todo: list[tuple[SourceFile, bool]] = []  # (file, was indexed before)
        unchanged = 0
        for sf in files:
            rec = manifest.files.get(sf.key)
            if rec is None:
                todo.append((sf, False))
                continue
            if rec.get("meta") != _meta_fingerprint(manifests.get(sf.key)):
                todo.append((sf, True))  # its manifest.jsonl record changed
                continue
            if rec.get("size") == sf.size and rec.get("mtime_ns") == sf.mtime_ns:
                unchanged += 1
                continue
            try:
                digest = _sha1(sf.path)
            except OSError as e:
                skipped.append(Skipped(str(sf.path), f"cannot read file: {e.strerror}; the indexed version is kept"))
                continue
            if digest == rec.get("sha1"):
                rec["mtime_ns"] = sf.mtime_ns
                unchanged += 1
            else:
                todo.append((sf, True))

        if procs is None:
            procs = 2 if sum(sf.size for sf, _ in todo) >= PARALLEL_MIN_BYTES else 1
        indexed = updated = written_docs = written_passages = 0
        gone_docs: set[str] = set()  # documents whose old passages are deleted
        new_records: list[bytes] = []
        with whoosh_errors(index.path):
            from whoosh.filedb.filestore import FileStorage

            ix = FileStorage(str(gen)).open_index()
            base_generation = ix.latest_generation()
            if lost_manifest:
                # The live generation has no manifest (it was deleted, or written by a kb that
                # crashed in an older format): rebuild it from the index and re-read every file.
                manifest = _manifest_from_index(ix, manifest)
                removed = [k for k in manifest.files if k not in found and _under(k, roots)]
                unchanged = 0
                todo = [(sf, sf.key in manifest.files) for sf in files]
            if procs > 1:
                writer = ix.writer(procs=procs, multisegment=True, limitmb=128)
            else:
                writer = ix.writer(limitmb=256)
            try:

                def delete_doc(doc_id: str) -> None:
                    gone_docs.add(doc_id)
                    if not fresh:
                        writer.delete_by_term("doc_id", doc_id)
                        writer.delete_by_term("docrec", doc_id)

                for key in removed:
                    for d in manifest.files[key].get("docs", ()):
                        delete_doc(d)
                    del manifest.files[key]
                owners = manifest.owner_of()
                for n, (sf, before) in enumerate(todo, 1):
                    if progress:
                        progress(n, len(todo), str(sf.path))
                    docs, file_skips, digest = read_source_hashed(sf, manifests.get(sf.key))
                    skipped.extend(file_skips)
                    if not docs:
                        if not any(s.kind == "file" for s in file_skips):
                            skipped.append(Skipped(str(sf.path), "no documents: every line was skipped"))
                        if before:
                            last = skipped[-1]
                            skipped[-1] = Skipped(last.path, last.reason + "; the indexed version is kept", last.line, last.kind)
                        continue
                    for d in manifest.files.get(sf.key, {}).get("docs", ()):
                        delete_doc(d)
                    doc_ids: list[str] = []
                    count = 0
                    for doc in docs:
                        owner = owners.get(doc.id)
                        if (owner is not None and owner != sf.key) or doc.id in doc_ids:
                            where = doc.path + (f":{doc.metadata.get('line')}" if doc.format == "jsonl" else "")
                            other = owner if owner and owner != sf.key else "the same file"
                            line = int(doc.metadata.get("line", 0)) if doc.format == "jsonl" else 0
                            skipped.append(Skipped(where, f"duplicate document id {doc.id!r} (already indexed from {other})",
                                                   line, "line" if line else "file"))
                            continue
                        doc_ids.append(doc.id)
                        delete_doc(doc.id)  # also clears what an interrupted run may have left
                        passages = chunk(doc)
                        writer.add_document(**doc_fields(doc, [p.id for p in passages]))
                        for p in passages:
                            topics = tag(p.section + "\n" + p.text)
                            writer.add_document(**passage_fields(doc, p, topics))
                            new_records.append(recall.record(p.id, normalize(p.text)))
                            count += 1
                    if not doc_ids:
                        skipped.append(Skipped(str(sf.path), "no documents: every document id is already indexed"))
                        continue
                    for d in doc_ids:
                        owners[d] = sf.key
                    manifest.files[sf.key] = {
                        "size": sf.size,
                        "mtime_ns": sf.mtime_ns,
                        "sha1": digest,
                        "meta": _meta_fingerprint(manifests.get(sf.key)),
                        "docs": doc_ids,
                        "passages": count,
                    }
                    written_docs += len(doc_ids)
                    written_passages += count
                    if before:
                        updated += 1
                    else:
                        indexed += 1
                # The recall file and manifest of the generation this commit creates are
                # written first: the commit then switches the index and both at once.
                next_generation = writer.generation
                base_records = None if fresh else recall.read_records(gen, base_generation)
                if base_records is None and not fresh:
                    with ix.reader() as r:
                        base_records = _rebuild_recall_records(r)
                records = [r for r in base_records or () if recall.record_doc_id(r) not in gone_docs] + new_records
                recall.write(gen, records, next_generation)
                index.write_manifest(gen, manifest, next_generation)
                writer.commit(optimize=False)
            except BaseException:
                writer.cancel()
                ix.close()
                if fresh:
                    shutil.rmtree(gen, ignore_errors=True)
                raise
            total_docs = sum(len(r.get("docs", ())) for r in manifest.files.values())
            total_passages = ix.doc_count() - total_docs
            if written_passages or fresh:
                pm = PinyinMap() if fresh else PinyinMap.load(gen)
                with ix.reader() as r:
                    pm.add_terms(t.decode("utf-8") if isinstance(t, bytes) else t for t in r.lexicon("text"))
                pm.save(gen)
            ix.close()
        # Readers may still be on the previous generation for a moment; older ones go.
        recall.prune(gen, keep=(next_generation, base_generation))
        index.prune_manifests(gen, keep=(next_generation, base_generation))
        if fresh:
            index.publish(gen, previous=live)
    return IndexSummary(
        indexed=indexed,
        updated=updated,
        removed=len(removed),
        unchanged=unchanged,
        skipped=tuple(skipped),
        passages=written_passages,
        files=len(files) + walk_skipped_files,
        documents=written_docs,
        total_documents=total_docs,
        total_passages=total_passages,
        seconds=round(time.monotonic() - t0, 3),
    )
