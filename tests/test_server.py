"""``kb serve``: the HTTP JSON API, tested against a real ``kb serve`` subprocess over loopback HTTP."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install -e '.[test]'")
pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install -e '.[test]'")

from conftest import SEED, SEED_ID, kb_env, run_kb, write_tree
from serving import Served, document_path, open_fds, passage_path, rss_kib

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


def test_openapi_describes_every_endpoint_and_the_responses_match_it(served):
    jsonschema = pytest.importorskip("jsonschema")
    from kb.server import params

    status, doc = served.get("/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/search", "/passages/{id}", "/documents", "/documents/{id}", "/topics", "/stats",
                                 "/healthz"}
    assert {p["name"] for p in doc["paths"]["/search"]["get"]["parameters"]} == {p.name for p in params.SEARCH}

    def check(name, value):
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"#/components/schemas/{name}",
                  "components": doc["components"]}
        jsonschema.validate(value, schema)

    check("SearchResult", served.get("/search", {"q": "户籍", "context": 1, "explain": 1})[1])
    check("Hit", served.get(passage_path(P6), {"context": 1})[1])
    check("DocumentList", served.get("/documents")[1])
    check("Document", served.get(document_path(SEED_ID), {"text": 1})[1])
    check("Topics", served.get("/topics")[1])
    check("Stats", served.get("/stats")[1])
    check("Health", served.get("/healthz")[1])
    check("Error", served.get("/search", {"q": "(("})[1])
    with pytest.raises(jsonschema.ValidationError):  # the schemas are strict enough to catch a drift
        check("Hit", {**served.get(passage_path(P6))[1], "unexpected": 1})


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
            s.sendall(b"GET /search?q=%E5%9F%8E")  # hang up inside the request line
    status, body = served.get("/search", {"q": "户籍"})
    assert status == 200 and body["hits"][0]["id"] == P6
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
        assert "/index" in s.get("/openapi.json")[1]["paths"]
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
