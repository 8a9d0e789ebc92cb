"""Shared fixtures: every test gets its own index directory; none touches ./index."""

from __future__ import annotations

import json
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


# --- work counters and index files: the only places that know the engine (Whoosh) ---------------

import contextlib as _contextlib
import dataclasses as _dataclasses


@_dataclasses.dataclass
class Work:
    """What a block of code made the engine do: ``matchers`` is the number of leaf matchers it built
    (one per query term per segment searched, plus one per fixed list of passages)."""

    matchers: int = 0


@_contextlib.contextmanager
def count_matchers():
    """Count the leaf matchers the engine builds inside the ``with`` block; yields a ``Work``.

    This measures the work a query causes independently of how busy the machine is, so tests can
    guard pathological input without a stopwatch.
    """
    from whoosh import matching, query

    work = Work()
    term_matcher = query.Term.matcher
    list_init = matching.ListMatcher.__init__

    def counted_term(self, *args, **kwargs):
        work.matchers += 1
        return term_matcher(self, *args, **kwargs)

    def counted_list(self, *args, **kwargs):
        work.matchers += 1
        return list_init(self, *args, **kwargs)

    query.Term.matcher = counted_term
    matching.ListMatcher.__init__ = counted_list
    try:
        yield work
    finally:
        query.Term.matcher = term_matcher
        matching.ListMatcher.__init__ = list_init


INDEX_FILE_KINDS = ("toc", "segment", "postings", "terms", "recall", "manifest", "pinyin")


def index_files(index: Path, kind: str) -> list:
    """The parts of the live generation of ``index`` that hold ``kind`` of data, as
    ``(path, offset, length)``: a whole file, or the region of a compound file that holds it.

    Kinds: ``toc`` (the table of contents that lists the segments), ``segment`` (a segment's files),
    ``postings``, ``terms`` (the term dictionary), ``recall`` (the verbatim-recall file),
    ``manifest`` (the file fingerprints) and ``pinyin`` (the pinyin map).
    """
    if kind not in INDEX_FILE_KINDS:
        raise ValueError(kind)
    gen = index / (index / "CURRENT").read_text("utf-8").strip()
    # A segment is one compound file (*.seg, Whoosh's writer) or a file per part (MAIN_<id>.<part>, kb's).
    whole = {"toc": "_MAIN_*.toc", "segment": "MAIN_*.*", "recall": "recall-*.bin", "manifest": "manifest-*.json",
             "pinyin": "pinyin*"}
    if kind in whole:
        return [(p, 0, p.stat().st_size) for p in sorted(gen.glob(whole[kind]))]
    ext = {"postings": ".pst", "terms": ".trm"}[kind]
    found = [(p, 0, p.stat().st_size) for p in sorted(gen.glob(f"*{ext}"))]
    from whoosh.filedb.compound import CompoundStorage
    from whoosh.filedb.filestore import FileStorage

    for seg in sorted(gen.glob("*.seg")):  # a compound segment: sub-files at offsets inside it
        storage = CompoundStorage(FileStorage(str(gen), readonly=True).open_file(seg.name))
        try:
            found += [(seg, d["offset"], d["length"]) for name, d in storage._dir.items() if name.endswith(ext)]
        finally:
            storage.close()
    return found


# --- a small corpus of several documents for the filter, relaxation and output tests -------------

REPORTS = {
    "北京": ("gwr-beijing-2019", "北京市政府工作报告（2019年）", "2019-01-15", """一、过去一年工作回顾
北京经济运行总体平稳，地区生产总值增长百分之六点六，城乡居民收入稳步提高。
社区养老服务驿站新建二百个，老年人就近养老更加方便。
二、基础设施建设
加快交通基础设施建设，新建高速公路一百公里，轨道交通运营里程持续增加。
推进水利和电网建设，农村饮水安全巩固提升。
三、人才引进
实施高层次人才引进计划，吸引高校毕业生来京创业就业，专业人才队伍不断壮大。
"""),
    "西藏": ("gwr-xizang-2020", "西藏自治区政府工作报告（2020年）", "2020-01-10", """一、过去一年工作回顾
西藏经济保持较快增长，农牧民人均可支配收入增长百分之十三。
养老保险覆盖面持续扩大，城乡居民基本养老保险参保率稳定在百分之九十五以上。
二、户籍制度改革
深化户籍制度改革，全面放开城镇落户限制，户口迁移手续更加便利。
放宽人才落户条件，高校毕业生凭毕业证即可落户。
三、基础设施建设
推进川藏铁路建设，新建农村公路三千公里，电网覆盖所有县城。
"""),
    "浙江": ("gwr-zhejiang-2021", "浙江省政府工作报告（2021年）", "2021-01-20", """一、过去一年工作回顾
浙江数字经济核心产业增加值增长百分之十三，居民人均可支配收入稳居全国各省区第一。
二、户籍制度改革
推进农业转移人口市民化，持有居住证人员享有同等基本公共服务。
三、基础设施建设
杭州湾跨海高速公路服务区设立人才驿站，方便往来人员。
新建城际铁路二百公里，推进水利设施提档升级。
"""),
    "云南": ("gwr-yunnan-2022", "云南省政府工作报告（2022年）", "2022-01-18", """一、过去一年工作回顾
云南脱贫攻坚成果持续巩固，边境地区基础设施明显改善。
二、户籍制度改革
户口迁移实行网上办理，城镇落户条件进一步放宽，农业转移人口市民化进程加快。
三、人才引进
实施兴滇英才支持计划，柔性引进各类人才一千余名。
"""),
}
# An undated Markdown document: a date filter must leave it out.
TALENT_PLAN = """# 人才发展规划

## 一、引才政策

对引进的高层次人才给予安家补贴，配偶子女户口可随迁。

## 二、育才措施

支持职业院校开展技能培训，培养高素质技术技能人才。
"""


def reports_files() -> dict:
    """The files of the provincial-reports corpus: four dated reports (JSONL) and an undated plan (Markdown).

    Facts the tests rely on: the 北京 report has no 户籍/户口/落户/市民化, the 云南 report has no
    养老, no 基础设施 section holds 户籍 or its synonyms, no passage has all of 户籍, 高速公路 and
    人才, and no passage has both 户籍 and 高速公路.
    """
    lines = [json.dumps({"id": doc_id, "title": title, "date": date, "source": f"{prov}日报", "text": text},
                        ensure_ascii=False) for prov, (doc_id, title, date, text) in REPORTS.items()]
    return {"reports.jsonl": "\n".join(lines) + "\n", "talent-plan.md": TALENT_PLAN}

