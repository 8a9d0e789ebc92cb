"""The OpenAPI 3.1 description of ``kb serve``: parameters from ``params`` tables, bodies from ``kb.serialize``'s shapes.

The test suite validates real responses against these schemas, so the
description cannot drift from what the server sends.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from . import params

__all__ = ["openapi"]

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NULLABLE_STR = {"type": ["string", "null"]}


def _obj(props: dict[str, Any], *, optional: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": [k for k in props if k not in optional],
            "additionalProperties": extra}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_HIT = _obj({
    "id": {**_STR, "description": "<doc_id>#<paragraph>[.<part>]: stable across re-indexing of unchanged text."},
    "doc_id": _STR, "title": _STR, "date": _STR, "source": _STR,
    "paragraph": _INT, "section": {**_STR, "description": "The section path, levels joined by ' > '."},
    "text": _STR,
    "snippet": {**_STR, "description": "An excerpt with each highlight wrapped in <mark>…</mark>; the rest is "
                                       "the document's text, not HTML: escape it."},
    "score": {"type": "number"},
    "highlights": {"type": "array", "items": {"type": "array", "items": _INT, "minItems": 2, "maxItems": 2},
                   "description": "[start, end] character offsets into text."},
    "start": _INT, "end": _INT,
    "path": {**_STR, "description": "The document's file, relative to the indexed root."},
    "rel": _STR,
    "topics": {"type": "array", "items": _STR},
    "context": {"type": "array", "items": _ref("Hit"), "description": "Neighbouring passages, when asked for."},
    "metadata": {"type": "object"},
    "page": {"type": ["integer", "null"], "description": "The page the passage starts on (PDFs), else null."},
    "also_in": {"type": "array", "items": _STR,
                "description": "Ids of passages elsewhere with the same text (copies), shown once as this hit."},
}, optional=("context",))

_SCHEMAS: dict[str, Any] = {
    "Hit": _HIT,
    "Expansion": _obj({"query": _STR, "term": _STR,
                       "origin": {"enum": ["glossary", "topic", "dictionary", "pinyin", "synonym",
                                                   "abbreviation"]}}),
    "SearchResult": _obj({
        "query": _STR, "total": {**_INT, "description": "Passages that match in all."},
        "hits": {"type": "array", "items": _ref("Hit")},
        "expanded": {"type": "array", "items": _ref("Expansion")},
        "suggestion": {**_NULLABLE_STR, "description": "A \"did you mean\" query, or null."},
        "corrected": {"type": "boolean", "description": "The query found nothing; these are the suggestion's hits."},
        "relaxed": {"type": "boolean", "description": "Some hits lack a word of the query (no passage, or for a "
                                                  "question too few, has every word); they rank by how much of "
                                                  "it they cover."},
        "offset": _INT, "limit": _INT,
        "explain": {"type": "array", "items": _STR},
    }, optional=("explain",)),
    "OutlineEntry": _obj({"section": _STR, "passages": {"type": "array", "items": _STR}}),
    "Document": _obj({
        "id": _STR, "title": _STR, "date": _STR, "source": _STR,
        "path": {**_STR, "description": "The document's file, relative to the indexed root."},
        "passages": _INT, "metadata": {"type": "object"},
        "outline": {"type": "array", "items": _ref("OutlineEntry")}, "text": _STR,
    }, optional=("outline", "text")),
    "DocumentList": _obj({"documents": {"type": "array", "items": _ref("Document")}, "total": _INT,
                          "offset": _INT, "limit": _INT}),
    "Topics": _obj({"topics": {"type": "array", "items": _obj({"slug": _STR, "en": _STR, "zh": _STR,
                                                               "passages": _INT})}}),
    "Stats": _obj({"documents": _INT, "passages": _INT, "files": _INT,
                   "index_path": {**_STR, "description": "The index directory's name."},
                   "size_bytes": _INT, "format": _INT,
                   "sources": {"type": "array", "items": _STR,
                               "description": "Indexed files, relative to their common folder."},
                   "last_indexed": _STR}),
    "Health": _obj({"status": {"enum": ["ok", "unavailable"]}, "documents": _INT, "passages": _INT,
                    "last_indexed": _STR, "error": _ref("ErrorDetail")},
                   optional=("documents", "passages", "last_indexed", "error")),
    "ErrorDetail": _obj({"code": {**_STR, "description": "Stable: bad_query, passage_not_found, "
                                                          "document_not_found, index_not_found, index_corrupt, ..."},
                         "message": {**_STR, "description": "One sentence that says what to do next."},
                         "param": {**_NULLABLE_STR, "description": "The parameter at fault, if any."}}),
    "Error": _obj({"error": _ref("ErrorDetail")}),
    "IndexSummary": _obj({
        "indexed": _INT, "updated": _INT, "removed": _INT, "unchanged": _INT,
        "skipped": {"type": "array", "items": _obj({"path": _STR, "reason": _STR, "kind": _STR, "line": _INT},
                                                   optional=("line",))},
        "passages": _INT, "files": _INT, "documents": _INT, "total_documents": _INT, "total_passages": _INT,
        "seconds": {"type": "number"}}),
}

_ERRORS = {
    "400": "A bad parameter or query; `error.param` names it.",
    "404": "No passage or document has that id.",
    "503": "The index is missing or being replaced; retry after Retry-After seconds.",
}


def _parameter(p: params.Param, where: str = "query") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": {str: "string", int: "integer", bool: "boolean"}[p.kind]}
    if p.default is not None:
        schema["default"] = p.default
    if p.minimum is not None:
        schema["minimum"] = p.minimum
    if p.maximum is not None:
        schema["maximum"] = p.maximum
    if p.kind is str and p.max_chars:
        schema["maxLength"] = p.max_chars
    return {"name": p.name, "in": where, "required": p.required, "description": p.description, "schema": schema}


def _op(summary: str, body: str, spec: list[params.Param], *, path_param: str | None = None,
        errors: tuple[str, ...] = ("400", "503")) -> dict[str, Any]:
    ps = [_parameter(p) for p in spec]
    if path_param:
        ps.insert(0, {"name": "id", "in": "path", "required": True, "description": path_param,
                      "schema": {"type": "string"}})
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {"schema": _ref(body)}}}}
    for code in errors:
        responses[code] = {"description": _ERRORS[code], "content": {"application/json": {"schema": _ref("Error")}}}
    return {"get": {"summary": summary, "parameters": ps, "responses": responses}}


def openapi(*, allow_index: bool = False) -> dict[str, Any]:
    """The OpenAPI document of the server (``POST /index`` only when the server allows it)."""
    paths: dict[str, Any] = {
        "/search": _op("Passages matching a query, best first, with highlights and the query's expansion.",
                       "SearchResult", params.SEARCH),
        "/passages/{id}": _op("One passage by id, with neighbours on request.", "Hit", params.PASSAGE,
                              path_param="A passage id as search results show it (percent-encode '#' as %23).",
                              errors=("400", "404", "503")),
        "/documents": _op("The indexed documents, by id; with filters, those with a matching passage.",
                          "DocumentList", params.DOCUMENTS),
        "/documents/{id}": _op("One document: metadata and its section outline with passage ids.", "Document",
                               params.DOCUMENT, path_param="A document id.", errors=("400", "404", "503")),
        "/topics": _op("The policy topics and how many passages carry each.", "Topics", []),
        "/stats": _op("Counts and provenance of the index.", "Stats", []),
        "/healthz": _op("Whether the index can be read (503 when not).", "Health", [], errors=("503",)),
    }
    if allow_index:
        paths["/index"] = {"post": {
            "summary": "Update the index from the paths the server was started with (bearer token required).",
            "security": [{"bearer": []}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": _obj(
                {"rebuild": {"type": "boolean", "default": False}}, optional=("rebuild",))}}},
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": _ref("IndexSummary")}}},
                "401": {"description": "Missing or wrong token.",
                        "content": {"application/json": {"schema": _ref("Error")}}},
                "503": {"description": _ERRORS["503"], "content": {"application/json": {"schema": _ref("Error")}}},
            }}}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "kb", "version": __version__,
                 "description": "Search Chinese policy documents by word, phrase, section and topic; answers are "
                                "citable passages. The JSON is the same as `kb ... --json`."},
        "paths": paths,
        "components": {"schemas": _SCHEMAS},
    }
    if allow_index:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc
