"""The OpenAPI 3.1 description of ``kb serve``: parameters from the ``params`` tables, bodies from ``kb.models``.

The body schemas are derived from the result dataclasses (their fields and
types), with the few places where ``kb.serialize`` writes a field otherwise
declared in ``_SPECS``: a field the serializer leaves out when empty is
optional, a group carries its document's fields flat, facets are an object
of value lists. A field added to ``Hit`` or ``SearchResult`` is therefore
described, with its type, as soon as it exists; a type this module cannot
describe is an error when the description is made, never a silent gap.
The test suite validates real responses against these schemas (objects are
closed: a property the description lacks fails), so the description cannot
drift from what the server sends.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .. import __version__
from ..models import (DocumentGroup, DocumentInfo, FacetValue, FieldInfo, Hit, IndexSummary, SearchResult, Stats,
                      TopicCount)
from . import params

__all__ = ["openapi", "schemas", "Spec"]

_STR = {"type": "string"}
_INT = {"type": "integer"}


def _obj(props: dict[str, Any], *, optional: Iterable[str] = (), extra: bool = False) -> dict[str, Any]:
    optional = set(optional)
    return {"type": "object", "properties": props, "required": [k for k in props if k not in optional],
            "additionalProperties": extra}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


@dataclass(frozen=True)
class Spec:
    """How ``kb.serialize`` writes one dataclass, where that differs from "every field, as its type says".

    ``name``: the schema's name (default: the class name). ``optional``:
    fields the serializer leaves out when empty. ``flatten``: fields holding
    a dataclass whose properties are written in place of the field.
    ``overrides``: field → a function of the builder giving its schema.
    ``extra``/``extra_optional``: properties the server adds.
    ``describe``: field → description.
    """

    name: str = ""
    optional: tuple[str, ...] = ()
    flatten: tuple[str, ...] = ()
    overrides: dict[str, Callable[["_Builder"], dict[str, Any]]] = field(default_factory=dict)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_optional: tuple[str, ...] = ()
    describe: dict[str, str] = field(default_factory=dict)


_SPECS: dict[str, Spec] = {
    "Hit": Spec(optional=("context",), describe={
        "id": "<doc_id>#<paragraph>[.<part>]: stable across re-indexing of unchanged text.",
        "section": "The section path, levels joined by ' > '.",
        "snippet": "An excerpt with each highlight wrapped in <mark>…</mark>; the rest is the document's text, "
                   "not HTML: escape it.",
        "highlights": "[start, end] character offsets into text.",
        "path": "The document's file, relative to the indexed root.",
        "context": "Neighbouring passages, when asked for.",
        "page": "The page the passage starts on (PDFs), else null.",
        "also_in": "Ids of passages elsewhere with the same text (copies), shown once as this hit.",
    }),
    "Expansion": Spec(describe={"origin": "Where the term came from: glossary, topic, dictionary, pinyin, synonym, "
                                          "abbreviation ..."}),
    "SearchResult": Spec(
        optional=("total_documents", "groups", "facets", "lexicon_outdated"),
        overrides={
            "suggestion": lambda b: {"type": ["string", "null"], "description": "A \"did you mean\" query, or null."},
            "groups": lambda b: {**_array(b.ref(DocumentGroup)),
                                 "description": "With group_by=doc: one entry per matching document, in order."},
            "facets": lambda b: {"type": "object", "additionalProperties": _array(b.ref(FacetValue)),
                                 "description": "With facets: field → its values over every match, most frequent "
                                                "first."},
        },
        extra={"offset": _INT, "limit": _INT, "explain": _array(_STR)},
        extra_optional=("explain",),
        describe={
            "total": "Passages that match in all.",
            "corrected": "The query found nothing; these are the suggestion's hits.",
            "relaxed": "Some hits lack a word of the query (no passage, or for a question too few, has every word); "
                       "they rank by how much of it they cover.",
            "total_documents": "Matching documents, when computed (group_by or facets).",
            "lexicon_outdated": "Present (true) when the users' segmentation words changed since the index was "
                                "built.",
        }),
    "DocumentInfo": Spec(name="Document", optional=("outline", "text"), describe={
        "path": "The document's file, relative to the indexed root.",
        "outline": "The sections in order, each with its passage ids (GET /documents/{id}).",
        "text": "The whole text, with text=true.",
    }),
    "DocumentGroup": Spec(flatten=("document",), describe={
        "matches": "How many of the document's passages match.",
        "sections": "The sections holding them, in document order, with their passage ids.",
        "best": "The document's best passage.",
    }),
    "Stats": Spec(describe={"index_path": "The index directory's name.",
                            "sources": "Indexed files, relative to their common folder."}),
    "FieldInfo": Spec(name="Field", describe={
        "documents": "Documents that have a value for the field.",
        "values": "Distinct values (as text) it takes.",
        "examples": "Its most frequent values, at most five.",
        "metadata": "False for kb's own fields: id, title, date, source, path, year.",
    }),
    "Skipped": Spec(optional=("line",)),
    "FileChange": Spec(optional=("reason",)),
}


class _Builder:
    """Schemas of dataclasses, each made once and referred to by name."""

    def __init__(self, specs: dict[str, Spec]):
        self.specs = specs
        self.schemas: dict[str, Any] = {}
        self._classes: dict[str, type] = {}

    def name(self, cls: type) -> str:
        return self.specs.get(cls.__name__, Spec()).name or cls.__name__

    def ref(self, cls: type) -> dict[str, str]:
        """A reference to the schema of dataclass ``cls``, made if it is not yet."""
        name = self.name(cls)
        if name not in self.schemas:
            self.schemas[name] = {}  # a placeholder, so a self-reference (Hit.context) ends
            self._classes[name] = cls
            self.schemas[name] = self.derive(cls)
        return _ref(name)

    def properties(self, cls: type) -> tuple[dict[str, Any], set[str]]:
        spec = self.specs.get(cls.__name__, Spec())
        hints = typing.get_type_hints(cls)
        props: dict[str, Any] = {}
        optional = set(spec.optional)
        for f in dataclasses.fields(cls):
            if f.name in spec.flatten:
                inner, inner_optional = self.properties(hints[f.name])
                props.update(inner)
                optional |= inner_optional
                continue
            if f.name in spec.overrides:
                schema = spec.overrides[f.name](self)
            else:
                try:
                    schema = self.type_schema(hints[f.name])
                except TypeError as e:
                    raise TypeError(f"{cls.__name__}.{f.name}: {e}") from None
            if f.name in spec.describe:
                schema = {**schema, "description": spec.describe[f.name]}
            props[f.name] = schema
        props.update(spec.extra)
        optional |= set(spec.extra_optional)
        return props, optional

    def derive(self, cls: type) -> dict[str, Any]:
        props, optional = self.properties(cls)
        return _obj(props, optional=optional)

    def type_schema(self, tp: Any) -> dict[str, Any]:
        """The JSON Schema of a field type as ``dataclasses.asdict`` and ``json`` write it."""
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if tp is Any:
            return {}
        if tp in _SCALARS:
            return dict(_SCALARS[tp])
        if origin in (typing.Union, types.UnionType):
            present = [a for a in args if a is not type(None)]
            options = [self.type_schema(a) for a in present]
            if len(present) < len(args):  # Optional: null as well
                if len(options) == 1 and isinstance(options[0].get("type"), str):
                    return {**options[0], "type": [options[0]["type"], "null"]}
                options.append({"type": "null"})
            return options[0] if len(options) == 1 else {"anyOf": options}
        if origin in (tuple, list, set, frozenset) or tp in (tuple, list):
            if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
                items = [self.type_schema(a) for a in args]
                if all(i == items[0] for i in items):
                    return {"type": "array", "items": items[0], "minItems": len(items), "maxItems": len(items)}
                return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
            return _array(self.type_schema(args[0]) if args else {})
        if origin is dict or tp is dict:
            value = self.type_schema(args[1]) if len(args) == 2 else {}
            return {"type": "object", **({"additionalProperties": value} if value else {})}
        if dataclasses.is_dataclass(tp):
            return self.ref(tp)
        raise TypeError(f"the OpenAPI description cannot describe the type {tp!r}; add it to kb/server/openapi.py")


_SCALARS = {str: _STR, bool: {"type": "boolean"}, int: _INT, float: {"type": "number"}}

# The roots of the description: every other schema is reached from them.
ROOTS = (SearchResult, Hit, DocumentInfo, TopicCount, FieldInfo, Stats, IndexSummary)


def schemas(roots: Iterable[type] = ROOTS) -> dict[str, Any]:
    """The component schemas of the dataclasses ``roots`` (and those they hold), by schema name."""
    b = _Builder(_SPECS)
    for cls in roots:
        b.ref(cls)
    return b.schemas


def _components() -> dict[str, Any]:
    s = schemas()
    s.update({
        "DocumentList": _obj({"documents": _array(_ref("Document")), "total": _INT, "offset": _INT, "limit": _INT}),
        "Topics": _obj({"topics": _array(_ref("TopicCount"))}),
        "Fields": _obj({"fields": _array(_ref("Field"))}),
        "Health": _obj({"status": {"enum": ["ok", "unavailable"]}, "documents": _INT, "passages": _INT,
                        "last_indexed": _STR, "error": _ref("ErrorDetail")},
                       optional=("documents", "passages", "last_indexed", "error")),
        "ErrorDetail": _obj({"code": {**_STR, "description": "Stable: bad_query, passage_not_found, "
                                                              "document_not_found, index_not_found, index_corrupt, "
                                                              "..."},
                             "message": {**_STR, "description": "One sentence that says what to do next."},
                             "param": {"type": ["string", "null"], "description": "The parameter at fault, if any."}}),
        "Error": _obj({"error": _ref("ErrorDetail")}),
    })
    return s


_ERRORS = {
    "400": "A bad parameter or query; `error.param` names it.",
    "404": "No passage or document has that id.",
    "503": "The index is missing or being replaced (or, for an export, another one has been streaming for 30 s); "
           "retry after Retry-After seconds.",
}

_EXPORT_TYPES = {"text/csv": "CSV (format=csv): UTF-8 with a byte-order mark, \\r\\n line ends; the citation "
                             "columns, then one column per metadata field.",
                 "text/markdown": "Markdown (format=md): a numbered citation list.",
                 "application/jsonl": "JSON Lines (format=jsonl): one Hit (or DocumentGroup) per line."}


def _parameter(p: params.Param, where: str = "query") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": {str: "string", int: "integer", bool: "boolean"}[p.kind]}
    if p.choices:
        schema["enum"] = list(p.choices)
    if p.default is not None:
        schema["default"] = p.default
    if p.minimum is not None:
        schema["minimum"] = p.minimum
    if p.maximum is not None:
        schema["maximum"] = p.maximum
    if p.kind is str and p.max_chars:
        schema["maxLength"] = p.max_chars
    out = {"name": p.name, "in": where, "required": p.required, "description": p.description, "schema": schema}
    if p.multiple:
        out.update(schema=_array(schema), style="form", explode=True)
    return out


def _op(summary: str, body: str, spec: list[params.Param], *, path_param: str | None = None,
        errors: tuple[str, ...] = ("400", "503"), exports: bool = False) -> dict[str, Any]:
    ps = [_parameter(p) for p in spec]
    if path_param:
        ps.insert(0, {"name": "id", "in": "path", "required": True, "description": path_param,
                      "schema": {"type": "string"}})
    content: dict[str, Any] = {"application/json": {"schema": _ref(body)}}
    ok: dict[str, Any] = {"description": "OK", "content": content}
    if exports:
        for media, description in _EXPORT_TYPES.items():
            content[media] = {"schema": {"type": "string", "description": description}}
        ok["headers"] = {
            "X-Total-Count": {"description": "With format: the matching passages (documents, with group_by=doc).",
                              "schema": _INT},
            "X-Export-Count": {"description": "With format: the rows in this export.", "schema": _INT},
        }
    responses: dict[str, Any] = {"200": ok}
    for code in errors:
        responses[code] = {"description": _ERRORS[code], "content": {"application/json": {"schema": _ref("Error")}}}
    return {"get": {"summary": summary, "parameters": ps, "responses": responses}}


def openapi(*, allow_index: bool = False) -> dict[str, Any]:
    """The OpenAPI document of the server (``POST /index`` only when the server allows it)."""
    paths: dict[str, Any] = {
        "/search": _op("Passages matching a query, best first, with highlights and the query's expansion; or one "
                       "entry per document (group_by), counts per field value (facets), or every match as "
                       "CSV, Markdown or JSON Lines (format).", "SearchResult", params.SEARCH, exports=True),
        "/passages/{id}": _op("One passage by id, with neighbours on request.", "Hit", params.PASSAGE,
                              path_param="A passage id as search results show it (percent-encode '#' as %23).",
                              errors=("400", "404", "503")),
        "/documents": _op("The indexed documents, by id; with filters, those with a matching passage.",
                          "DocumentList", params.DOCUMENTS),
        "/documents/{id}": _op("One document: metadata and its section outline with passage ids.", "Document",
                               params.DOCUMENT, path_param="A document id.", errors=("400", "404", "503")),
        "/topics": _op("The policy topics and how many passages carry each.", "Topics", []),
        "/fields": _op("The fields `where` filters and `facets` counts: every metadata field, then kb's own, "
                       "with how many documents have each and how many distinct values it takes.", "Fields", []),
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
        "components": {"schemas": _components()},
    }
    if allow_index:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc
