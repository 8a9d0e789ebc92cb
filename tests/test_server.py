"""``kb serve``: the HTTP JSON API, tested against a real ``kb serve`` subprocess over loopback HTTP."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install -e '.[test]'")
pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install -e '.[test]'")

from conftest import SEED, SEED_ID, kb_env, policy_paragraph, run_kb, write_tree
from serving import Served, document_path, open_fds, passage_path, provinces_index, rss_kib

P6 = f"{SEED_ID}#6"
P10 = f"{SEED_ID}#10"


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("serve-seed")
    src = root / "seeds"
    src.mkdir()
    shutil.copy(SEED, src / SEED.name)
    index = root / "index"
    r = run_kb(index, "index", src)
    assert r.returncode == 0, r.stderr
    return index


@pytest.fixture(scope="module")
def served(seed_index, tmp_path_factory):
    s = Served(seed_index, log=tmp_path_factory.mktemp("serve-log") / "serve.log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def provinces(tmp_path_factory):
    """A server over the shipped provincial reports (metadata: province, region); yields (server, index)."""
    root = tmp_path_factory.mktemp("serve-provinces")
    index = provinces_index(root)
    s = Served(index, log=root / "serve.log")
    yield s, index
    s.stop()


def cli_json(index: Path, *args) -> dict:
    r = run_kb(index, *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def without_paths(hit: dict) -> dict:
    """A hit with its path fields removed (the server shows ``path`` relative; the CLI shows it absolute)."""
    d = {k: v for k, v in hit.items() if k != "path"}
    if "context" in d:
        d["context"] = [without_paths(c) for c in d["context"]]
    return d


# --- the JSON is the CLI's -----------------------------------------------------------------------------
def test_search_json_is_the_cli_json_with_relative_paths(served, seed_index):
    status, body = served.get("/search", {"q": "户籍", "context": 1})
    cli = cli_json(seed_index, "search", "户籍", "--context", "1")
    assert status == 200
    assert body.pop("offset") == 0 and body.pop("limit") == 10
    assert [without_paths(h) for h in body.pop("hits")] == [without_paths(h) for h in cli.pop("hits")]
    assert body == cli
    _, body = served.get("/search", {"q": "户籍", "context": 1})
    for h in [*body["hits"], *body["hits"][0]["context"]]:
        assert h["path"] == h["rel"] == SEED.name  # never the absolute path the CLI shows
    assert body["hits"][0]["id"] == P6


def test_passage_json_is_the_cli_json(served, seed_index):
    status, body = served.get(passage_path(P6), {"context": 2})
    cli = cli_json(seed_index, "get", P6, "--context", "2")
    assert status == 200
    assert without_paths(body) == without_paths(cli)
    assert [c["paragraph"] for c in body["context"]] == [4, 5, 7, 8]
    assert body["path"] == SEED.name


def test_every_search_option(served, seed_index):
    from kb import KnowledgeBase

    with KnowledgeBase(seed_index) as kb:
        full = [h.id for h in kb.search("城乡", limit=100)]
        assert len(full) >= 5
        _, body = served.get("/search", {"q": "城乡", "limit": 2})
        assert [h["id"] for h in body["hits"]] == full[:2] and body["total"] == len(full)
        _, body = served.get("/search", {"q": "城乡", "limit": 2, "offset": 2})
        assert [h["id"] for h in body["hits"]] == full[2:4] and body["offset"] == 2
        _, body = served.get("/search", {"q": "城乡", "limit": 2, "page": 3})
        assert [h["id"] for h in body["hits"]] == full[4:6] and body["offset"] == 4
        for option, value in (("section", "基础设施"), ("doc", SEED_ID), ("topic", "household-registration"),
                              ("since", "2020-12"), ("until", "2020")):
            expected = [h.id for h in kb.search("城乡", limit=100, **{option: value})]
            _, body = served.get("/search", {"q": "城乡", "limit": 100, option: value})
            assert [h["id"] for h in body["hits"]] == expected, option
        assert served.get("/search", {"q": "城乡", "until": "2019"})[1]["total"] == 0
        _, body = served.get("/search", {"q": "户籍", "expand": "false"})
        assert body["expanded"] == [] and [h["id"] for h in body["hits"]] == [P6]
        _, body = served.get("/search", {"q": "rural land reform", "explain": "true", "limit": 1})
        assert body["hits"][0]["id"] == P10
        assert body["explain"][0].startswith("expanded 'rural land reform' → 宅基地 (glossary)")
        assert "explain" not in served.get("/search", {"q": "户籍"})[1]
        _, body = served.get("/search", {"q": "户藉"})  # a wrong character: the suggestion's results
        assert body["corrected"] is True and body["suggestion"] == "户籍" and body["hits"][0]["id"] == P6
        _, body = served.get("/search", {"q": "户藉", "correct": "false"})
        assert body["corrected"] is False and body["suggestion"] == "户籍"


# --- the research workflow: where, group_by, sort, facets, export ------------------------------------
def library_json(index: Path, query: str, **options) -> dict:
    """What the library answers, as the server writes it (relative paths)."""
    from kb import KnowledgeBase, serialize

    with KnowledgeBase(index) as kb:
        return serialize.search_result(kb.search(query, correct=True, **options), query=query, relative_paths=True)


WORKFLOW_SEARCHES = [
    ({"where": "province=云南"}, {"where": ["province=云南"]}),
    ({"where": ["region=西南", "date>=2026"]}, {"where": ["region=西南", "date>=2026"]}),
    ({"where": "region~西"}, {"where": ["region~西"]}),
    ({"group_by": "doc"}, {"group_by": "doc"}),
    ({"sort": "date"}, {"sort": "date"}),
    ({"group_by": "doc", "sort": "date", "facets": "province,year,topic"},
     {"group_by": "doc", "sort": "date", "facets": "province,year,topic"}),
    ({"facets": "region"}, {"facets": "region"}),
    ({"doc": "云南", "facets": "province"}, {"doc": "云南", "facets": "province"}),
]


@pytest.mark.parametrize("api,lib", WORKFLOW_SEARCHES, ids=[str(a) for a, _ in WORKFLOW_SEARCHES])
def test_workflow_options_answer_as_the_library(provinces, api, lib):
    served, index = provinces
    status, body = served.get("/search?" + urlencode({"q": "宅基地", "limit": 100, **api}, doseq=True))
    assert status == 200, body
    assert body.pop("offset") == 0 and body.pop("limit") == 100
    assert body == library_json(index, "宅基地", limit=100, **lib)
    assert body["total"] > 0


def test_grouped_search_is_the_cli_json_and_pages_by_document(provinces):
    served, index = provinces
    _, body = served.get("/search", {"q": "宅基地", "group_by": "doc", "facets": "province"})
    cli = cli_json(index, "search", "宅基地", "--group-by", "doc", "--facets", "province")
    assert [g["id"] for g in body["groups"]] == [g["id"] for g in cli["groups"]]
    assert body["facets"] == cli["facets"] and body["total_documents"] == cli["total_documents"] == 5
    assert [h["id"] for h in body["hits"]] == [g["best"]["id"] for g in body["groups"]]
    group = body["groups"][2]
    assert group["matches"] == len([p for s in group["sections"] for p in s["passages"]]) >= 2
    assert group["best"]["path"] == group["path"] == f"{group['id']}.txt"  # relative, never absolute
    everything = [g["id"] for g in body["groups"]]
    _, page2 = served.get("/search", {"q": "宅基地", "group_by": "doc", "limit": 2, "page": 2})
    assert [g["id"] for g in page2["groups"]] == everything[2:4]
    assert [h["id"] for h in page2["hits"]] == [g["best"]["id"] for g in page2["groups"]]
    assert page2["offset"] == 2 and page2["total_documents"] == 5


def test_sort_by_date_puts_the_newest_document_first(provinces):
    served, _ = provinces
    _, body = served.get("/search", {"q": "宅基地", "sort": "date", "limit": 100})
    dates = [h["date"] for h in body["hits"]]
    assert dates == sorted(dates, reverse=True) and dates[0] == "2026-01-27"
    _, relevance = served.get("/search", {"q": "宅基地", "limit": 100})
    assert [h["date"] for h in relevance["hits"]] != dates  # the order really changed


def test_documents_and_fields(provinces):
    from kb import KnowledgeBase, serialize

    served, index = provinces
    _, body = served.get("/documents?where=province%3D%E4%BA%91%E5%8D%97")  # province=云南
    assert [d["id"] for d in body["documents"]] == ["yunnan-2025", "yunnan-2026"] and body["total"] == 2
    _, body = served.get("/documents?" + urlencode({"where": ["region=西南", "year<2026"]}, doseq=True))
    assert [d["id"] for d in body["documents"]] == ["yunnan-2025"]
    assert served.get("/documents", {"where": ""})[1]["total"] == 6  # a cleared form field is no condition
    _, fields = served.get("/fields")
    with KnowledgeBase(index) as kb:
        assert fields == serialize.fields(kb.fields())
    by_name = {f["name"]: f for f in fields["fields"]}
    assert [f["name"] for f in fields["fields"]][:2] == ["province", "region"]  # metadata first
    assert by_name["province"] == {"name": "province", "documents": 6, "values": 5,
                                   "examples": by_name["province"]["examples"], "metadata": True}
    assert by_name["province"]["examples"][0] == "云南"  # the most frequent value first (two reports)
    assert by_name["region"]["values"] == 3 and by_name["id"]["values"] == 6 and not by_name["id"]["metadata"]
    assert by_name["year"]["examples"] == ["2026", "2025"]


def export(served, params: dict) -> tuple[int, dict, bytes]:
    return served.request("GET", "/search?" + urlencode(params, doseq=True))


def test_export_csv_is_the_cli_export(provinces, tmp_path):
    served, index = provinces
    status, headers, data = export(served, {"q": "宅基地", "group_by": "doc", "where": "region=西南", "format": "csv"})
    assert status == 200 and headers["content-type"] == "text/csv; charset=utf-8"
    assert headers["content-disposition"].startswith("attachment;") and "filename*=UTF-8''kb-" in headers[
        "content-disposition"]
    r = run_kb(index, "search", "宅基地", "--group-by", "doc", "--where", "region=西南", "--all", "--format", "csv",
               "--output", tmp_path / "cli.csv")
    assert r.returncode == 0, r.stderr
    assert data == (tmp_path / "cli.csv").read_bytes()  # grouped rows show only relative paths: byte for byte
    assert data.startswith("\ufeff".encode()) and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][-2:] == ["province", "region"] and len(rows) - 1 == 4
    assert headers["x-total-count"] == headers["x-export-count"] == "4"


def test_export_hits_as_csv_md_and_jsonl(provinces, tmp_path):
    from kb import KnowledgeBase

    served, index = provinces
    with KnowledgeBase(index) as kb:
        expected = [h.id for h in kb.search("宅基地", limit=100, sort="date")]
    status, headers, data = export(served, {"q": "宅基地", "sort": "date", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert status == 200 and [r["id"] for r in rows] == expected and headers["x-total-count"] == str(len(expected))
    assert {r["path"] for r in rows} == {f"{r['doc_id']}.txt" for r in rows}  # relative, not the CLI's absolute
    assert str(index.parent) not in data.decode("utf-8")

    status, headers, data = export(served, {"q": "宅基地", "sort": "date", "format": "md"})
    r = run_kb(index, "search", "宅基地", "--sort", "date", "--all", "--format", "md", "--output", tmp_path / "a.md")
    assert status == 200 and headers["content-type"] == "text/markdown; charset=utf-8"
    assert r.returncode == 0 and data == (tmp_path / "a.md").read_bytes()

    status, headers, data = export(served, {"q": "宅基地", "sort": "date", "format": "jsonl", "limit": 2})
    lines = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert status == 200 and headers["content-type"] == "application/jsonl"
    assert [h["id"] for h in lines] == expected[:2] and all(h["path"] == h["rel"] for h in lines)
    assert headers["x-total-count"] == str(len(expected)) and headers["x-export-count"] == "2"

    status, headers, data = export(served, {"q": "火星基地", "format": "csv", "correct": "false"})
    assert status == 200 and headers["x-total-count"] == "0"
    assert data.decode("utf-8-sig").splitlines()[0].startswith("id,doc_id,title")  # the header of an empty export


EXPORT_REFUSALS = [
    ({"format": "xlsx"}, "format"),
    ({"format": "csv", "offset": "5"}, "offset"),
    ({"format": "csv", "page": "2"}, "page"),
    ({"format": "csv", "context": "1"}, "context"),
    ({"format": "csv", "facets": "province"}, "facets"),
    ({"format": "csv", "explain": "true"}, "explain"),
    ({"format": "csv", "limit": "50001"}, "limit"),
    ({"limit": "500"}, "limit"),  # more than 100 only for an export
]


@pytest.mark.parametrize("params,param", EXPORT_REFUSALS, ids=[str(p) for p, _ in EXPORT_REFUSALS])
def test_export_refusals_name_the_parameter(provinces, params, param):
    served, _ = provinces
    status, body = served.get("/search", {"q": "宅基地", **params})
    assert status == 400 and body["error"]["param"] == param and body["error"]["code"] == "bad_query"
    assert body["error"]["message"].endswith(".")


LIBRARY_REFUSALS = [
    {"group_by": "page"}, {"sort": "oldest"}, {"facets": "colour"}, {"where": "province"},
    {"where": "colour=red"}, {"where": "province>=", "group_by": "doc"},
]


@pytest.mark.parametrize("options", LIBRARY_REFUSALS, ids=[str(o) for o in LIBRARY_REFUSALS])
def test_bad_workflow_options_are_400_with_the_library_sentence(provinces, options):
    from kb import KnowledgeBase, QueryError

    served, index = provinces
    with KnowledgeBase(index) as kb, pytest.raises(QueryError) as raised:
        kb.search("宅基地", **options)
    exports = [{"format": "csv"}] if "facets" not in options else []  # an export refuses facets itself
    for extra in ({}, *exports):  # the export checks before it streams
        status, body = served.get("/search", {"q": "宅基地", **options, **extra})
        assert status == 400, (options, extra)
        assert body["error"] == {"code": "bad_query", "message": str(raised.value), "param": raised.value.param}


def asgi_get(app, url: str, *, hang_up: bool = False) -> tuple[int, dict, bytes]:
    """GET ``url`` from the ASGI ``app`` as uvicorn calls it; with ``hang_up`` the client leaves after the first
    piece of the body (as a browser does when the download is cancelled)."""
    import anyio

    path, _, qs = url.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": qs.encode(), "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 9),
             "server": ("127.0.0.1", 80)}
    start: dict = {}
    body: list[bytes] = []

    async def main():
        first_piece = anyio.Event()
        requested = False

        async def receive():
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if hang_up:
                await first_piece.wait()
                return {"type": "http.disconnect"}
            await anyio.sleep_forever()

        async def send(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message.get("body"):
                body.append(message["body"])
                first_piece.set()

        with anyio.fail_after(120):
            await app(scope, receive, send)

    anyio.run(main)
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, b"".join(body)


def test_exports_release_their_reader_however_they_end(tmp_path):
    import random

    from kb import KnowledgeBase
    from kb.server.http import CONCURRENT_EXPORTS, create_app

    rng = random.Random(13)
    lines = [json.dumps({"id": f"g{i:03d}", "title": f"文件{i}", "date": f"20{10 + i % 15}-01-01",
                         "text": "\n".join(policy_paragraph(rng, 240) for _ in range(4))}, ensure_ascii=False)
             for i in range(120)]
    src = write_tree(tmp_path / "src", {"docs.jsonl": "\n".join(lines) + "\n"})
    kb = KnowledgeBase(tmp_path / "index")
    kb.index([src])
    app = create_app(kb)
    url = "/search?q=%E6%8E%A8%E8%BF%9B&format=jsonl"  # q=推进: every passage
    try:
        for _ in range(CONCURRENT_EXPORTS + 1):  # a slot not given back would make the last export wait, then 503
            status, _h, data = asgi_get(app, url, hang_up=True)
            assert status == 200 and 0 < len(data.splitlines()) < 480  # the client left mid-export
        status, headers, data = asgi_get(app, url)
        assert status == 200 and len(data.splitlines()) == int(headers["x-total-count"]) == 480
        kb.index([src], rebuild=True)
        assert kb.search("推进").total == 480  # the pool moves to the new generation ...
        held = []
        for fd in Path("/proc/self/fd").iterdir():
            try:
                held.append(str(fd.readlink()))
            except OSError:
                continue
        live = (tmp_path / "index" / "CURRENT").read_text().strip()
        index_files = [f for f in held if str(tmp_path / "index") in f]
        # ... and no export still holds a reader of the replaced one.
        assert index_files and all(live in f and "(deleted)" not in f for f in index_files), index_files
    finally:
        kb.close()

def test_documents_list_and_outline(served, seed_index):
    status, body = served.get("/documents")
    assert status == 200 and body["total"] == 1
    (doc,) = body["documents"]
    assert doc["id"] == SEED_ID and doc["path"] == SEED.name and doc["passages"] == 10
    assert served.get("/documents", {"topic": "household-registration"})[1]["total"] == 1
    assert served.get("/documents", {"since": "2021"})[1]["total"] == 0
    assert served.get("/documents", {"offset": 1})[1]["documents"] == []
    status, body = served.get(document_path(SEED_ID))
    assert status == 200 and body["title"].startswith("山东省")
    ids = [pid for entry in body["outline"] for pid in entry["passages"]]
    assert P6 in ids and len(ids) == 10
    sections = [e["section"] for e in body["outline"]]
    assert "完善促进新型城镇化与城乡融合发展的措施和规划" in sections
    assert "text" not in body and "户籍改革" in served.get(document_path(SEED_ID), {"text": "true"})[1]["text"]


def test_topics_stats_healthz_show_no_absolute_path(served, seed_index):
    _, topics = served.get("/topics")
    assert topics == cli_json(seed_index, "topics")
    _, stats = served.get("/stats")
    cli = cli_json(seed_index, "stats")
    assert stats["passages"] == cli["passages"] == 10
    assert stats["sources"] == [SEED.name] and stats["index_path"] == "index"
    assert str(seed_index.parent) not in json.dumps(stats, ensure_ascii=False)
    status, health = served.get("/healthz")
    assert status == 200 and health["status"] == "ok" and health["passages"] == 10


def openapi_checker(served):
    """``check(schema_name, value)``: validate ``value`` against the server's own OpenAPI description."""
    jsonschema = pytest.importorskip("jsonschema")
    status, doc = served.get("/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")

    def check(name, value, components=None):
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"#/components/schemas/{name}",
                  "components": components or doc["components"]}
        jsonschema.validate(value, schema)

    return doc, check, jsonschema.ValidationError


def test_openapi_describes_every_endpoint_and_the_responses_match_it(served, provinces):
    from kb.server import params

    doc, check, invalid = openapi_checker(served)
    assert set(doc["paths"]) == {"/search", "/passages/{id}", "/documents", "/documents/{id}", "/topics", "/fields",
                                 "/stats", "/healthz"}
    search = doc["paths"]["/search"]["get"]
    assert {p["name"] for p in search["parameters"]} == {p.name for p in params.SEARCH}
    assert {p["name"] for p in doc["paths"]["/documents"]["get"]["parameters"]} == {p.name for p in params.DOCUMENTS}
    where = next(p for p in search["parameters"] if p["name"] == "where")
    assert where["schema"]["type"] == "array" and where["explode"] is True
    assert next(p for p in search["parameters"] if p["name"] == "format")["schema"]["enum"] == ["csv", "md", "jsonl"]
    assert set(search["responses"]["200"]["content"]) == {"application/json", "text/csv", "text/markdown",
                                                          "application/jsonl"}

    check("SearchResult", served.get("/search", {"q": "户籍", "context": 1, "explain": 1})[1])
    check("Hit", served.get(passage_path(P6), {"context": 1})[1])
    check("DocumentList", served.get("/documents")[1])
    check("Document", served.get(document_path(SEED_ID), {"text": 1})[1])
    check("Topics", served.get("/topics")[1])
    check("Stats", served.get("/stats")[1])
    check("Health", served.get("/healthz")[1])
    check("Error", served.get("/search", {"q": "(("})[1])
    with pytest.raises(invalid):  # the schemas are strict enough to catch a drift
        check("Hit", {**served.get(passage_path(P6))[1], "unexpected": 1})

    # The research workflow's answers, on documents with metadata.
    pserved, _ = provinces
    grouped = pserved.get("/search?" + urlencode({"q": "宅基地", "group_by": "doc", "sort": "date", "facets":
                                                 "topic,province,year", "where": ["region=西南"]}, doseq=True))[1]
    assert grouped["groups"] and grouped["facets"]["province"] and grouped["total_documents"] == 4
    check("SearchResult", grouped)
    check("DocumentList", pserved.get("/documents", {"where": "province=云南"})[1])
    check("Fields", pserved.get("/fields")[1])
    for fmt_params, schema in (({}, "Hit"), ({"group_by": "doc"}, "DocumentGroup")):
        _, headers, data = export(pserved, {"q": "宅基地", "format": "jsonl", **fmt_params})
        assert int(headers["x-export-count"]) == len(data.splitlines()) > 1
        for line in data.decode("utf-8").splitlines():
            check(schema, json.loads(line))
    with pytest.raises(invalid):
        check("SearchResult", {**grouped, "groups": [{**grouped["groups"][0], "matches": "3"}]})


def test_openapi_bodies_follow_the_result_dataclasses(served):
    """The schemas are the dataclasses' fields and types: a field added to Hit is described at once, typed."""
    import dataclasses
    from typing import Any

    from kb import Hit, SearchResult
    from kb.server import openapi

    doc, check, invalid = openapi_checker(served)
    schemas = doc["components"]["schemas"]
    assert list(schemas["Hit"]["properties"]) == [f.name for f in dataclasses.fields(Hit)]
    assert list(schemas["SearchResult"]["properties"]) == [f.name for f in dataclasses.fields(SearchResult)] + [
        "offset", "limit", "explain"]
    assert schemas["Hit"]["properties"]["page"]["type"] == ["integer", "null"]
    assert schemas["Hit"]["properties"]["context"]["items"] == {"$ref": "#/components/schemas/Hit"}

    # As if another engineer added fields to kb.models.Hit (real types: this module's annotations are strings).
    Duplicate = dataclasses.make_dataclass("Duplicate", [("id", str), ("title", str)], frozen=True)
    GrownHit = dataclasses.make_dataclass("Hit", [
        ("mirrors", tuple[str, ...], dataclasses.field(default=())),
        ("duplicates", tuple[Duplicate, ...], dataclasses.field(default=())),
        ("weight", float | None, dataclasses.field(default=None)),
    ], bases=(Hit,), frozen=True)

    derived = openapi.schemas([GrownHit])
    props = derived["Hit"]["properties"]
    assert props["mirrors"] == {"type": "array", "items": {"type": "string"}}
    assert props["duplicates"] == {"type": "array", "items": {"$ref": "#/components/schemas/Duplicate"}}
    assert derived["Duplicate"]["required"] == ["id", "title"] and props["weight"]["type"] == ["number", "null"]
    real = served.get(passage_path(P6))[1]
    grown = {**real, "mirrors": ["other#3"], "duplicates": [{"id": "other", "title": "另一份"}], "weight": 0.5}
    check("Hit", grown, {"schemas": derived})  # a serializer that writes the new fields validates ...
    with pytest.raises(invalid):
        check("Hit", real, {"schemas": derived})  # ... and one that forgets them does not
    with pytest.raises(invalid):
        check("Hit", {**grown, "mirrors": "other#3"}, {"schemas": derived})  # typed, not "anything"

    Odd = dataclasses.make_dataclass("Odd", [("handle", Any), ("when", complex)], frozen=True)

    with pytest.raises(TypeError, match=r"Odd\.when: .*cannot describe"):  # never a silent gap
        openapi.schemas([Odd])


# --- errors ------------------------------------------------------------------------------------------
BAD_PARAMS = [
    ({"q": "户籍", "limit": "0"}, "limit"),
    ({"q": "户籍", "limit": "abc"}, "limit"),
    ({"q": "户籍", "limit": "101"}, "limit"),
    ({"q": "户籍", "offset": "-1"}, "offset"),
    ({"q": "户籍", "offset": "995", "limit": "10"}, "offset"),
    ({"q": "户籍", "page": "2", "offset": "1"}, "page"),
    ({"q": "户籍", "context": "11"}, "context"),
    ({"q": "户籍", "expand": "maybe"}, "expand"),
    ({"q": "户籍", "lmit": "5"}, "lmit"),
    ({"q": "户籍", "group-by": "doc"}, "group-by"),
    ({"q": "户籍", "where": "x" * 501}, "where"),
    ({"q": "户籍", "since": "yesterday"}, "since"),
    ({"q": "户籍", "section": "x" * 501}, "section"),
    ({}, "q"),
]


@pytest.mark.parametrize("params,param", BAD_PARAMS, ids=[p for _, p in BAD_PARAMS])
def test_bad_parameters_are_400_naming_the_parameter(served, params, param):
    status, body = served.get("/search", params)
    assert status == 400
    assert body["error"]["code"] == "bad_query" and body["error"]["param"] == param
    assert body["error"]["message"].endswith(".") and "\n" not in body["error"]["message"]


@pytest.mark.parametrize("query", ["((", "", "a" * 2001, "topic:nonexistent 户籍", "foo:bar"])
def test_bad_query_is_400_with_the_library_sentence(served, seed_index, query):
    from kb import KnowledgeBase, QueryError

    with KnowledgeBase(seed_index) as kb, pytest.raises(QueryError) as raised:
        kb.search(query)
    status, body = served.get("/search", {"q": query})
    assert status == 400 and body["error"]["message"] == str(raised.value)


def test_repeated_parameter_is_400(served):
    status, body = served.get("/search?q=a&q=b")
    assert status == 400 and body["error"]["param"] == "q"


def test_unknown_ids_are_404(served):
    status, body = served.get(passage_path("nope#1"))
    assert status == 404 and body["error"]["code"] == "passage_not_found"
    status, body = served.get(document_path("../../etc/passwd"))
    assert status == 404 and body["error"]["code"] == "document_not_found"
    status, body = served.get("/passages/..%2F..%2Fetc%2Fpasswd")  # ids are looked up, never opened as paths
    assert status == 404 and body["error"]["code"] == "passage_not_found"


def test_unknown_paths_and_wrong_methods_get_json(served):
    status, body = served.get("/nope")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = served.get("/static/../../kb/api.py")
    assert status == 404
    status, headers, data = served.request("DELETE", "/search?q=a")
    assert status == 405 and "GET" in headers["allow"]
    assert json.loads(data)["error"]["code"] == "method_not_allowed"
    status, headers, data = served.request("POST", "/search", body=b"{}")
    assert status == 405 and headers["content-type"].startswith("application/json")


def test_malformed_urls_and_bodies_get_4xx_and_the_server_keeps_serving(served):
    assert served.get("/search?q=%FF%FE")[0] == 400  # invalid UTF-8 in the query string
    status, body = served.get("/passages/%FF")  # ... and in the path
    assert status == 400 and body["error"]["code"] == "bad_url"
    status, body = served.get("/search?q=" + "a" * 10_000)  # over the URL bound: 414 from kb
    assert status == 414 and body["error"]["code"] == "uri_too_long"
    # Over uvicorn's own bound it answers 400 and hangs up; the client may see the answer or a reset.
    answer = raw_exchange(served, b"GET /search?q=" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer is None or answer.startswith(b"HTTP/1.1 4"), answer[:100]
    status, body = served.get("/search?" + "&".join(f"x{i}=1" for i in range(100)))
    assert status == 400
    answer = raw_exchange(served, b"POST /index HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413") and b'"body_too_large"' in answer
    with socket.create_connection((served.host, int(served.port)), timeout=30) as s:  # not HTTP at all
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    assert served.get("/search", {"q": "户籍"})[0] == 200


def raw_exchange(served, request: bytes) -> bytes | None:
    """Send raw bytes and read the answer (until the server closes or goes quiet); None on a reset before any."""
    data = b""
    with socket.create_connection((served.host, int(served.port)), timeout=30) as s:
        try:
            s.sendall(request)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data:
                    s.settimeout(1)  # the answer has begun; its end is the close or a quiet second
        except (ConnectionResetError, BrokenPipeError):
            return data or None
        except socket.timeout:
            pass
    return data


def test_client_that_disconnects_mid_response(served):
    for _ in range(20):
        with socket.create_connection((served.host, int(served.port)), timeout=30) as s:
            s.sendall(b"GET /search?q=%E5%9F%8E%E4%B9%A1&limit=100&context=10 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.recv(10)  # read a little of the answer, then hang up
        with socket.create_connection((served.host, int(served.port)), timeout=30) as s:
            s.sendall(b"GET /search?q=%E5%9F%8E%E4%B9%A1&format=csv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.recv(10)  # ... of an export too
        with socket.create_connection((served.host, int(served.port)), timeout=30) as s:
            s.sendall(b"GET /search?q=%E5%9F%8E")  # hang up inside the request line
    status, body = served.get("/search", {"q": "户籍"})
    assert status == 200 and body["hits"][0]["id"] == P6
    status, headers, data = served.request("GET", "/search?q=%E5%9F%8E%E4%B9%A1&format=csv")
    assert status == 200 and len(data.decode("utf-8-sig").splitlines()) == 1 + int(headers["x-total-count"])
    assert served.alive()


# --- safe by default -----------------------------------------------------------------------------------
def test_defaults_are_loopback_read_only_and_no_cors(served):
    assert served.host == "127.0.0.1"
    status, body = served.get("/healthz", headers={"Host": "attacker.example"})  # DNS rebinding
    assert status == 400 and body["error"]["code"] == "bad_host"
    assert served.get("/healthz", headers={"Host": f"localhost:{served.port}"})[0] == 200
    status, headers, data = served.request("POST", "/index", body=b"{}")
    assert status == 403 and json.loads(data)["error"]["code"] == "read_only"
    status, headers, _ = served.request("GET", "/search?q=a", headers={"Origin": "http://example.org"})
    assert "access-control-allow-origin" not in headers
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, data = served.request("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in headers["content-security-policy"]


def test_cors_only_for_the_origin_given(seed_index, tmp_path):
    s = Served(seed_index, "--cors", "http://tools.example", log=tmp_path / "serve.log")
    try:
        _, headers, _ = s.request("GET", "/search?q=a", headers={"Origin": "http://tools.example"})
        assert headers["access-control-allow-origin"] == "http://tools.example"
        _, headers, _ = s.request("GET", "/search?q=a", headers={"Origin": "http://other.example"})
        assert "access-control-allow-origin" not in headers
        status, headers, _ = s.request("OPTIONS", "/search", headers={"Origin": "http://tools.example",
                                                                      "Access-Control-Request-Method": "GET"})
        assert status == 200 and headers["access-control-allow-origin"] == "http://tools.example"
    finally:
        s.stop()


def test_post_index_needs_the_flag_and_the_token(tmp_path):
    src = write_tree(tmp_path / "src", {SEED.name: SEED.read_bytes(), "bad.txt": b"\x00\x01\x02" * 100})
    index = tmp_path / "index"
    token = "t0ken-for-the-test-1234"
    s = Served(index, "--allow-index", str(src), log=tmp_path / "serve.log", env={"KB_SERVE_TOKEN": token})
    try:
        assert s.get("/search", {"q": "户籍"})[0] == 503  # no index yet
        for auth in ({}, {"Authorization": "Bearer wrong-token-000000000"}, {"Authorization": token}):
            status, headers, data = s.request("POST", "/index", body=b"{}", headers=auth)
            assert status == 401 and "bearer" in headers["www-authenticate"].lower()
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        assert s.request("POST", "/index", body=b"not json", headers=auth)[0] == 400
        assert s.request("POST", "/index", body=b'{"rebuild": "yes"}', headers=auth)[0] == 400
        status, _h, data = s.request("POST", "/index", body=b'{"rebuild": false}', headers=auth)
        summary = json.loads(data)
        assert status == 200 and summary["total_passages"] == 10
        assert [x["path"] for x in summary["skipped"]] == ["bad.txt"]  # relative, not absolute
        assert s.get("/search", {"q": "户籍"})[1]["hits"][0]["id"] == P6
        doc, check, _ = openapi_checker(s)
        assert "/index" in doc["paths"]
        check("IndexSummary", summary)
    finally:
        s.stop()


def test_allow_index_without_a_token_refuses_to_start(seed_index, tmp_path):
    r = run_kb(seed_index, "serve", "--port", "0", "--allow-index", str(tmp_path))
    assert r.returncode == 2 and "token" in r.stderr and "Traceback" not in r.stderr


def test_port_in_use_is_one_sentence(seed_index):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = run_kb(seed_index, "serve", "--port", str(port))
    assert r.returncode == 2 and "choose another port" in r.stderr and "Traceback" not in r.stderr


def test_missing_dependency_names_the_extra():
    from kb.server import MissingDependencyError, require

    with pytest.raises(MissingDependencyError, match=r"pip install 'kb\[serve\]'"):
        require("serve", "starlette", "no_such_module_for_kb_tests")


def test_importing_kb_loads_no_server_framework():
    code = ("import sys, kb, kb.cli, kb.server; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'starlette', 'uvicorn', 'mcp', 'pydantic', "
            "'anyio', 'selenium'}))")
    r = subprocess.run([sys.executable, "-c", code], env=kb_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# --- the index changes under a running server ----------------------------------------------------------
def test_missing_index_is_503_then_served_without_restart(tmp_path):
    index = tmp_path / "index"
    s = Served(index, log=tmp_path / "serve.log")
    try:
        status, headers, data = s.request("GET", "/search?q=%E6%88%B7%E7%B1%8D")
        assert status == 503 and headers["retry-after"]
        assert json.loads(data)["error"]["code"] == "index_not_found"
        status, body = s.get("/healthz")
        assert status == 503 and body["status"] == "unavailable"
        src = write_tree(tmp_path / "src", {SEED.name: SEED.read_bytes()})
        assert run_kb(index, "index", src).returncode == 0
        assert s.get("/search", {"q": "户籍"})[1]["hits"][0]["id"] == P6
        assert s.get("/healthz")[0] == 200
    finally:
        s.stop()


def test_new_generations_are_served_without_restart(tmp_path):
    src = write_tree(tmp_path / "src", {SEED.name: SEED.read_bytes()})
    index = tmp_path / "index"
    assert run_kb(index, "index", src).returncode == 0
    s = Served(index, log=tmp_path / "serve.log")
    try:
        assert s.get("/search", {"q": "数字乡村试点"})[1]["total"] == 0
        write_tree(src, {"new.md": "# 数字乡村\n\n开展数字乡村试点工作，推进乡村治理数字化。\n"})
        assert run_kb(index, "index", src).returncode == 0  # a new commit of the same generation
        assert s.get("/search", {"q": "数字乡村试点"})[1]["total"] == 1
        assert run_kb(index, "index", "--rebuild", src).returncode == 0  # a new generation directory
        _, body = s.get("/search", {"q": "数字乡村试点"})
        assert body["total"] == 1 and body["hits"][0]["path"] == "new.md"
        assert s.get("/documents")[1]["total"] == 2
    finally:
        s.stop()


def test_searches_keep_answering_while_another_process_rebuilds(tmp_path):
    src = write_tree(tmp_path / "src", {SEED.name: SEED.read_bytes()})
    index = tmp_path / "index"
    assert run_kb(index, "index", src).returncode == 0
    s = Served(index, log=tmp_path / "serve.log")
    statuses: list[int] = []
    stop = threading.Event()

    def client():
        conn = s.connection()
        while not stop.is_set():
            status, _h, _d = s.request("GET", "/search?q=%E6%88%B7%E7%B1%8D&context=1", conn=conn)
            statuses.append(status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for _ in range(2):
            assert run_kb(index, "index", "--rebuild", src).returncode == 0
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert len(statuses) > 0 and set(statuses) == {200}, sorted(set(statuses))
    finally:
        stop.set()
        s.stop()


def test_open_files_and_memory_stay_flat_over_many_requests(tmp_path):
    src = write_tree(tmp_path / "src", {SEED.name: SEED.read_bytes()})
    index = tmp_path / "index"
    assert run_kb(index, "index", src).returncode == 0
    s = Served(index, log=tmp_path / "serve.log")
    paths = ["/search?q=%E6%88%B7%E7%B1%8D&context=1", "/search?q=rural+land+reform", "/search?q=huji",
             "/passages/" + P6.replace("#", "%23") + "?context=2", "/documents/" + SEED_ID, "/documents",
             "/topics", "/stats", "/search?q=%E5%9F%8E%E4%B9%A1&limit=100"]

    def burst(n: int, threads: int = 8) -> list[int]:
        statuses: list[int] = []

        def client(k):
            conn = s.connection()
            for i in range(n // threads):
                statuses.append(s.request("GET", paths[(i + k) % len(paths)], conn=conn)[0])
            conn.close()

        ts = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=120)
        return statuses

    def index_files() -> list[str]:
        out = []
        for fd in Path(f"/proc/{s.pid}/fd").iterdir():
            try:
                target = str(fd.readlink())
            except OSError:  # closed while we looked
                continue
            if str(index) in target:
                out.append(target)
        return out

    try:
        assert set(burst(400)) == {200}  # warm: the pool's readers, caches and worker threads exist
        fds, rss = open_fds(s.pid), rss_kib(s.pid)
        for round_ in range(3):  # each run commits a new segment while clients search
            write_tree(src, {f"round-{round_}.md": f"# 第{round_}轮\n\n城乡融合发展第{round_}轮试点。\n"})
            assert run_kb(index, "index", src).returncode == 0
            assert set(burst(300)) == {200}
            live = (index / "CURRENT").read_text().strip()
            # Readers of replaced commits are closed: every open index file is a live one.
            assert all(live in f and "(deleted)" not in f for f in index_files()), index_files()
        assert s.get("/search", {"q": "试点", "limit": 100})[1]["total"] >= 3
        # A rebuild brings the index back to one segment: the server holds as many files as when warm.
        assert run_kb(index, "index", "--rebuild", src).returncode == 0
        assert set(burst(500)) == {200}
        assert open_fds(s.pid) <= fds + 2, (fds, open_fds(s.pid), index_files())
        assert set(burst(500)) == {200}
        assert open_fds(s.pid) <= fds + 2, (fds, open_fds(s.pid), index_files())
        assert rss_kib(s.pid) - rss < 40_000, (rss, rss_kib(s.pid))  # KiB: flat within allocator noise
    finally:
        s.stop()


def test_kb_serve_stops_cleanly_on_interrupt(seed_index, tmp_path):
    s = Served(seed_index, log=tmp_path / "serve.log")
    assert s.get("/healthz")[0] == 200
    log = s.stop()
    assert s.proc.returncode in (0, -2, 130) and "Traceback" not in log
    assert "read-only" in log and "127.0.0.1" in log
