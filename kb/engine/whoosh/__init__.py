"""The Whoosh engine: kb's index in Whoosh's file format (whoosh-reloaded)."""

from __future__ import annotations

from pathlib import Path

from ..base import Engine
from .errors import engine_errors
from .reader import CommitCache, WhooshReader

__all__ = ["WhooshEngine"]


class WhooshEngine(Engine):
    """Whoosh behind kb's engine interface."""

    name = "whoosh"

    def create(self, path: Path) -> None:
        from whoosh.filedb.filestore import FileStorage

        from .schema import make_schema

        with engine_errors(path):
            FileStorage(str(path)).create_index(make_schema())

    def latest_commit(self, path: Path) -> int:
        from whoosh.filedb.filestore import FileStorage
        from whoosh.index import TOC

        # From the names of the tables of contents alone: reading one unpickles the schema,
        # which a format check must be able to refuse first.
        with engine_errors(path):
            return TOC._latest_generation(FileStorage(str(path), readonly=True), "MAIN")

    def new_cache(self) -> CommitCache:
        """A cache for the readers of one commit (see ``CommitCache``)."""
        return CommitCache()

    def open_reader(self, path: Path, cache: CommitCache | None = None) -> WhooshReader:
        from whoosh.filedb.filestore import FileStorage
        from whoosh.scoring import BM25F

        from ... import config

        with engine_errors(path):
            ix = FileStorage(str(path), readonly=True).open_index()
            try:
                searcher = ix.searcher(weighting=BM25F(B=config.BM25_B, K1=config.BM25_K1))
            finally:
                ix.close()
        return WhooshReader(path, searcher, cache or CommitCache())

    def begin(self, path: Path, *, workers: int = 1, on_words=None):
        from .writer import WhooshTransaction

        return WhooshTransaction(path, workers=workers, on_words=on_words)

    def counts(self, path: Path) -> tuple[int, int]:
        reader = self.open_reader(path)
        try:
            passages = reader.passage_count()
            return sum(1 for _ in reader.documents()), passages
        finally:
            reader.close()
