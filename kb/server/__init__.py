"""Front ends that let other programs reach kb: ``kb serve`` (``http.py``) and ``kb mcp`` (``mcp.py``).

Both call ``kb.KnowledgeBase`` and write JSON with ``kb.serialize``; this
module holds what they share: the install hint for their optional
dependencies, the HTTP status of each library error, citations, and the
rules that keep a server from showing the machine's file-system paths.
Importing it imports no web framework.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import PurePath
from typing import Any, Iterable

from ..errors import KBError
from ..models import Hit

__all__ = ["run_http", "run_mcp", "ServerError", "MissingDependencyError", "require", "http_status", "citation", "public_stats",
           "relative_to_roots"]


class ServerError(KBError):
    """A server cannot start as asked (the port is taken, an option is missing...)."""

    code = "server_error"


class MissingDependencyError(ServerError):
    """An optional dependency of a front end is not installed."""

    code = "missing_dependency"


def require(extra: str, *modules: str) -> None:
    """Raise ``MissingDependencyError`` with the install command unless every module can be imported."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            f"This command needs {', '.join(missing)}, which is not installed; install it with "
            f"pip install 'kb[{extra}]'.")


def run_http(kb, **options) -> None:
    """Serve ``kb`` over HTTP until interrupted (``kb serve``); see ``kb.server.http.serve`` for the options."""
    require("serve", "starlette", "uvicorn")
    from .http import serve

    serve(kb, **options)


def run_mcp(kb, **options) -> None:
    """Serve ``kb`` over MCP until the client leaves or interrupted (``kb mcp``); see ``kb.server.mcp.run``."""
    require("mcp", "mcp")
    from .mcp import run

    run(kb, **options)


# The HTTP status of each ``KBError.code``; the MCP server reports the same codes in its tool errors.
_STATUS = {
    "bad_query": 400,
    "passage_not_found": 404,
    "document_not_found": 404,
    "index_not_found": 503,  # the server runs; the index is not there (yet)
    "index_corrupt": 503,  # being replaced, or damaged: a rebuild repairs it
    "index_version": 503,
    "index_busy": 503,
    "source_not_found": 500,  # the paths the operator gave `--allow-index` are gone
}


def http_status(e: KBError) -> int:
    """The HTTP status that answers a request the library refused with ``e``."""
    return _STATUS.get(e.code, 500)


def citation(h: Hit) -> str:
    """A one-line citation of a hit: title, date, source, section, paragraph, page and passage id."""
    parts = [f"《{h.title}》" if h.title else h.doc_id]
    parts += [x for x in (h.date, h.source) if x]
    if h.section:
        parts.append("§ " + h.section)
    parts.append(f"¶{h.paragraph}")
    if h.page:
        parts.append(f"p. {h.page}")
    return ", ".join(parts) + f" [{h.id}]"


def relative_to_roots(path: str, roots: Iterable[str]) -> str:
    """``path`` relative to the first of ``roots`` that holds it, else its file name alone."""
    p = PurePath(path)
    for root in roots:
        r = PurePath(root)
        if p == r:
            return p.name
        try:
            return str(p.relative_to(r))
        except ValueError:
            continue
    return p.name


def public_stats(d: dict[str, Any]) -> dict[str, Any]:
    """``serialize.stats`` output with no absolute path: sources relative to their common folder, the index by name."""
    out = dict(d)
    sources = list(d.get("sources") or ())
    if sources:
        try:
            root = os.path.commonpath([os.path.dirname(s) for s in sources])
        except ValueError:  # relative and absolute paths mixed
            root = ""
        out["sources"] = [relative_to_roots(s, [root] if root else []) for s in sources]
    out["index_path"] = PurePath(str(d.get("index_path", ""))).name
    return out
