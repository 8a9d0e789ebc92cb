"""``kb serve``: the HTTP JSON API and the search page, on Starlette and uvicorn.

Every endpoint calls one ``KnowledgeBase`` method in a worker thread and
answers with ``kb.serialize`` JSON, the same as the CLI's ``--json``, except
that no absolute file-system path is shown. Errors are JSON too:
``{"error": {"code", "message", "param"}}`` with the status of
``kb.server.http_status``; never a traceback or an HTML page.

Safe by default: the server binds to 127.0.0.1 and then answers only
requests addressed to a loopback name (so a web page elsewhere cannot reach
it through DNS rebinding); nothing writes unless ``allow_index`` names the
paths ``POST /index`` may index, and then only with the bearer token; CORS
is off unless origins are given; the URL, the query, ``limit``, ``context``,
paging depth and request bodies are bounded; ids are looked up in the index,
never used as paths.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import itertools
import json
import re
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote, unquote_to_bytes

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import export, serialize
from ..api import KnowledgeBase
from ..errors import KBError, QueryError
from ..models import DocumentGroup, Hit
from . import ServerError, http_status, params, public_stats, relative_to_roots
from .openapi import openapi

__all__ = ["create_app", "serve", "MAX_URL_BYTES", "MAX_BODY_BYTES"]

STATIC = Path(__file__).resolve().parent / "static"
MAX_URL_BYTES = 8 * 1024  # path + query string; longer requests get 414
MAX_HEAD_BYTES = 64 * 1024  # request line + headers uvicorn buffers; past it uvicorn itself answers 400
MAX_BODY_BYTES = 16 * 1024  # only POST /index reads a body: a small JSON object
MAX_CONNECTIONS = 256  # past this uvicorn answers 503
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Searches run at once; the others wait their turn in the event loop. Searching is CPU-bound Python,
# so more threads add no throughput under the GIL, while each concurrent search holds its own engine
# reader (about 180 MB on the 166,587-passage corpus): 8 at once took the server from 0.36 to 1.6 GB.
CONCURRENT_READS = 2
# Exports streaming at once. Each holds an engine reader for its whole length, besides the searches'
# own: on the whole corpus two concurrent exports took the server from 0.46 to 0.78 GB, so one at a time.
CONCURRENT_EXPORTS = 1
EXPORT_WAIT = 30.0  # seconds an export waits for its turn, then 503 (the one streaming may have a slow reader)
EXPORT_CHUNK_CHARS = 64 * 1024  # text made per turn of an export: searches get a turn between chunks
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "md": "text/markdown; charset=utf-8", "jsonl": "application/jsonl"}

# The page is static files; it loads nothing from elsewhere and runs no inline script.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "Cache-Control": "no-cache",
}
_COMMON_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


class JSONResponse(Response):
    """JSON as ``kb.serialize`` writes it: UTF-8, not escaped."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return serialize.dumps(content).encode("utf-8")


class ApiError(Exception):
    """A refusal of the HTTP layer itself (not of the library): a status, a stable code and a sentence."""

    def __init__(self, status: int, code: str, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.param, self.headers = status, code, param, headers or {}


def _error_body(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "param": param}}


class _Guard:
    """Checks every request before routing: its Host, URL length, URL encoding and body size."""

    def __init__(self, app, *, hosts: frozenset[str] | None):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._check(scope)
        if refusal is not None:
            status, code, message = refusal
            await JSONResponse(_error_body(code, message), status_code=status)(scope, receive, _with_headers(send))
            return
        await self.app(scope, receive, _with_headers(send))

    def _check(self, scope) -> tuple[int, str, str] | None:
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        if len(raw_path) + len(scope.get("query_string", b"")) > MAX_URL_BYTES:
            return 414, "uri_too_long", f"The URL is longer than {MAX_URL_BYTES} bytes; shorten the query."
        headers = {}
        for k, v in scope.get("headers", ()):
            headers.setdefault(k, v)
        if self.hosts is not None and _host_name(headers.get(b"host", b"")) not in self.hosts:
            return 400, "bad_host", ("This server answers only requests addressed to it by a loopback name "
                                     "(localhost or 127.0.0.1).")
        try:
            unquote_to_bytes(raw_path).decode("utf-8")
        except UnicodeDecodeError:
            return 400, "bad_url", "The URL path is not valid UTF-8; percent-encode UTF-8 text."
        length = headers.get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                return 400, "bad_request", "The Content-Length header is not a number."
            if int(length) > MAX_BODY_BYTES:
                return 413, "body_too_large", f"The request body is larger than {MAX_BODY_BYTES} bytes."
        return None


def _with_headers(send):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = list(message.get("headers", ())) + _COMMON_HEADERS
        await send(message)

    return wrapped


def _host_name(value: bytes) -> str:
    """The host of a Host header, without port or IPv6 brackets, lower case."""
    host = value.decode("latin-1").strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """True when ``host`` is a loopback address or ``localhost``."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Api:
    """The endpoints, over one shared ``KnowledgeBase``."""

    def __init__(self, kb: KnowledgeBase, *, index_paths: tuple[str, ...], token: str | None):
        self.kb = kb
        self.index_paths = index_paths
        self.token = token
        self._readers: anyio.CapacityLimiter | None = None
        self._exports: anyio.CapacityLimiter | None = None
        self._indexing: anyio.Lock | None = None

    async def _read(self, fn: Callable[[], Any]) -> Any:
        if self._readers is None:
            self._readers = anyio.CapacityLimiter(CONCURRENT_READS)
        return await anyio.to_thread.run_sync(fn, limiter=self._readers)

    # -- pages and descriptions --------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=_PAGE_HEADERS)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi(allow_index=bool(self.index_paths)))

    # -- reading -----------------------------------------------------------------------------------
    async def search(self, request: Request) -> Response:
        p = params.parse(request.scope.get("query_string", b""), params.SEARCH)
        if p["format"] is not None:
            return await self._export(p)
        limit = p["limit"]
        if limit > params.MAX_LIMIT:
            raise _bad(f"The parameter 'limit' must be a whole number from 1 to {params.MAX_LIMIT}; only an export "
                       "(format=csv, md or jsonl) takes more.", "limit")
        offset = p["offset"]
        if p["page"] is not None:
            if offset:
                raise _bad("Give offset or page, not both.", "page")
            offset = (p["page"] - 1) * limit
        if offset + limit > params.MAX_WINDOW:
            raise _bad(f"offset + limit is {offset + limit}; results go at most {params.MAX_WINDOW} deep.",
                               "offset" if p["page"] is None else "page")
        q = p["q"]
        result = await self._read(lambda: self.kb.search(
            q, limit=offset + limit, section=p["section"], doc=p["doc"], topic=p["topic"], since=p["since"],
            until=p["until"], where=p["where"], context=p["context"], expand=p["expand"], correct=p["correct"],
            group_by=p["group_by"], sort=p["sort"], facets=p["facets"]))
        body = serialize.search_result(result, query=q, relative_paths=True)
        body["hits"] = body["hits"][offset:]
        if "groups" in body:
            body["groups"] = body["groups"][offset:]
        body["offset"] = offset
        body["limit"] = limit
        if p["explain"]:
            body["explain"] = explain_lines(body["expanded"])
        return JSONResponse(body)

    async def _export(self, p: params.Values) -> Response:
        """Every match (at most ``MAX_EXPORT`` rows, or ``limit``) as CSV, Markdown or JSON Lines, streamed."""
        fmt = p["format"]
        if fmt not in params.EXPORT_FORMATS:
            raise _bad(f"Cannot export as {fmt!r}; use format=csv, md or jsonl.", "format")
        defaults = {x.name: x.default for x in params.SEARCH}
        for name in ("offset", "page", "context", "facets", "explain"):
            if p[name] != defaults[name]:
                raise _bad(f"The parameter {name!r} does not apply to an export, which holds every match from the "
                           "first; leave it out.", name)
        rows = p["limit"] if "limit" in p.given else params.MAX_EXPORT
        q, group_by = p["q"], p["group_by"]
        # Each export holds an index reader until it ends, so exports take turns and a burst of downloads
        # cannot hold one reader each; searches are not held up (they take turns with the chunks).
        token = object()
        exports = self._export_slots()
        with anyio.move_on_after(EXPORT_WAIT) as waited:
            await exports.acquire_on_behalf_of(token)
        if waited.cancelled_caught:
            raise ApiError(503, "export_busy", "Another export is being written (they take turns); try again when "
                                               "it has finished.", headers={"Retry-After": "10"})
        try:
            stream = await self._read(lambda: self.kb.iter_search(
                q, section=p["section"], doc=p["doc"], topic=p["topic"], since=p["since"], until=p["until"],
                where=p["where"], expand=p["expand"], correct=p["correct"], group_by=group_by, sort=p["sort"]))
        except BaseException:
            exports.release_on_behalf_of(token)
            raise
        total = stream.total_documents if group_by else stream.total
        pieces = export.lines(map(_public, itertools.islice(stream, rows)), fmt, metadata_keys=stream.metadata_keys,
                              kind="group" if group_by else "hit")

        async def chunks():
            while True:
                chunk = await self._read(lambda: _take(pieces, EXPORT_CHUNK_CHARS))
                if not chunk:
                    return
                yield chunk.encode("utf-8")

        def close():
            stream.close()
            exports.release_on_behalf_of(token)

        headers = {"Content-Disposition": _attachment(q, fmt), "X-Total-Count": str(total),
                   "X-Export-Count": str(min(total, rows)), "Cache-Control": "no-store"}
        return _StreamedExport(chunks(), media_type=EXPORT_TYPES[fmt], headers=headers, on_close=close)

    def _export_slots(self) -> anyio.CapacityLimiter:
        if self._exports is None:
            self._exports = anyio.CapacityLimiter(CONCURRENT_EXPORTS)
        return self._exports

    async def fields(self, request: Request) -> Response:
        params.parse(request.scope.get("query_string", b""), [])
        return JSONResponse(serialize.fields(await self._read(self.kb.fields)))

    async def passage(self, request: Request) -> Response:
        p = params.parse(request.scope.get("query_string", b""), params.PASSAGE)
        pid = request.path_params["id"]
        hit = await self._read(lambda: self.kb.get(pid, context=p["context"]))
        return JSONResponse(serialize.hit(hit, relative_paths=True))

    async def documents(self, request: Request) -> Response:
        p = params.parse(request.scope.get("query_string", b""), params.DOCUMENTS)
        docs = await self._read(lambda: self.kb.documents(section=p["section"], doc=p["doc"], topic=p["topic"],
                                                          since=p["since"], until=p["until"], where=p["where"]))
        body = serialize.documents(docs[p["offset"]: p["offset"] + p["limit"]])
        body.update(total=len(docs), offset=p["offset"], limit=p["limit"])
        return JSONResponse(body)

    async def document(self, request: Request) -> Response:
        p = params.parse(request.scope.get("query_string", b""), params.DOCUMENT)
        doc_id = request.path_params["id"]
        info = await self._read(lambda: self.kb.document(doc_id, text=p["text"]))
        return JSONResponse(serialize.document(info))

    async def topics(self, request: Request) -> Response:
        params.parse(request.scope.get("query_string", b""), [])
        return JSONResponse(serialize.topics(await self._read(self.kb.topics)))

    async def stats(self, request: Request) -> Response:
        params.parse(request.scope.get("query_string", b""), [])
        return JSONResponse(public_stats(serialize.stats(await self._read(self.kb.stats))))

    async def healthz(self, request: Request) -> Response:
        try:
            st = await self._read(self.kb.stats)
        except KBError as e:
            body = _error_body(e.code, str(e), e.param)
            body["status"] = "unavailable"
            return JSONResponse(body, status_code=503, headers={"Retry-After": "2"})
        return JSONResponse({"status": "ok", "documents": st.documents, "passages": st.passages,
                             "last_indexed": st.last_indexed})

    # -- writing -----------------------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        if not self.index_paths:
            raise ApiError(403, "read_only", "This server is read-only; start it with --allow-index PATH and a "
                                             "token to let POST /index update the index.")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise ApiError(401, "unauthorized", "POST /index needs the header Authorization: Bearer <token>, with "
                                                "the token the server was started with.",
                           headers={"WWW-Authenticate": 'Bearer realm="kb"'})
        options = await _json_object(request)
        unknown = sorted(set(options) - {"rebuild"})
        if unknown:
            raise _bad(f"Unknown field {unknown[0]!r}; the body may hold only \"rebuild\".", unknown[0])
        rebuild = options.get("rebuild", False)
        if not isinstance(rebuild, bool):
            raise _bad("The field \"rebuild\" must be true or false.", "rebuild")
        if self._indexing is None:
            self._indexing = anyio.Lock()
        if self._indexing.locked():
            raise ApiError(503, "index_busy", "An index run started through this server is still going; try again "
                                              "when it has finished.", headers={"Retry-After": "5"})
        async with self._indexing:
            summary = await anyio.to_thread.run_sync(
                lambda: self.kb.index(list(self.index_paths), rebuild=rebuild, lock_timeout=1.0))
        body = serialize.index_summary(summary)
        roots = [*self.index_paths, *(str(Path(r).resolve()) for r in self.index_paths)]
        for s in body["skipped"]:
            s["path"] = relative_to_roots(s["path"], roots)
        return JSONResponse(body)


class _StreamedExport(StreamingResponse):
    """A streamed export that releases its search stream (and export slot) however the response ends."""

    def __init__(self, content, *, on_close: Callable[[], None], **kwargs):
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


def _public(item):
    """An export item with no absolute path of this machine: a hit's ``path`` becomes its relative ``rel``."""
    if isinstance(item, Hit):
        return replace(item, path=item.rel)
    if isinstance(item, DocumentGroup):
        return replace(item, best=replace(item.best, path=item.best.rel))
    return item


def _take(pieces: Iterator[str], size: int) -> str:
    """Pieces joined until there are ``size`` characters or none are left ("" at the end)."""
    out, n = [], 0
    for piece in pieces:
        out.append(piece)
        n += len(piece)
        if n >= size:
            break
    return "".join(out)


def _attachment(query: str, fmt: str) -> str:
    """A Content-Disposition naming the file after the query (RFC 6266; an ASCII name for old clients)."""
    stem = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]+', "_", query).strip(" ._")[:60] or "search"
    return f'attachment; filename="kb-export.{fmt}"; filename*=UTF-8\'\'{quote("kb-" + stem + "." + fmt, safe="")}'


def _bad(message: str, param: str) -> QueryError:
    """A bad-request refusal in the library's terms (``bad_query``), naming the parameter."""
    return QueryError(message, param=param)


async def _json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object ({} when empty), read up to ``MAX_BODY_BYTES``."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks).strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_request", "The request body is not JSON; send an object such as "
                                           "{\"rebuild\": false}.") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_request", "The request body must be a JSON object, such as {\"rebuild\": false}.")
    return value


def explain_lines(expanded: list[dict[str, str]]) -> list[str]:
    """The CLI's ``--explain`` lines: each query word and the terms it was widened to, with their origin."""
    by_query: dict[str, list[str]] = {}
    for e in expanded:
        by_query.setdefault(e["query"], []).append(f"{e['term']} ({e['origin']})")
    return [f"expanded {q!r} → " + ", ".join(terms) for q, terms in by_query.items()]


# -- errors ------------------------------------------------------------------------------------------------
async def _kb_error(request: Request, exc: KBError) -> Response:
    status = http_status(exc)
    headers = {"Retry-After": "2"} if status == 503 else None
    return JSONResponse(serialize.error(exc), status_code=status, headers=headers)


async def _api_error(request: Request, exc: ApiError) -> Response:
    return JSONResponse(_error_body(exc.code, str(exc), exc.param), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        body = _error_body("not_found", f"Nothing is served at {request.url.path}; GET /openapi.json lists the "
                                        "endpoints.")
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "GET")
        body = _error_body("method_not_allowed", f"{request.method} is not allowed on {request.url.path}; use "
                                                 f"{allowed}.")
    else:
        body = _error_body("http_error", str(exc.detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return JSONResponse(_error_body("internal", "The server failed to answer this request; its log has the details."),
                        status_code=500)


# -- the application ---------------------------------------------------------------------------------------
def create_app(kb: KnowledgeBase, *, cors: Iterable[str] = (), allow_index: Iterable[str] = (),
               token: str | None = None, hosts: Iterable[str] | None = None) -> Starlette:
    """The ASGI application over ``kb``.

    ``cors``: origins allowed to call the API from a browser (none by
    default). ``allow_index``: the paths ``POST /index`` indexes, which then
    needs ``token`` as a bearer token; empty means read-only. ``hosts``: the
    Host names answered (None: any).
    """
    index_paths = tuple(str(p) for p in allow_index)
    if index_paths and not token:
        raise ServerError("Letting POST /index update the index needs a bearer token; give one with --token or "
                          "KB_SERVE_TOKEN.")
    api = _Api(kb, index_paths=index_paths, token=token)
    routes = [
        Route("/", api.page, methods=["GET"]),
        Route("/search", api.search, methods=["GET"]),
        Route("/passages/{id:path}", api.passage, methods=["GET"]),
        Route("/documents", api.documents, methods=["GET"]),
        Route("/documents/{id:path}", api.document, methods=["GET"]),
        Route("/topics", api.topics, methods=["GET"]),
        Route("/fields", api.fields, methods=["GET"]),
        Route("/stats", api.stats, methods=["GET"]),
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
        Route("/index", api.index, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    middleware = [Middleware(_Guard, hosts=frozenset(h.lower().strip("[]") for h in hosts) if hosts else None)]
    origins = list(cors)
    if origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=origins,
                                     allow_methods=["GET", "POST"] if index_paths else ["GET"],
                                     allow_headers=["Authorization", "Content-Type"] if index_paths else [],
                                     expose_headers=["X-Total-Count", "X-Export-Count", "Content-Disposition"]))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        kb.close()

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={KBError: _kb_error, ApiError: _api_error, HTTPException: _http_error,
                                         Exception: _internal_error})


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port); raises ``ServerError`` when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ServerError(f"Cannot resolve the host {host!r} ({e.strerror}); give an address such as 127.0.0.1.",
                          param="host") from None
    family, kind, proto, _name, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ServerError(f"Cannot listen on {host}:{port} ({e.strerror}); choose another port.",
                          param="port") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """The http:// URL a bound socket answers at."""
    host, port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def serve(kb: KnowledgeBase, *, host: str = "127.0.0.1", port: int = 8000, cors: Iterable[str] = (),
          allow_index: Iterable[str] = (), token: str | None = None, access_log: bool = False,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``kb`` over HTTP until interrupted; ``on_ready`` gets the URL once the port is bound.

    Raises ``ServerError`` when the port cannot be had or an option is missing.
    """
    import uvicorn

    hosts = LOOPBACK_NAMES if is_loopback(host) else None
    app = create_app(kb, cors=cors, allow_index=allow_index, token=token, hosts=hosts)
    sock = bind(host, port)
    config = uvicorn.Config(app, log_level="info" if access_log else "warning", access_log=access_log,
                            server_header=False, h11_max_incomplete_event_size=MAX_HEAD_BYTES,
                            limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5, lifespan="on")
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(url_of(sock))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
