"""``kb mcp``: search for AI assistants over the Model Context Protocol (the official MCP Python SDK).

Tools: ``search``, ``get_passage``, ``list_documents``,
``get_document_outline``, ``list_topics``, ``list_fields``. Each calls one
``KnowledgeBase`` method and returns ``kb.serialize`` JSON (paths relative
to the indexed root); search hits also carry a ready ``citation``. A
library error becomes a tool error (``isError``) whose text is the library's
sentence and its code, so the assistant can correct its call; the server
keeps running. Transports: stdio, or streamable HTTP on a loopback port.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from .. import __version__, serialize
from ..api import KnowledgeBase
from ..errors import KBError
from . import citation

__all__ = ["build", "run", "MAX_HITS", "MAX_CONTEXT"]

MAX_HITS = 50  # hits per search: more would flood an assistant's context
MAX_CONTEXT = 5
MAX_DOCUMENTS = 200
MAX_FACET_VALUES = 30  # values per facet field: an identifier-like field (url) would have one per document

INSTRUCTIONS = """\
kb is a searchable knowledge base of Chinese policy documents (government work reports, laws, news, \
State Council notices...), split into paragraph passages with their section paths. Use `search` to find \
passages on a subject (with `group_by="doc"` to ask which documents mention something, one citation per \
document), `get_passage` to read one in full with its neighbours, `get_document_outline` to see how a \
document is organised, `list_documents`, `list_topics` and `list_fields` to see what the index holds and \
which document fields (province, year, kind...) `where` can filter on. Queries may be Chinese, English or \
toneless pinyin; English and pinyin are translated to the Chinese terms the documents use. Cite every \
passage you rely on with its `citation` (title, date, source, section, paragraph and passage id), and \
quote the passage text, not your paraphrase, when wording matters."""

_SEARCH = """\
Search the policy documents and return the best-matching passages, best first.

Use this first for any question about Chinese policy, law or government work: what was decided, when, \
by whom, in which document and section. The query may be:
- Chinese words or phrases: 户籍 改革 (both words), "城乡融合发展" (exact string), 户籍 OR 落户, -产业 (exclude);
- English: "household registration", "rural land reform" (translated to 户籍/户口/落户, 宅基地...);
- toneless pinyin: huji, zhaijidi.
Operators: AND/OR/NOT in capitals, parentheses, section:TEXT, doc:ID-OR-TITLE, topic:SLUG, meta.FIELD:VALUE.
Filters narrow every hit: section, doc (id, title or a metadata value), topic (slug from list_topics), \
since/until (YYYY, YYYY-MM or YYYY-MM-DD), and `where`: conditions on document fields that must all hold, \
e.g. ["province=云南", "year>=2020", "kind~report"] (= equal, ~ contains, >= <= > < for numbers and dates; \
list_fields gives the fields and their frequent values).

To answer "which documents mention X?" or to cite each document once, set group_by="doc": the answer \
has `groups` instead of `hits`, one per matching document, best first (each with the document's `id`, \
`title`, `date`, `source`, `metadata`, `matches` = how many of its passages match, `sections` = where, \
and `best` = its best passage with `citation`), and `total_documents`; `limit` then counts documents. \
sort="date" orders hits (or documents) newest first. `facets` (e.g. ["topic", "year", "province"]) \
counts every match, not only the returned hits, per value of each field: `facets` maps each field to \
its values with their numbers of passages and documents, most frequent first (at most 30 values each).

Returns JSON: `total` (all matching passages), `hits` (each with `id`, `title`, `date`, `source`, \
`section`, `paragraph`, `page`, `text`, `snippet` with <mark> highlights, and `citation`), `expanded` \
(the Chinese terms the query was widened to, and why), `suggestion` (a "did you mean" query), \
`corrected` (true when the query found nothing and these are the suggestion's hits) and `relaxed` \
(true when some hits lack a word of the query and are ranked by how much of it they cover). Cite hits with their `citation`; the passage `id` \
(<doc_id>#<paragraph>) is stable, so get_passage can fetch it again."""

_GET_PASSAGE = """\
Read one passage in full by its id (as `search` returns it, e.g. xinhua-2020-12-01-shandong-urbanization#6), \
with `context` neighbouring passages on each side, to check what the text around a hit says before \
quoting or citing it. Returns the passage's JSON (title, date, source, section, paragraph, page, text) \
with `citation`; neighbours are in `context`."""

_LIST_DOCUMENTS = """\
List the indexed documents (id, title, date, source, path, metadata, number of passages), sorted by \
id. With filters (section, doc, topic, since, until, where, as for search), only documents with a \
matching passage: where=["province=云南"] lists the documents whose province is 云南. Use it to see \
what the knowledge base covers, or to find a document's id for get_document_outline or the doc filter \
of search. (To find the documents that mention a word, use search with group_by="doc".) Returns \
`documents`, `total`, `offset`, `limit`; page with offset."""

_OUTLINE = """\
Show one document's metadata and its outline: its sections in order, each with the ids of its \
passages. Use it to see how a law or report is organised, then read chosen passages with \
get_passage or restrict search with its doc filter. Set `text` to get the whole text (long)."""

_TOPICS = """\
List the policy topics of the taxonomy (slug, English and Chinese name) with how many passages carry \
each. Use a slug as the `topic` filter of search or list_documents."""

_FIELDS = """\
List the document fields that search's and list_documents' `where` filter on and search's `facets` \
count: first the metadata fields of the indexed documents (such as province, kind, category), then \
kb's own (id, title, date, source, path, year). Each with `documents` (how many documents have it), \
`values` (how many distinct values it takes: few for a category, one per document for an identifier) \
and `examples` (its most frequent values, as they are written in the documents, e.g. 云南), so you can \
write a condition such as "province=云南" or "year>=2020"."""

_READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)

_Text = Annotated[str | None, Field(description="Filter text; omit for none.", max_length=500)]
_Since = Annotated[str | None, Field(description="Earliest document date: YYYY, YYYY-MM or YYYY-MM-DD.",
                                     max_length=20)]
_Until = Annotated[str | None, Field(description="Latest document date: YYYY, YYYY-MM or YYYY-MM-DD.",
                                     max_length=20)]
_Where = Annotated[list[Annotated[str, Field(max_length=500)]] | None, Field(
    description="Conditions on document fields, all of which must hold: FIELD=VALUE, FIELD~TEXT (contains), "
                "FIELD>=VALUE, FIELD<=VALUE, FIELD>VALUE, FIELD<VALUE (numbers, dates); list_fields gives the "
                "fields.", max_length=20)]


def _call(fn: Callable[[], Any]) -> Any:
    """Run a library call; its ``KBError`` becomes a tool error with the library's sentence and code."""
    try:
        return fn()
    except KBError as e:
        where = f" (argument: {e.param})" if e.param else ""
        raise ToolError(f"{e}{where} [code: {e.code}]") from None


def _hit(h) -> dict[str, Any]:
    d = serialize.hit(h, relative_paths=True)
    d["citation"] = citation(h)
    for c, dc in zip(h.context, d.get("context", ())):
        dc["citation"] = citation(c)
    return d


def _search_body(result, query: str, grouped: bool) -> dict[str, Any]:
    """The search JSON with citations; grouped, ``groups`` replaces ``hits`` (their best passages, repeated)."""
    body = serialize.search_result(result, query=query, relative_paths=True)
    if grouped:
        del body["hits"]
        body["groups"] = body.get("groups", [])
        for g, dg in zip(result.groups, body["groups"]):
            dg["best"] = _hit(g.best)
    else:
        body["hits"] = [_hit(h) for h in result]
    omitted = {}
    for name, values in body.get("facets", {}).items():
        if len(values) > MAX_FACET_VALUES:
            omitted[name] = len(values) - MAX_FACET_VALUES
            del values[MAX_FACET_VALUES:]
    if omitted:
        body["facet_values_omitted"] = omitted
    return body


def build(kb: KnowledgeBase) -> MCPServer:
    """The MCP server over ``kb``, with its six read-only tools."""
    server = MCPServer("kb", title="kb: Chinese policy documents", instructions=INSTRUCTIONS, version=__version__,
                       log_level="WARNING")

    def search(
        query: Annotated[str, Field(description="The query: Chinese, English or toneless pinyin; operators allowed.",
                                    min_length=1, max_length=2000)],
        limit: Annotated[int, Field(description="Most hits to return.", ge=1, le=MAX_HITS)] = 10,
        section: Annotated[str | None, Field(description="Only passages whose section path contains this text.",
                                             max_length=500)] = None,
        doc: Annotated[str | None, Field(description="Only documents whose id (or part of it), title or a "
                                                     "metadata value contains this text.", max_length=500)] = None,
        topic: Annotated[str | None, Field(description="Only passages with this topic slug (see list_topics).",
                                           max_length=100)] = None,
        since: _Since = None,
        until: _Until = None,
        where: _Where = None,
        context: Annotated[int, Field(description="Neighbouring passages to include on each side of each hit.",
                                      ge=0, le=MAX_CONTEXT)] = 0,
        group_by: Annotated[Literal["doc"] | None, Field(
            description="\"doc\": one entry per matching document (`groups`), for \"which documents mention "
                        "X\" and one citation per document; `limit` then counts documents.")] = None,
        sort: Annotated[Literal["relevance", "date"], Field(
            description="\"relevance\" (best first) or \"date\" (newest document first).")] = "relevance",
        facets: Annotated[list[Annotated[str, Field(max_length=100)]] | None, Field(
            description="Fields to count over every match: topic, year, source, or a metadata field "
                        "(list_fields).", max_length=10)] = None,
    ) -> dict[str, Any]:
        result = _call(lambda: kb.search(query, limit=limit, section=section, doc=doc, topic=topic, since=since,
                                         until=until, where=where or (), context=context, correct=True,
                                         group_by=group_by, sort=sort, facets=facets))
        return _search_body(result, query, grouped=group_by is not None)

    def get_passage(
        id: Annotated[str, Field(description="The passage id, <doc_id>#<paragraph>, as search returns it.",
                                 min_length=1, max_length=1000)],
        context: Annotated[int, Field(description="Neighbouring passages to include on each side.",
                                      ge=0, le=MAX_CONTEXT)] = 1,
    ) -> dict[str, Any]:
        return _hit(_call(lambda: kb.get(id, context=context)))

    def list_documents(
        section: _Text = None,
        doc: _Text = None,
        topic: _Text = None,
        since: _Since = None,
        until: _Until = None,
        where: _Where = None,
        limit: Annotated[int, Field(description="Most documents to return.", ge=1, le=MAX_DOCUMENTS)] = 50,
        offset: Annotated[int, Field(description="Documents to skip.", ge=0)] = 0,
    ) -> dict[str, Any]:
        docs = _call(lambda: kb.documents(section=section, doc=doc, topic=topic, since=since, until=until,
                                          where=where or ()))
        body = serialize.documents(docs[offset: offset + limit])
        body.update(total=len(docs), offset=offset, limit=limit)
        return body

    def get_document_outline(
        doc_id: Annotated[str, Field(description="The document id (a passage id without its #paragraph).",
                                     min_length=1, max_length=1000)],
        text: Annotated[bool, Field(description="Also return the whole text.")] = False,
    ) -> dict[str, Any]:
        return serialize.document(_call(lambda: kb.document(doc_id, text=text)))

    def list_topics() -> dict[str, Any]:
        return serialize.topics(_call(kb.topics))

    def list_fields() -> dict[str, Any]:
        return serialize.fields(_call(kb.fields))

    for fn, description in ((search, _SEARCH), (get_passage, _GET_PASSAGE), (list_documents, _LIST_DOCUMENTS),
                            (get_document_outline, _OUTLINE), (list_topics, _TOPICS), (list_fields, _FIELDS)):
        server.add_tool(fn, name=fn.__name__, description=description, annotations=_READ_ONLY)
    return server


def run(kb: KnowledgeBase, *, http: bool = False, host: str = "127.0.0.1", port: int = 8001,
        on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the tools over stdio (the default) or streamable HTTP at ``/mcp`` until stopped.

    Raises ``ServerError`` when the HTTP port cannot be had.
    """
    server = build(kb)
    try:
        if not http:
            server.run("stdio")
            return
        import uvicorn

        from .http import bind, url_of

        app = server.streamable_http_app(host=host)
        sock = bind(host, port)
        if on_ready is not None:
            on_ready(url_of(sock) + "mcp")
        config = uvicorn.Config(app, log_level="warning", server_header=False, lifespan="on")
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            sock.close()
    finally:
        kb.close()
