"""``kb mcp``: end to end with the official MCP SDK's own client, over stdio and streamable HTTP."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed: pip install -e '.[test]'")

import anyio  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

from conftest import SEED, SEED_ID, kb_env, run_kb  # noqa: E402
from serving import Served, provinces_index  # noqa: E402

P6 = f"{SEED_ID}#6"
TOOLS = {"search", "get_passage", "list_documents", "get_document_outline", "list_topics", "list_fields"}


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mcp-seed")
    src = root / "seeds"
    src.mkdir()
    shutil.copy(SEED, src / SEED.name)
    index = root / "index"
    assert run_kb(index, "index", src).returncode == 0
    return index


@pytest.fixture(scope="module")
def provinces(tmp_path_factory) -> Path:
    """The shipped provincial reports (metadata: province, region), indexed."""
    return provinces_index(tmp_path_factory.mktemp("mcp-provinces"))


def stdio_params(index: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "kb.cli", "--index", str(index), "mcp"],
                                 env=kb_env())


def run_session(params, body, timeout: float = 120):
    """Run ``body(session)`` against a real ``kb mcp`` over stdio; returns what it returns."""
    async def main():
        with anyio.fail_after(timeout):
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await body(session)

    return anyio.run(main)


def payload(result) -> dict:
    """A tool result's JSON: the structured content, which must equal the text content."""
    assert not result.is_error, result.content
    text = json.loads(result.content[0].text)
    if result.structured_content is not None:
        assert result.structured_content == text
    return text


def test_stdio_tools_search_and_passage(seed_index):
    async def body(session):
        tools = (await session.list_tools()).tools
        search = await session.call_tool("search", {"query": "household registration"})
        hit_id = payload(search)["hits"][0]["id"]
        passage = await session.call_tool("get_passage", {"id": P6, "context": 1})
        return tools, search, passage, hit_id

    tools, search, passage, _ = run_session(stdio_params(seed_index), body)
    by_name = {t.name: t for t in tools}
    assert set(by_name) == TOOLS
    for t in tools:  # written for an assistant: when to use it, what it returns
        assert len(t.description) > 150, t.name
        assert t.annotations.read_only_hint is True
    desc = by_name["search"].description
    assert "pinyin" in desc and "English" in desc and "citation" in desc.lower()
    assert by_name["search"].input_schema["required"] == ["query"]

    result = payload(search)
    ids = [h["id"] for h in result["hits"]]
    assert P6 in ids and result["total"] == len(ids)
    hit = result["hits"][ids.index(P6)]
    assert hit["title"] == "山东省新型城镇化暨城乡融合发展工作培训举办" and hit["date"] == "2020-12-01"
    assert hit["citation"] == ("《山东省新型城镇化暨城乡融合发展工作培训举办》, 2020-12-01, 新华网, "
                               f"§ 完善促进新型城镇化与城乡融合发展的措施和规划, ¶6 [{P6}]")
    assert hit["path"] == SEED.name  # relative, never absolute
    assert {"query": "household registration", "term": "户籍", "origin": "glossary"} in result["expanded"]

    got = payload(passage)
    assert got["id"] == P6 and "户籍改革" in got["text"] and got["citation"].endswith(f"[{P6}]")
    assert [c["paragraph"] for c in got["context"]] == [5, 7]


def test_stdio_documents_outline_topics(seed_index):
    async def body(session):
        return (await session.call_tool("list_documents", {}),
                await session.call_tool("list_documents", {"since": "2021"}),
                await session.call_tool("get_document_outline", {"doc_id": SEED_ID}),
                await session.call_tool("list_topics", {}))

    docs, none, outline, topics = run_session(stdio_params(seed_index), body)
    docs = payload(docs)
    assert docs["total"] == 1 and docs["documents"][0]["id"] == SEED_ID and docs["documents"][0]["path"] == SEED.name
    assert payload(none)["total"] == 0
    outline = payload(outline)
    assert P6 in [p for e in outline["outline"] for p in e["passages"]]
    slugs = {t["slug"]: t["passages"] for t in payload(topics)["topics"]}
    assert slugs["household-registration"] == 2


def test_bad_arguments_are_tool_errors_and_the_server_keeps_running(seed_index):
    async def body(session):
        out = {
            "limit": await session.call_tool("search", {"query": "户籍", "limit": 500}),
            "missing": await session.call_tool("search", {}),
            "type": await session.call_tool("search", {"query": "户籍", "context": "lots"}),
            "syntax": await session.call_tool("search", {"query": "(("}),
            "date": await session.call_tool("search", {"query": "户籍", "since": "yesterday"}),
            "passage": await session.call_tool("get_passage", {"id": "nope#1"}),
            "document": await session.call_tool("get_document_outline", {"doc_id": "nope"}),
        }
        out["after"] = await session.call_tool("search", {"query": "户籍"})
        return out

    out = run_session(stdio_params(seed_index), body)
    for name in ("limit", "missing", "type", "syntax", "date", "passage", "document"):
        assert out[name].is_error, name
    text = {k: v.content[0].text for k, v in out.items()}
    assert "limit" in text["limit"] and "less than or equal to 50" in text["limit"]
    assert "query" in text["missing"]
    assert "[code: bad_query]" in text["syntax"] and "Traceback" not in text["syntax"]
    assert "since" in text["date"] and "YYYY-MM-DD" in text["date"]
    assert "No passage has id 'nope#1'" in text["passage"] and "passage_not_found" in text["passage"]
    assert "document_not_found" in text["document"]
    assert payload(out["after"])["hits"][0]["id"] == P6  # still serving


def test_missing_index_is_a_tool_error(tmp_path):
    async def body(session):
        return await session.call_tool("search", {"query": "户籍"})

    result = run_session(stdio_params(tmp_path / "no-index"), body)
    assert result.is_error and "index_not_found" in result.content[0].text


def test_streamable_http(seed_index, tmp_path):
    from mcp.client.streamable_http import streamable_http_client

    s = Served(seed_index, "--http", command="mcp", log=tmp_path / "mcp.log")
    try:
        assert s.base.startswith("http://127.0.0.1:") and s.path == "/mcp"

        async def main():
            with anyio.fail_after(120):
                async with streamable_http_client(s.base + s.path) as streams:
                    read, write = streams[0], streams[1]
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        tools = (await session.list_tools()).tools
                        return tools, await session.call_tool("search", {"query": "huji"})

        tools, result = anyio.run(main)
        assert {t.name for t in tools} == TOOLS
        assert payload(result)["hits"][0]["id"] == P6
    finally:
        log = s.stop()
    assert "Traceback" not in log


def test_which_documents_mention_one_citation_each(provinces):
    from kb import KnowledgeBase

    async def body(session):
        tools = {t.name: t for t in (await session.list_tools()).tools}
        calls = {
            "grouped": {"query": "宅基地", "group_by": "doc", "facets": ["province", "topic"]},
            "where": {"query": "宅基地", "where": ["province=云南"], "sort": "date"},
            "newest": {"query": "宅基地", "group_by": "doc", "sort": "date", "where": ["region=西南", "year>=2026"]},
            "none": {"query": "火星基地", "group_by": "doc"},
        }
        out = {k: await session.call_tool("search", v) for k, v in calls.items()}
        out["documents"] = await session.call_tool("list_documents", {"where": ["province=云南"]})
        out["fields"] = await session.call_tool("list_fields", {})
        return tools, out

    tools, out = run_session(stdio_params(provinces), body)
    for name in ("search", "list_documents", "list_fields"):
        assert tools[name].annotations.read_only_hint is True
    search_desc = tools["search"].description
    assert 'group_by="doc"' in search_desc and "which documents mention" in search_desc.lower()
    assert "one citation per document" in search_desc.lower() or "cite each document once" in search_desc.lower()
    props = tools["search"].input_schema["properties"]
    assert {"where", "group_by", "facets", "sort"} <= set(props)
    assert "where" in tools["list_documents"].input_schema["properties"]
    assert "province=云南" in tools["list_fields"].description

    with KnowledgeBase(provinces) as kb:
        expected = kb.search("宅基地", group_by="doc", facets="province,topic")
        yunnan = kb.search("宅基地", where="province=云南", sort="date")
        newest = kb.search("宅基地", group_by="doc", sort="date", where=["region=西南", "year>=2026"])
        fields = kb.fields()
    grouped = payload(out["grouped"])
    assert "hits" not in grouped  # the groups carry the best passages: not twice in the assistant's context
    assert [g["id"] for g in grouped["groups"]] == [g.document.id for g in expected.groups]
    assert grouped["total_documents"] == expected.total_documents == 5
    for g, lib in zip(grouped["groups"], expected.groups):
        assert g["matches"] == lib.matches and g["metadata"]["province"] == lib.document.metadata["province"]
        assert g["best"]["citation"].endswith(f"[{lib.best.id}]") and g["best"]["path"] == f"{g['id']}.txt"
    assert grouped["facets"]["province"] == [{"value": v.value, "passages": v.passages, "documents": v.documents}
                                             for v in expected.facets[0].values]
    assert [h["id"] for h in payload(out["where"])["hits"]] == [h.id for h in yunnan]
    assert all(h["citation"] for h in payload(out["where"])["hits"])
    assert [g["id"] for g in payload(out["newest"])["groups"]] == [g.document.id for g in newest.groups]
    assert payload(out["none"])["groups"] == [] and "hits" not in payload(out["none"])
    documents = payload(out["documents"])
    assert [d["id"] for d in documents["documents"]] == ["yunnan-2025", "yunnan-2026"] and documents["total"] == 2
    listed = payload(out["fields"])["fields"]
    assert [f["name"] for f in listed] == [f.name for f in fields]
    assert listed[0] == {"name": "province", "documents": 6, "values": 5, "examples": list(fields[0].examples),
                         "metadata": True}


def test_bad_workflow_arguments_are_tool_errors(provinces):
    async def body(session):
        return {
            "group": await session.call_tool("search", {"query": "宅基地", "group_by": "page"}),
            "sort": await session.call_tool("search", {"query": "宅基地", "sort": "oldest"}),
            "field": await session.call_tool("search", {"query": "宅基地", "where": ["colour=red"]}),
            "condition": await session.call_tool("list_documents", {"where": ["province"]}),
            "facet": await session.call_tool("search", {"query": "宅基地", "facets": ["colour"]}),
            "after": await session.call_tool("search", {"query": "宅基地", "group_by": "doc"}),
        }

    out = run_session(stdio_params(provinces), body)
    for name in ("group", "sort", "field", "condition", "facet"):
        assert out[name].is_error, name
    text = {k: v.content[0].text for k, v in out.items()}
    assert "group_by" in text["group"] and "sort" in text["sort"]
    assert "No document has the field 'colour'" in text["field"] and "province" in text["field"]  # lists them
    assert "(argument: where) [code: bad_query]" in text["condition"]
    assert "Cannot count by 'colour'" in text["facet"] and "[code: bad_query]" in text["facet"]
    assert len(payload(out["after"])["groups"]) == 5


def test_facets_of_an_identifier_field_are_cut_for_the_assistant(tmp_path):
    from conftest import write_tree
    from kb.server.mcp import MAX_FACET_VALUES

    n = MAX_FACET_VALUES + 7
    lines = [json.dumps({"id": f"notice-{i}", "title": f"通知{i}", "date": "2024-05-01", "code": f"C{i:03d}",
                         "text": f"关于推进宅基地改革试点的第{i}号通知。"}, ensure_ascii=False) for i in range(n)]
    src = write_tree(tmp_path / "src", {"notices.jsonl": "\n".join(lines) + "\n"})
    index = tmp_path / "index"
    assert run_kb(index, "index", src).returncode == 0

    async def body(session):
        return await session.call_tool("search", {"query": "宅基地", "facets": ["code", "year"], "limit": 1})

    result = payload(run_session(stdio_params(index), body))
    assert result["total"] == n and len(result["hits"]) == 1
    assert len(result["facets"]["code"]) == MAX_FACET_VALUES  # one value per document: cut, and said so
    assert result["facet_values_omitted"] == {"code": n - MAX_FACET_VALUES}
    assert result["facets"]["year"] == [{"value": "2024", "passages": n, "documents": n}]
