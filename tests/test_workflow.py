"""The research workflow over documents: listing, grouping, metadata filters, facets and export.

Most tests use the provincial reports shipped in ``tests/data/provinces`` (six
reports whose titles never name the province; ``manifest.jsonl`` does).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, policy_file, write_tree
from kb import KnowledgeBase, QueryError
from kb.cli import main

PROVINCES = ROOT / "tests" / "data" / "provinces"


@pytest.fixture
def provinces(tmp_path, monkeypatch):
    """The shipped provincial reports, copied and indexed at $KB_INDEX; returns the KnowledgeBase."""
    src = tmp_path / "provinces"
    shutil.copytree(PROVINCES, src)
    index = tmp_path / "kb-index"
    monkeypatch.setenv("KB_INDEX", str(index))
    kb = KnowledgeBase(index)
    kb.index([src])
    yield kb
    kb.close()


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def cli_fails(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result


def province_of(kb, doc_id: str) -> str:
    return kb.document(doc_id).metadata["province"]


# --- documents -----------------------------------------------------------------------------------------


def test_docs_lists_every_document_with_relative_paths(provinces):
    docs = provinces.documents()
    assert [d.id for d in docs] == sorted(p.stem for p in PROVINCES.glob("*.txt"))
    assert all(not Path(d.path).is_absolute() and d.path.endswith(".txt") for d in docs)
    out = cli("docs").stdout
    assert "yunnan-2026" in out and "2026-01-25" in out and "yunnan-2026.txt" in out
    assert out.strip().endswith("6 documents.")
    data = json.loads(cli("docs", "--json").stdout)
    assert {d["id"] for d in data["documents"]} == {d.id for d in docs}
    assert data["documents"][0]["metadata"]["province"]


def test_docs_take_the_search_filters(provinces):
    assert [d.id for d in provinces.documents(where="province=云南")] == ["yunnan-2025", "yunnan-2026"]
    assert [d.id for d in provinces.documents(since="2026", where=["region=西南"])] == [
        "guizhou-2026", "sichuan-2026", "yunnan-2026"]
    out = cli("docs", "--where", "region=华东").stdout
    assert "zhejiang-2026" in out and "yunnan" not in out


def test_docs_csv_export(provinces, tmp_path):
    out = tmp_path / "docs.csv"
    result = cli("docs", "--format", "csv", "--output", out)
    assert "Wrote 6 documents" in result.stderr
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode("utf-8")), "UTF-8 with BOM, so Excel reads it as UTF-8"
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 6
    assert {r["province"] for r in rows} == {"云南", "贵州", "四川", "浙江", "河南"}
    assert rows[0].keys() >= {"id", "title", "date", "source", "passages", "path", "province", "region"}


def test_doc_shows_metadata_outline_and_text(provinces):
    d = provinces.document("sichuan-2026", text=True)
    assert d.metadata["province"] == "四川"
    assert sum(len(e.passages) for e in d.outline) == d.passages
    assert any("（二）深化农村土地制度改革" in e.section and len(e.passages) == 2 for e in d.outline)
    out = cli("doc", "sichuan-2026", "--text").stdout
    assert "province: 四川" in out and "Outline:" in out
    assert "§ 二、2026年重点工作 > （二）深化农村土地制度改革  (2)  sichuan-2026#5 … sichuan-2026#6" in out
    assert "泸县" in out, "--text prints the whole text"
    data = json.loads(cli("doc", "sichuan-2026", "--json").stdout)
    assert data["outline"][0]["passages"] == ["sichuan-2026#1"] and "text" not in data
    assert "kb docs" in cli_fails("doc", "no-such-report").stderr


# --- --doc: id part, title, metadata values -------------------------------------------------------------


def test_doc_filter_matches_metadata_values_and_id_parts(provinces):
    # Every title is "2026年政府工作报告": only the manifest says which province a report is from.
    hits = provinces.search("宅基地", doc="云南", limit=50)
    assert hits.total == 3 and {h.doc_id for h in hits} == {"yunnan-2025", "yunnan-2026"}
    assert {d.id for d in provinces.documents(doc="sichuan")} == {"sichuan-2026"}
    assert {d.id for d in provinces.documents(doc="2025年政府")} == {"yunnan-2025"}, "title text"
    assert {h.doc_id for h in provinces.search("宅基地 doc:四川")} == {"sichuan-2026"}, "query syntax too"
    out = cli("search", "宅基地", "--doc", "云南").stdout
    assert "yunnan-2026#6" in out and "sichuan" not in out


# --- metadata filters ---------------------------------------------------------------------------------


def test_where_and_meta_syntax_agree(provinces):
    by_where = provinces.search("户籍 OR 落户", where="province=云南", limit=50)
    by_syntax = provinces.search("(户籍 OR 落户) meta.province:云南", limit=50)
    by_mapping = provinces.search("户籍 OR 落户", where={"province": "云南"}, limit=50)
    assert [h.id for h in by_where] == [h.id for h in by_syntax] == [h.id for h in by_mapping]
    assert by_where.total > 0 and {province_of(provinces, h.doc_id) for h in by_where} == {"云南"}


def test_where_operators(provinces):
    def docs(*where):
        return {d.id for d in provinces.documents(where=list(where))}

    assert docs("province~川") == {"sichuan-2026"}
    assert docs("date>=2026-01-25") == {"yunnan-2026", "sichuan-2026"}
    assert docs("date<2026") == {"yunnan-2025"}
    assert docs("year=2025") == {"yunnan-2025"}, "year is derived from the date"
    assert docs("year>2025", "region=西南") == {"yunnan-2026", "guizhou-2026", "sichuan-2026"}
    assert docs("date<=2026-01") == {d.id for d in provinces.documents()}, "a partial date covers its month"
    assert docs("source~浙江") == {"zhejiang-2026"}, "the document's own fields work too"


def test_where_on_numbers_lists_and_mixed_types(make_kb):
    lines = [
        {"id": "a", "title": "甲", "text": "户籍制度改革。", "population": 4700, "tags": ["西部", "边疆"], "code": "530000"},
        {"id": "b", "title": "乙", "text": "户籍制度改革。", "population": "830", "tags": ["中部"], "code": "n/a"},
        {"id": "c", "title": "丙", "text": "户籍制度改革。", "population": "unknown", "tags": "东部"},
    ]
    kb = make_kb({"docs.jsonl": "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)})

    def ids(*where):
        return sorted(d.id for d in kb.documents(where=list(where)))

    assert ids("population>=1000") == ["a"], "numbers compare as numbers, even when stored as text"
    assert ids("population<1000") == ["b"], "a text value is never in a numeric range"
    assert ids("population=830") == ["b"]
    assert ids("tags=边疆") == ["a"], "a list matches when any element does"
    assert ids("tags~部") == ["a", "b", "c"]
    assert ids("code>=500000") == ["a"]
    assert ids("population>2020-01") == [], "a number against a date: no order between them"


def test_filters_hold_on_every_search_path(provinces):
    where = "province=云南"

    def yunnan_only(result):
        assert {province_of(provinces, h.doc_id) for h in result} <= {"云南"}
        return result

    # Verbatim recall: 籍制 straddles the segmenter's words (户籍|制度).
    verbatim = yunnan_only(provinces.search("籍制", where=where, limit=50))
    assert verbatim.total >= 1
    # Relaxation: no passage holds both words; the ones with most of them come back, still in Yunnan.
    relaxed = yunnan_only(provinces.search("宅基地 算力", where=where, limit=50))
    assert relaxed.relaxed and relaxed.total >= 1
    # Correction: a wrong character is corrected, the filter stays.
    corrected = yunnan_only(provinces.search("户藉", where=where, correct=True, limit=50))
    assert corrected.corrected and corrected.total >= 1
    # Expansion (English → Chinese) and grouping.
    yunnan_only(provinces.search("homestead", where=where, limit=50))
    grouped = provinces.search("homestead", where=where, group_by="doc")
    assert {g.document.id for g in grouped.groups} == {"yunnan-2025", "yunnan-2026"}
    assert all(h.doc_id.startswith("yunnan") for h in provinces.iter_search("宅基地 算力", where=where))


def test_unknown_field_and_bad_conditions(provinces):
    with pytest.raises(QueryError) as e:
        provinces.search("户籍", where="provnce=云南")
    assert e.value.param == "where" and "province" in str(e.value)
    with pytest.raises(QueryError):
        provinces.search("户籍", where="province")
    with pytest.raises(QueryError):
        provinces.search("户籍 meta.province:")
    err = cli_fails("search", "户籍", "--where", "provnce=云南").stderr
    assert "--where" in err and "province" in err
    assert "--where" in cli_fails("docs", "--where", "=云南").stderr


# --- grouping by document -------------------------------------------------------------------------------


def test_group_by_doc_gives_one_entry_per_document(provinces):
    every = list(provinces.iter_search("宅基地"))
    per_doc: dict[str, list[str]] = {}
    for h in every:
        per_doc.setdefault(h.doc_id, []).append(h.id)
    result = provinces.search("宅基地", group_by="doc")
    assert result.total == len(every) and result.total_documents == len(per_doc)
    assert [g.document.id for g in result.groups] == list(per_doc), "by the best passage's relevance"
    for g in result.groups:
        assert g.matches == len(per_doc[g.document.id])
        assert g.best.id == per_doc[g.document.id][0], "the best passage is the document's top hit"
        assert sorted(p for e in g.sections for p in e.passages) == sorted(per_doc[g.document.id])
        assert g.score == g.best.score
    assert [h.id for h in result.hits] == [g.best.id for g in result.groups]
    sichuan = next(g for g in result.groups if g.document.id == "sichuan-2026")
    assert sichuan.matches == 2 and len(sichuan.sections) == 1, "two passages of one section"


def test_group_by_doc_sorted_by_date_and_limited(provinces):
    result = provinces.search("宅基地", group_by="doc", sort="date", limit=3)
    dates = [g.document.date for g in result.groups]
    assert len(dates) == 3 and dates == sorted(dates, reverse=True)
    assert result.total_documents == 5
    out = cli("search", "宅基地", "--group-by", "doc", "--sort", "date").stdout
    order = [line.split("[")[1].split("]")[0] for line in out.splitlines() if "[" in line and "政府工作报告" in line]
    assert order == ["sichuan-2026", "yunnan-2026", "guizhou-2026", "zhejiang-2026", "yunnan-2025"]
    assert "5 of 5 matching documents (7 passages" in out
    data = json.loads(cli("search", "宅基地", "--group-by", "doc", "--json").stdout)
    assert data["total_documents"] == 5 and len(data["groups"]) == 5
    g = data["groups"][0]
    assert {"id", "title", "date", "metadata", "matches", "sections", "best", "score"} <= set(g)
    assert g["best"]["id"] in {p for s in g["sections"] for p in s["passages"]}


def test_sort_by_date_for_passages(provinces):
    hits = provinces.search("宅基地", sort="date", limit=50)
    dates = [h.date for h in hits]
    assert dates == sorted(dates, reverse=True) and hits.total == len(hits)


def test_bad_grouping_options(provinces):
    with pytest.raises(QueryError) as e:
        provinces.search("户籍", group_by="section")
    assert e.value.param == "group_by"
    with pytest.raises(QueryError):
        provinces.search("户籍", sort="title")


# --- facets ------------------------------------------------------------------------------------------


def test_facets_count_every_match_not_only_the_shown_hits(provinces):
    result = provinces.search("宅基地", facets="province,year,topic,region", limit=1)
    assert len(result.hits) == 1
    facets = {f.field: {v.value: (v.passages, v.documents) for v in f.values} for f in result.facets}
    assert facets["province"] == {"云南": (3, 2), "四川": (2, 1), "贵州": (1, 1), "浙江": (1, 1)}
    assert facets["year"] == {"2026": (5, 4), "2025": (2, 1)}
    assert facets["region"] == {"西南": (6, 4), "华东": (1, 1)}
    assert facets["topic"]["rural-land"][0] >= 1
    assert sum(p for p, _d in facets["province"].values()) == result.total == 7
    assert result.total_documents == 5
    assert [f.field for f in result.facets] == ["province", "year", "topic", "region"], "in the order asked"


def test_facets_respect_filters_and_grouping(provinces):
    result = provinces.search("宅基地", facets=["province"], where="region=西南", group_by="doc")
    values = result.facets[0].values
    assert [v.value for v in values] == ["云南", "四川", "贵州"], "grouped: most documents first"
    assert all(v.value != "浙江" for v in values)


def test_facets_in_json_and_one_cli_line(provinces):
    data = json.loads(cli("search", "户籍", "--facets", "province,year", "--json").stdout)
    assert data["facets"]["year"][0] == {"value": "2026", "passages": data["facets"]["year"][0]["passages"],
                                         "documents": 4}
    out = cli("search", "户籍", "--facets", "province,year").stdout
    lines = [line for line in out.splitlines() if line.startswith("facets")]
    assert len(lines) == 1 and "province: 云南 3" in lines[0] and "year: 2026" in lines[0]
    with pytest.raises(QueryError) as e:
        KnowledgeBase().search("户籍", facets="provinse")
    assert e.value.param == "facets"
    assert "--facets" in cli_fails("search", "户籍", "--facets", "provinse").stderr


# --- export ------------------------------------------------------------------------------------------


def test_csv_export_of_every_hit(provinces, tmp_path):
    out = tmp_path / "hits.csv"
    result = cli("search", "户籍 OR 宅基地", "--all", "--format", "csv", "--output", out)
    total = provinces.search("户籍 OR 宅基地", limit=100).total
    assert f"Wrote {total} hits of {total}" in result.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == total
    first = rows[0]
    assert first["id"].startswith(first["doc_id"] + "#") and first["province"] and first["section"]
    assert "【" in first["quote"] and first["date"] and first["title"]
    top = cli("search", "户籍 OR 宅基地", "--format", "csv", "-n", "2").stdout
    assert len(list(csv.reader(io.StringIO(top.lstrip("\ufeff"))))) == 3, "without --all: the top --limit"


def test_csv_export_grouped_by_document(provinces):
    out = cli("search", "宅基地", "--group-by", "doc", "--format", "csv", "--all").stdout
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert [r["doc_id"] for r in rows] == [g.document.id for g in provinces.search("宅基地", group_by="doc").groups]
    assert {r["matches"] for r in rows if r["doc_id"] == "sichuan-2026"} == {"2"}
    assert all(r["best_id"].startswith(r["doc_id"] + "#") for r in rows)


def test_markdown_citations(provinces, tmp_path):
    out = tmp_path / "draft.md"
    cli("search", "宅基地", "--where", "province=云南", "--output", out)
    text = out.read_text("utf-8")
    items = [line for line in text.splitlines() if line[:1].isdigit()]
    assert len(items) == 3
    assert items[0].startswith("1. **2026年政府工作报告** (2026-01-25, 云南省人民政府) — § 二、2026年重点工作")
    assert "**宅基地**" in text and "`yunnan-2026#6`" in text


def test_jsonl_export_and_the_old_jsonl_flag(provinces):
    a = cli("search", "户籍", "--jsonl").stdout.splitlines()
    b = cli("search", "户籍", "--format", "jsonl").stdout.splitlines()
    assert a == b and len(a) == min(10, provinces.search("户籍", limit=50).total)
    assert {"id", "snippet", "metadata"} <= set(json.loads(a[0]))


def test_export_usage_errors(provinces, tmp_path):
    for args in (["--all"], ["--format", "csv", "--facets", "year"], ["--output", tmp_path / "x.docx"]):
        result = CliRunner().invoke(main, ["search", "户籍", *map(str, args)])
        assert result.exit_code == 2 and "Traceback" not in result.output


def test_streaming_makes_hits_only_as_they_are_taken(tmp_path, monkeypatch):
    import random

    from kb import searcher

    rng = random.Random(9)
    files = {f"d{i}.txt": policy_file(rng, f"文件{i}", 30) for i in range(10)}
    kb = KnowledgeBase(tmp_path / "big-index")
    kb.index([write_tree(tmp_path / "big", files)])
    made = []
    original = searcher.make_hit

    def counting(*args, **kwargs):
        made.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr("kb.searcher.make_hit", counting)
    stream = kb.iter_search("推进")
    assert stream.total == 300
    first = [next(stream) for _ in range(3)]
    assert len(made) == 3 and len({h.id for h in first}) == 3
    pool = kb._readers()
    assert any(c.in_use for c in pool._commits.values()), "the stream holds a reader while it is open"
    stream.close()
    assert not any(c.in_use for c in pool._commits.values()), "closing releases it"
    assert sum(1 for _ in kb.iter_search("推进")) == 300
    kb.close()


def test_recall_results_are_kept_per_file_within_a_bound(tmp_path, monkeypatch):
    from kb.store import recall

    path = tmp_path / "recall-1.bin"
    recall.write(path, [recall.record(f"d#{i}", f"第{i}段户籍改革" + ("落户" if i % 2 else "")) for i in range(10)], 1)
    f = recall.RecallFile(path)
    monkeypatch.setattr(recall.RecallFile, "CACHE_IDS", 12)
    first = f.find("户籍")
    assert len(first) == 10 and f.find("户籍") == first
    first.clear()
    assert len(f.find("户籍")) == 10, "callers get copies"
    assert len(f.find("落户")) == 5 and f._held <= 12, "the oldest results go when the bound is reached"
    assert f.find("户籍", cap=3) is None
    f.close()
