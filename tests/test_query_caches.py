"""Sets a search keeps for its commit are those it would compute, and a new commit is seen at once."""

from __future__ import annotations

import random

from conftest import write_tree

from kb.engine.whoosh import reader as whoosh_reader

DATED = {f"d{y}.txt": f"通知{y}\n{y}-0{1 + y % 9}-1{y % 10}\n试验区建设工作第{y}年的进展。\n" for y in range(2001, 2025)}


def _ids(result):
    return sorted(h.id for h in result)


def test_date_filters_see_a_new_commit(make_kb, tmp_path):
    kb = make_kb(DATED)
    before = _ids(kb.search("试验区", since="2023", until="2024", limit=50))
    assert before == ["d2023#1", "d2024#1"]
    # A new document in the range, and one moved out of it, in the next commit.
    write_tree(tmp_path / "corpus", {"late.txt": "新通知\n2023-12-01\n试验区建设工作再推进。\n",
                                     "d2024.txt": "通知2024\n2010-05-14\n试验区建设工作第2024年的进展。\n"})
    kb.index([tmp_path / "corpus"])
    assert _ids(kb.search("试验区", since="2023", until="2024", limit=50)) == ["d2023#1", "late#1"]


def test_kept_date_sets_are_those_computed_afresh(make_kb):
    kb = make_kb(DATED)
    rng = random.Random(7)
    ranges = [(f"{a}", f"{b}") for a, b in (sorted(rng.sample(range(2000, 2026), 2)) for _ in range(40))]
    asked = ranges + rng.sample(ranges, 20) + ranges[:5]  # more ranges than are kept, some asked again
    with kb._readers().view() as view:
        r = view.reader
        for since, until in asked:
            bounds = (since, until + "-12-31")
            assert r._date_docs(bounds) == r._date_postings(bounds)
        assert len(r._cache.values[("datesets",)]) == whoosh_reader.DATE_SETS
    for since, until in asked[:10]:
        found = _ids(kb.search("试验区", since=since, until=until, limit=50))
        assert found == sorted(f"d{y}#1" for y in range(int(since), int(until) + 1) if 2001 <= y <= 2024)
