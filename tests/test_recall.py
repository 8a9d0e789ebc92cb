"""The verbatim-recall file: records, substring search, staleness and repair."""

from __future__ import annotations

import json

import pytest

from kb import IndexCorruptError, KnowledgeBase
from kb.store import recall

from conftest import live_commit
from kb.text import normalize


def test_find_returns_each_passage_once_in_file_order(tmp_path):
    recs = [recall.record("d#1", "户籍制度改革，户籍"), recall.record("d#2", "城乡融合"), recall.record("e#1", "户籍")]
    recall.write(tmp_path / "r.bin", recs, 7)
    rf = recall.RecallFile(tmp_path / "r.bin")
    assert rf.available and rf.commit == 7
    assert rf.find("户籍") == ["d#1", "e#1"]
    assert rf.find("籍制") == ["d#1"]
    assert rf.find("融合") == ["d#2"]
    assert rf.find("不存在") == []
    assert rf.find("户籍", cap=1) is None  # too common to list
    rf.close()


def test_a_match_never_spans_two_records(tmp_path):
    recall.write(tmp_path / "r.bin", [recall.record("a#1", "城乡"), recall.record("b#1", "融合")], 1)
    rf = recall.RecallFile(tmp_path / "r.bin")
    assert rf.find("乡融") == []
    rf.close()


def test_records_round_trip_and_name_their_document(tmp_path):
    recs = [recall.record("gwr-2019#24.2", normalize("戶籍")), recall.record("x/y#3", "a\x1eb")]
    recall.write(tmp_path / "r.bin", recs, 3)
    back = recall.read_records(tmp_path / "r.bin")
    assert back == recs
    assert recall.read_records(tmp_path / "other.bin") is None
    assert [recall.record_doc_id(r) for r in back] == ["gwr-2019", "x/y"]


def test_missing_file_is_unavailable(tmp_path):
    rf = recall.RecallFile(tmp_path / "missing.bin")
    assert not rf.available and rf.find("户籍") == []


def test_a_match_inside_an_id_is_not_a_match(tmp_path):
    recall.write(tmp_path / "r.bin", [recall.record("shandong-2020-12-01#6", "户籍改革")], 1)
    rf = recall.RecallFile(tmp_path / "r.bin")
    assert rf.find("2020-12-01") == [] and rf.find("#6") == [] and rf.find("改革") == ["shandong-2020-12-01#6"]
    rf.close()


def test_document_ids_are_written_once_and_never_matched(tmp_path):
    # Several documents, one with an id its own and a later passage's text contain, one id without "#".
    recs = [recall.record("d2024#1", "城乡"), recall.record("d2024#2", "d2024年户籍"), recall.record("e#1", "户籍"),
            recall.record("plain", "年户籍改革"), recall.record("f#1.2", "d2024")]
    recall.write(tmp_path / "r.bin", recs, 2)
    data = (tmp_path / "r.bin").read_bytes().decode("utf-16-le")
    assert data.count("d2024") == 3  # once as an id, twice in text
    assert recall.read_records(tmp_path / "r.bin") == recs
    rf = recall.RecallFile(tmp_path / "r.bin")
    assert rf.find("d2024") == ["d2024#2", "f#1.2"]
    assert rf.find("户籍") == ["d2024#2", "e#1", "plain"]
    assert rf.find("plain") == [] and rf.find("kbrecall") == [] and rf.find("1") == []
    rf.close()
    # The records of a deleted document are skipped by their document's id.
    rf = recall.RecallFile(tmp_path / "r.bin", dead={"d2024": 3, "e": 1})
    assert rf.find("户籍") == ["e#1", "plain"]
    rf.close()


def _recall_file(kb) -> recall.RecallSet:
    """The recall parts of the live commit, as a searcher reads them."""
    from kb.store import IndexStore

    gen, commit = live_commit(kb)
    return IndexStore(kb.path).snapshot(gen, commit).recall()


def test_index_keeps_the_recall_file_in_step_with_the_index(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("标题甲\n\n各地推进户籍制度改革，放宽落户条件。\n", encoding="utf-8")
    (src / "b.txt").write_text("标题乙\n\n乡村教师队伍建设持续加强。\n", encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "ix")
    kb.index([src])
    assert _recall_file(kb).find("籍制度改") == ["a#1"]
    (src / "a.txt").write_text("标题甲\n\n宅基地制度改革稳步推进。\n", encoding="utf-8")
    (src / "b.txt").unlink()
    (src / "c.txt").write_text("标题丙\n\n集体经营性建设用地入市试点扩大。\n", encoding="utf-8")
    kb.index([src])
    rf = _recall_file(kb)
    assert rf.find("籍制度改") == [] and rf.find("教师") == []
    assert rf.find("基地制度") == ["a#1"] and rf.find("营性建设用") == ["c#1"]
    assert [h.id for h in kb.search("营性建设用")] == ["c#1"]


def test_a_lost_recall_file_is_rebuilt_by_the_next_run(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("标题甲\n\n各地推进户籍制度改革，放宽落户条件。\n", encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "ix")
    kb.index([src])
    gen, g = live_commit(kb)
    (gen / f"recall-{g}.bin").unlink()
    kb.close()
    kb = KnowledgeBase(tmp_path / "ix")
    with pytest.raises(IndexCorruptError) as e:  # answers would silently miss verbatim matches
        kb.search("户籍制度")
    assert "rebuild" in str(e.value)
    (src / "b.txt").write_text("标题乙\n\n乡村教师队伍建设。\n", encoding="utf-8")
    kb.index([src])
    assert [h.id for h in kb.search("籍制度改")] == ["a#1"]
    gen, g = live_commit(kb)
    files = {p.name for p in gen.glob("recall-*.bin")}
    assert f"recall-{g}.bin" in files and files <= {f"recall-{g}.bin", f"recall-{g - 1}.bin"}  # older ones pruned
    data = json.loads((gen / f"manifest-{g}.json").read_text("utf-8"))
    assert set(data["files"]) == {str((src / "a.txt").absolute()), str((src / "b.txt").absolute())}
