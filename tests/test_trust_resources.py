"""Issue 8, "resources stay bounded": repeated query words cost what one does, and searchers of
replaced generations and of finished threads are closed (open file descriptors stay flat).

Work is counted (matchers built, file descriptors open), never timed.
"""

from __future__ import annotations

import gc
import os
import threading

import pytest

from conftest import bump_mtime, count_matchers, write_tree



@pytest.mark.parametrize("once, repeated", [
    pytest.param("户籍", " ".join(["户籍"] * 666), id="666-times"),
    pytest.param("户籍 改革", "户籍 户籍 改革 户籍 改革", id="interleaved"),
    pytest.param("household registration", " ".join(["household registration"] * 80), id="english"),
    pytest.param('"户籍改革"', " ".join(['"户籍改革"'] * 150), id="phrase"),
    pytest.param("huji", " ".join(["huji"] * 300), id="pinyin"),
])
def test_repeated_words_cost_about_as_much_as_once(seed_kb, once, repeated):
    assert len(repeated) <= 2000, "stay under the query length limit"
    seed_kb.search(once)  # per-index caches are filled before counting
    with count_matchers() as single:
        first = seed_kb.search(once)
    with count_matchers() as many:
        again = seed_kb.search(repeated)
    assert [h.id for h in again] == [h.id for h in first], "a repeated word finds what the word finds"
    assert many.matchers <= single.matchers + 16, (
        f"{len(repeated.split())} words built {many.matchers} matchers; the word once built {single.matchers}")


def test_distinct_words_are_not_merged(seed_kb):
    """Deduplication must not drop words that differ: two different words cost more than one."""
    seed_kb.search("户籍 改革")
    with count_matchers() as one:
        seed_kb.search("户籍")
    with count_matchers() as two:
        seed_kb.search("户籍 改革")
    assert two.matchers > one.matchers


# --- file descriptors ------------------------------------------------------------------------------

SLACK = 10  # file descriptors a run may legitimately keep open on top of where it started


def open_fds() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


def test_fds_stay_flat_over_100_reindexes(tmp_path):
    from kb import KnowledgeBase

    src = write_tree(tmp_path / "src", {"a.txt": "标题\n户籍制度改革持续推进。\n"})
    kb = KnowledgeBase(tmp_path / "ix")
    try:
        kb.index([src])
        kb.search("户籍")  # opens the searcher, recall file and pinyin map once
        start = open_fds()
        added: list = []
        for i in range(100):
            step = i % 4
            if step == 0:  # a file changes
                (src / "a.txt").write_text(f"标题\n户籍制度改革持续推进，第{i}次修订。\n", encoding="utf-8")
                bump_mtime(src / "a.txt", i + 1)
            elif step == 1:  # a file is added
                added.append(src / f"n{i}.txt")
                added[-1].write_text(f"新增{i}\n落户政策第{i}条。\n", encoding="utf-8")
            elif step == 2 and added:  # a file is removed
                added.pop(0).unlink()
            kb.index([src], rebuild=step == 3)
            hits = kb.search("户籍", expand=False)
            assert [h.doc_id for h in hits] == ["a"], (i, [h.id for h in hits])
        grown = open_fds() - start
    finally:
        kb.close()
    assert grown <= SLACK, f"{grown} more file descriptors are open after 100 re-indexes with a search after each"


def test_fds_stay_flat_over_1000_searches_from_short_lived_threads(seed_kb):
    seed_kb.search("户籍")
    start = open_fds()
    errors: list = []

    def search() -> None:
        try:
            assert seed_kb.search("户籍", limit=3)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{type(e).__name__}: {e}")

    for _ in range(1000):
        t = threading.Thread(target=search)
        t.start()
        t.join()
    grown = open_fds() - start
    assert not errors, errors[:3]
    assert grown <= SLACK, f"{grown} more file descriptors are open after 1,000 searches from short-lived threads"


def test_fds_stay_flat_over_searches_from_one_thread(seed_kb):
    """The control: one thread searching many times keeps one searcher."""
    seed_kb.search("户籍")
    start = open_fds()
    for i in range(300):
        seed_kb.search(["户籍", "落户", "huji", "household registration"][i % 4])
    assert open_fds() - start <= SLACK
