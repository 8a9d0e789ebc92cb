"""Shared fixtures: every test gets its own index directory; none touches ./index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "xinhua-2020-12-01-shandong-urbanization.txt"
SEED_ID = "xinhua-2020-12-01-shandong-urbanization"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def _isolated_index(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_INDEX", str(tmp_path / "kb-index"))
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def seed_dir(tmp_path) -> Path:
    d = tmp_path / "seeds"
    d.mkdir()
    shutil.copy(SEED, d / SEED.name)
    return d


@pytest.fixture
def seed_kb(tmp_path, seed_dir):
    from kb import KnowledgeBase

    kb = KnowledgeBase(tmp_path / "seed-index")
    kb.index([seed_dir])
    yield kb
    kb.close()


def write_tree(root: Path, files: dict) -> Path:
    """Create ``files`` ({relative path: str (UTF-8) or bytes}) under ``root``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def make_kb(tmp_path):
    """A factory: ``make_kb({"a.txt": "..."})`` writes the files and returns an indexed KnowledgeBase."""
    from kb import KnowledgeBase

    opened = []

    def factory(files: dict, name: str = "corpus"):
        src = write_tree(tmp_path / name, files)
        kb = KnowledgeBase(tmp_path / f"{name}-index")
        kb.index([src])
        opened.append(kb)
        return kb

    yield factory
    for kb in opened:
        kb.close()
