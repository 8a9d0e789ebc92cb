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


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory) -> Path:
    """The seed's index, built once per test module: for tests that only read it."""
    from kb import KnowledgeBase

    root = tmp_path_factory.mktemp("seed")
    src = root / "seeds"
    src.mkdir()
    shutil.copy(SEED, src / SEED.name)
    with KnowledgeBase(root / "index") as kb:
        kb.index([src])
    return root / "index"


@pytest.fixture
def seed_kb(seed_index):
    """A ``KnowledgeBase`` on the module's seed index (read it; don't index into it)."""
    from kb import KnowledgeBase

    kb = KnowledgeBase(seed_index)
    yield kb
    kb.close()


def live_commit(kb) -> tuple[Path, int]:
    """The live generation directory of a ``KnowledgeBase`` and the number of its newest commit."""
    from kb.engine import default_engine
    from kb.store import IndexStore

    gen = IndexStore(kb.path).current()
    return gen, default_engine().latest_commit(gen)


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


# --- helpers for the reliability, hostile-input and property tests ------------------------------

import os as _os
import random as _random
import subprocess as _subprocess
import sys as _sys


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked slow (indexing a 20 MB file)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test, skipped unless --runslow or KB_RUN_SLOW=1")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or _os.environ.get("KB_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or KB_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def kb_env(**extra) -> dict:
    """Environment for a ``python -m kb.cli`` subprocess that imports the same kb as this test process."""
    import kb

    env = dict(_os.environ)
    pkg_root = str(Path(kb.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = _os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH", "")) if p)
    env["NO_COLOR"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def kb_cmd(index, *args) -> list:
    """The argv of a real ``kb`` run against ``index``."""
    return [_sys.executable, "-m", "kb.cli", "--index", str(index), *[a if isinstance(a, bytes) else str(a) for a in args]]


def run_kb(index, *args, cwd=None, timeout=60, **kwargs) -> "_subprocess.CompletedProcess":
    """Run ``kb`` as a subprocess (bounded by ``timeout``) and capture its output as text."""
    return _subprocess.run(kb_cmd(index, *args), cwd=cwd, env=kb_env(), capture_output=True, text=True,
                           encoding="utf-8", errors="replace", timeout=timeout, **kwargs)


POLICY_WORDS = (
    "户籍 改革 城镇化 农村 土地 宅基地 集体 建设用地 承包地 产业 培育 财政 金融 社会保险 教育 医疗 就业 住房 养老 "
    "规划 编制 城乡 融合 发展 人才 返乡 技能 培训 基础设施 一体化 公共服务 生态 产品 价值 实现 路径 办法 完善 "
    "政策 措施 落实 加快 保障 权益 流动 迁徙 制度 试点 稳妥"
).split()
CORPUS_MARK = "推进"  # every generated paragraph contains it, so one search lists every passage


def policy_paragraph(rng: "_random.Random", chars: int = 120) -> str:
    """A generated Chinese paragraph of about ``chars`` characters that contains CORPUS_MARK."""
    out = []
    while sum(map(len, out)) < chars:
        out.append("".join(rng.choice(POLICY_WORDS) for _ in range(rng.randint(4, 8))) + rng.choice("，，；"))
    return "".join(out)[:-1] + f"，持续{CORPUS_MARK}。"


def policy_file(rng: "_random.Random", title: str, paragraphs: int, chars: int = 120) -> str:
    return title + "\n" + "\n".join(policy_paragraph(rng, chars) for _ in range(paragraphs)) + "\n"


def bump_mtime(path: Path, seconds: int = 2) -> None:
    st = path.stat()
    _os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def snapshot(kb) -> dict:
    """Every passage of a generated corpus as the public API shows it: {id: (title, section, text)}."""
    result = kb.search(CORPUS_MARK, limit=10_000, expand=False)
    return {h.id: (h.title, h.section, h.text) for h in result}
