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
from serving import Served  # noqa: E402

P6 = f"{SEED_ID}#6"
TOOLS = {"search", "get_passage", "list_documents", "get_document_outline", "list_topics"}


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mcp-seed")
    src = root / "seeds"
    src.mkdir()
    shutil.copy(SEED, src / SEED.name)
    index = root / "index"
    assert run_kb(index, "index", src).returncode == 0
    return index


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
