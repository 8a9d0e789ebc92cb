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
