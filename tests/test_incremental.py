"""Incremental indexing, rebuilds, format versions and missing indexes."""

from __future__ import annotations

import json
import os

import pytest

from conftest import write_tree
from kb import IndexNotFoundError, IndexVersionError, KnowledgeBase, PassageNotFoundError, SourceNotFoundError
from kb.store import FORMAT_VERSION

A1 = "文档甲\n户籍制度改革持续推进，落户门槛进一步降低。\n"
A2 = "文档甲\n居住证制度全面实施，基本公共服务覆盖常住人口。\n第二段：推进城中村改造，改善居民居住条件。\n"
B = "文档乙\n宅基地制度改革试点稳慎推进，农民权益得到保障。\n"
C = "文档丙\n高标准农田建设加快推进，粮食产能稳步提升。\n"


def ids(result):
    return [h.id for h in result]


def bump_mtime(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


@pytest.fixture
def kb(tmp_path):
    k = KnowledgeBase(tmp_path / "ix")
    yield k
    k.close()


def test_first_run_indexes_everything(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1, "b.txt": B})
    s = kb.index([src])
    assert (s.indexed, s.updated, s.removed, s.unchanged) == (2, 0, 0, 0)
    assert s.passages == 2
    assert s.total_documents == 2 and s.total_passages == 2
    assert s.skipped == ()


def test_second_run_reports_unchanged_files(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1, "b.txt": B})
    kb.index([src])
    s = kb.index([src])
    assert (s.indexed, s.updated, s.removed, s.unchanged) == (0, 0, 0, 2)
    assert s.passages == 0
    assert s.total_passages == 2
    assert ids(kb.search("户籍")) == ["a#1"]


def test_touched_but_identical_file_is_unchanged(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1})
    kb.index([src])
    bump_mtime(src / "a.txt")
    s = kb.index([src])
    assert (s.indexed, s.updated, s.unchanged) == (0, 0, 1)
    assert ids(kb.search("户籍")) == ["a#1"]


def test_changed_file_has_its_passages_replaced(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1, "b.txt": B})
    kb.index([src])
    (src / "a.txt").write_text(A2, encoding="utf-8")
    bump_mtime(src / "a.txt")
    s = kb.index([src])
    assert (s.indexed, s.updated, s.removed, s.unchanged) == (0, 1, 0, 1)
    assert s.passages == 2
    assert s.total_passages == 3
    assert ids(kb.search("户籍")) == [], "the old passage is gone"
    assert ids(kb.search("居住证")) == ["a#1"]
    assert ids(kb.search("城中村")) == ["a#2"]
    assert kb.get("a#2").text.startswith("第二段")
    assert ids(kb.search("宅基地")) == ["b#1"], "other files are untouched"


def test_changed_file_that_shrinks_loses_its_extra_passages(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A2})
    kb.index([src])
    (src / "a.txt").write_text(A1, encoding="utf-8")
    bump_mtime(src / "a.txt")
    kb.index([src])
    with pytest.raises(PassageNotFoundError):
        kb.get("a#2")
    assert kb.stats().passages == 1


def test_added_file_is_indexed(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1})
    kb.index([src])
    write_tree(src, {"sub/c.txt": C})
    s = kb.index([src])
    assert (s.indexed, s.updated, s.removed, s.unchanged) == (1, 0, 0, 1)
    assert ids(kb.search("农田")) == ["sub/c#1"]
    assert kb.stats().documents == 2


def test_removed_file_disappears(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1, "b.txt": B})
    kb.index([src])
    (src / "b.txt").unlink()
    s = kb.index([src])
    assert (s.indexed, s.updated, s.removed, s.unchanged) == (0, 0, 1, 1)
    assert ids(kb.search("宅基地")) == []
    with pytest.raises(PassageNotFoundError):
        kb.get("b#1")
    st = kb.stats()
    assert (st.documents, st.passages, st.files) == (1, 1, 1)


def test_change_add_and_remove_in_one_run(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1, "b.txt": B})
    kb.index([src])
    (src / "a.txt").write_text(A2, encoding="utf-8")
    bump_mtime(src / "a.txt")
    (src / "b.txt").unlink()
    write_tree(src, {"c.txt": C})
    s = kb.index([src])
    assert (s.indexed, s.updated, s.removed, s.unchanged) == (1, 1, 1, 0)
    assert s.total_passages == 3
    assert ids(kb.search("户籍")) == ids(kb.search("宅基地")) == []
    assert ids(kb.search("农田")) == ["c#1"]


def test_files_under_other_roots_are_kept(tmp_path, kb):
    one = write_tree(tmp_path / "one", {"a.txt": A1})
    two = write_tree(tmp_path / "two", {"b.txt": B})
    kb.index([one, two])
    s = kb.index([one])
    assert s.removed == 0
    assert ids(kb.search("宅基地")) == ["b#1"]


def test_jsonl_line_edit_replaces_that_files_documents(tmp_path, kb):
    rec = lambda i, text: json.dumps({"id": f"n{i}", "title": f"新闻{i}", "text": text}, ensure_ascii=False)  # noqa: E731
    src = write_tree(tmp_path / "src", {"news.jsonl": rec(1, "户籍制度改革持续推进，落户门槛降低。") + "\n" + rec(2, "宅基地改革试点稳慎推进。") + "\n"})
    kb.index([src])
    (src / "news.jsonl").write_text(rec(2, "高标准农田建设加快推进。") + "\n", encoding="utf-8")
    bump_mtime(src / "news.jsonl")
    s = kb.index([src])
    assert s.updated == 1
    assert ids(kb.search("户籍")) == ids(kb.search("宅基地")) == []
    assert ids(kb.search("农田")) == ["n2#1"]
    assert kb.stats().documents == 1


def test_file_that_became_unreadable_keeps_its_indexed_version(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1})
    kb.index([src])
    (src / "a.txt").write_bytes(b"\x00\x01\x02binary\x00" * 100)
    bump_mtime(src / "a.txt")
    s = kb.index([src])
    (skip,) = s.skipped
    assert skip.path.endswith("a.txt")
    assert skip.reason
    assert ids(kb.search("户籍")) == ["a#1"]


def test_rebuild_starts_afresh(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1, "b.txt": B})
    other = write_tree(tmp_path / "other", {"c.txt": C})
    kb.index([src, other])
    s = kb.index([src], rebuild=True)
    assert (s.indexed, s.updated, s.removed, s.unchanged) == (2, 0, 0, 0)
    assert s.total_documents == 2 and s.total_passages == 2
    assert ids(kb.search("户籍")) == ["a#1"]
    # correct=False: the search must not fall back to a "did you mean" word (农民) of the rebuilt index.
    assert ids(kb.search("农田", correct=False)) == [], "a rebuild holds only what it was given"
    # Searching through a fresh object sees the rebuilt index too.
    with KnowledgeBase(kb.path) as again:
        assert ids(again.search("宅基地")) == ["b#1"]
        assert again.stats().documents == 2


def test_rebuild_of_a_missing_index_builds_it(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1})
    s = kb.index([src], rebuild=True)
    assert s.indexed == 1
    assert kb.exists()


def _set_format(kb: KnowledgeBase, value) -> None:
    current = (kb.path / "CURRENT").read_text("utf-8").strip()
    meta = max((kb.path / current).glob("manifest-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    data = json.loads(meta.read_text("utf-8"))
    assert "format" in data
    data["format"] = value
    meta.write_text(json.dumps(data), encoding="utf-8")


# FORMAT_VERSION - 1: an index kb wrote before the last format change must be rebuilt too.
@pytest.mark.parametrize("other_format", [0, FORMAT_VERSION - 1, 999, "1-beta"])
def test_other_format_version_raises_index_version_error(tmp_path, other_format):
    src = write_tree(tmp_path / "src", {"a.txt": A1})
    with KnowledgeBase(tmp_path / "ix") as kb:
        kb.index([src])
    with KnowledgeBase(tmp_path / "ix") as kb:
        _set_format(kb, other_format)
        for call in (lambda: kb.search("户籍"), kb.stats, lambda: kb.get("a#1"), lambda: kb.index([src])):
            with pytest.raises(IndexVersionError) as exc:
                call()
            message = str(exc.value)
            assert "rebuild" in message
            assert "\n" not in message
        # The way out the message names works.
        kb.index([src], rebuild=True)
        assert ids(kb.search("户籍")) == ["a#1"]


def test_format_change_under_an_open_knowledge_base(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1})
    kb.index([src])
    assert ids(kb.search("户籍")) == ["a#1"]
    _set_format(kb, 999)
    with pytest.raises(IndexVersionError):
        kb.index([src])


def test_missing_index_raises_index_not_found(tmp_path):
    where = tmp_path / "nothing-here"
    with KnowledgeBase(where) as kb:
        assert not kb.exists()
        for call in (lambda: kb.search("户籍"), kb.stats, lambda: kb.get("a#1"), kb.require):
            with pytest.raises(IndexNotFoundError) as exc:
                call()
            assert "build one" in str(exc.value) and exc.value.code == "index_not_found"
    assert not where.exists(), "reading must not create an index directory"


def test_empty_directory_is_not_an_index(tmp_path):
    (tmp_path / "empty").mkdir()
    with KnowledgeBase(tmp_path / "empty") as kb:
        with pytest.raises(IndexNotFoundError):
            kb.search("户籍")


def test_missing_source_raises_and_leaves_the_index_alone(tmp_path, kb):
    src = write_tree(tmp_path / "src", {"a.txt": A1})
    kb.index([src])
    with pytest.raises(SourceNotFoundError):
        kb.index([src, tmp_path / "does-not-exist"])
    assert ids(kb.search("户籍")) == ["a#1"]


def test_default_location_comes_from_kb_index(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_INDEX", str(tmp_path / "from-env"))
    src = write_tree(tmp_path / "src", {"a.txt": A1})
    with KnowledgeBase() as kb:
        kb.index([src])
    assert (tmp_path / "from-env" / "CURRENT").is_file()


def test_manifest_edit_updates_the_documents_it_describes(tmp_path, kb):
    def manifest(title, date):
        return json.dumps({"file": "r.txt", "id": "rep", "title": title, "date": date}, ensure_ascii=False) + "\n"

    src = write_tree(tmp_path / "src", {"manifest.jsonl": manifest("旧标题", "2019"), "r.txt": "标题行\n\n现在，我代表国务院，向大会报告政府工作，请予审议。\n"})
    kb.index([src])
    assert (kb.get("rep#1").title, kb.get("rep#1").date) == ("旧标题", "2019")
    (src / "manifest.jsonl").write_text(manifest("新标题", "2020年3月5日"), encoding="utf-8")
    bump_mtime(src / "manifest.jsonl")
    s = kb.index([src])
    assert s.unchanged == 0, "r.txt's document changed with its manifest entry"
    hit = kb.get("rep#1")
    assert (hit.title, hit.date) == ("新标题", "2020-03-05")
    assert ids(kb.search("政府工作", doc="新标题")) == ["rep#1"]
