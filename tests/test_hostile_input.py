"""Hostile and messy input: broken files in a collection, and queries that are not what a parser expects.

Files: each one is either indexed correctly (its text is found, decoded right) or skipped with a
reason in the `kb index --json` summary, and the rest of the collection is always indexed.
Queries: each one gets results or one clear sentence (exit code 2 / QueryError), and the work it causes
(leaf matchers the engine builds, counted by ``conftest.count_matchers``) stays bounded. Nothing here
is timed: subprocess timeouts only catch hangs, and speed figures are in ``benchmarks/hostile.py``.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, SEED, count_matchers, kb_cmd, kb_env, policy_paragraph, run_kb, write_tree
from kb import KnowledgeBase, QueryError
from kb.chunking import MAX_PASSAGE_CHARS
from kb.cli import main as cli_main

BODY = "户籍制度改革持续推进，落户门槛进一步降低，城乡融合发展取得新进展。\n第二段：宅基地制度改革试点稳慎推进，农民权益得到保障。\n"


def random_bytes(seed: int, n: int, lo: int = 0, hi: int = 256) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(lo, hi) for _ in range(n))


def random_cjk(seed: int, n: int) -> str:
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n))


def doc(title: str, word: str) -> str:
    """A small document whose first paragraph contains the unique ``word``."""
    return f"{title}\n{word}建设取得积极进展，相关政策措施落实到位。\n" + BODY


# name: (relative path, content builder, expectation)
#   ("indexed", doc_id, word)  the file is indexed and ``word`` finds it, as written
#   ("skipped", reason_regex)  the file is listed in `skipped` with a matching reason
#   ("either", doc_id, word)   indexed as above, or skipped with any reason
GOOD = {
    "good-txt": ("good/plain.txt", lambda: doc("普通文本", "雄安新区").encode(), ("indexed", "good/plain", "雄安新区")),
    "good-md": ("good/notes.md", lambda: ("# 笔记\n\n## 第一部分\n\n" + doc("", "乡村振兴")).encode(),
                ("indexed", "good/notes", "乡村振兴")),
}
FILES = {
    "empty file": ("bad/empty.txt", lambda: b"", ("skipped", r"empty")),
    "whitespace only": ("bad/blank.txt", lambda: b"  \n\n\t \r\n", ("skipped", r"empty")),
    "binary with .txt": ("bad/image.txt", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random_bytes(5, 4000),
                         ("skipped", r"binary|undecodable")),
    "undecodable bytes": ("bad/noise.txt", lambda: random_bytes(1, 3000, 128, 256),
                          ("skipped", r"undecodable|binary|encoding")),
    "UTF-8 cut mid-character": ("bad/truncated.txt", lambda: doc("截断文件", "成渝地区").encode()[:-2],
                                ("either", "bad/truncated", "成渝地区")),
    "UTF-16 LE with BOM": ("enc/utf16.txt", lambda: doc("UTF16文件", "长江经济带").encode("utf-16"),
                           ("indexed", "enc/utf16", "长江经济带")),
    "UTF-16 BE with BOM": ("enc/utf16be.txt", lambda: b"\xfe\xff" + doc("UTF16BE文件", "京津冀协同").encode("utf-16-be"),
                           ("indexed", "enc/utf16be", "京津冀协同")),
    "UTF-16 without BOM": ("enc/utf16-nobom.txt", lambda: doc("无BOM文件", "东北振兴").encode("utf-16-le"),
                           ("either", "enc/utf16-nobom", "东北振兴")),
    "GB18030": ("enc/gb.txt", lambda: doc("国标文件", "粤港澳大湾区").encode("gb18030"),
                ("indexed", "enc/gb", "粤港澳大湾区")),
    "Big5 (traditional)": ("enc/big5.txt", lambda: "黃河流域文件\n黃河流域生態保護是重大國家戰略，要堅持生態優先、綠色發展。\n".encode("big5"),
                           ("indexed", "enc/big5", "黃河流域")),
    "mixed CRLF/LF/CR": ("enc/crlf.txt",
                         lambda: ("换行文件\r\n长三角一体化发展第一段很长很长的内容。\r\n第二段内容很长很长很长。\n"
                                  "第三段内容旧式换行很长很长。\r第四段内容很长很长很长很长。\r\n").encode(),
                         ("indexed", "enc/crlf", "长三角一体化")),
    "JSONL with bad lines": ("data/lines.jsonl", lambda: "\n".join([
        json.dumps({"id": "j-ok-1", "title": "好行", "text": "西部大开发形成新格局，持续推进。"}, ensure_ascii=False),
        '{"id": "j-bad-2", "text": "未闭合',
        json.dumps({"id": "j-notext-3", "title": "没有正文"}, ensure_ascii=False),
        "[1, 2, 3]",
        json.dumps({"id": "j-ok-5", "text": "中部地区崛起，持续推进。"}, ensure_ascii=False),
        "",
    ]).encode(), ("indexed", "j-ok-1", "西部大开发")),
    "HTML broken markup + script": ("web/broken.html", lambda: (
        "<html><head><title>破损页面</title><script>var s='恶意脚本内容';</script><style>p{}</style></head>"
        "<body><div class='article'><p>海南自由贸易港建设稳步推进，制度型开放不断扩大，营商环境持续优化。"
        "<p>第二段没有闭合标签<b>加粗<i>斜体</div></span></td>" + "<p>" * 50 + "</body>").encode(),
        ("indexed", "web/broken", "海南自由贸易港")),
    "HTML without an article": ("web/menu.html", lambda: (
        "<html><head><title>导航页</title><script>document.write('首页脚本')</script></head><body><nav>"
        "<a href='/'>首页</a><a href='/news'>新闻</a><a href='/about'>关于</a></nav></body></html>").encode(),
        ("skipped", r"no article|no .*text")),
    "name with spaces and Chinese": ("good/政策 文件 2024.txt", lambda: doc("空格文件", "横琴合作区").encode(),
                                     ("indexed", "good/政策 文件 2024", "横琴合作区")),
    "unsupported extension": ("bad/slides.pptx", lambda: b"PK\x03\x04 binary", ("skipped", r"unsupported")),
    "truncated PDF": ("bad/report.pdf", lambda: b"%PDF-1.4 binary", ("skipped", r"PDF")),
}


def build_tree(root: Path) -> dict[str, Path]:
    files = {rel: make() for rel, make, _exp in {**GOOD, **FILES}.values()}
    write_tree(root, files)
    specials = {}
    (root / "loop").mkdir()
    os.symlink("..", root / "loop" / "parent")  # a directory symlink to its own parent
    specials["symlink loop"] = root / "loop" / "parent"
    os.symlink("does-not-exist.txt", root / "bad" / "dangling.txt")
    specials["dangling symlink"] = root / "bad" / "dangling.txt"
    os.mkfifo(root / "bad" / "pipe.txt")  # reading it would block forever
    specials["FIFO named .txt"] = root / "bad" / "pipe.txt"
    if Path("/proc/self/mem").exists():
        os.symlink("/proc/self/mem", root / "bad" / "unreadable.txt")  # open() works, read() fails (EIO)
        specials["unreadable file (read fails)"] = root / "bad" / "unreadable.txt"
    big = root / "bad" / "huge.txt"
    with open(big, "wb") as f:  # sparse: 65 MB on paper, nothing on disk
        f.truncate(65 * 1024 * 1024)
    specials["file over the size limit"] = big
    return specials


class Messy:
    def __init__(self, root: Path, index: Path, summary: dict, api_summary, specials: dict):
        self.root, self.index, self.summary, self.api_summary = root, index, summary, api_summary
        self.specials = specials

    def skipped_reason(self, path: Path) -> str | None:
        for s in self.summary["skipped"]:
            if s["path"] == str(path) or s["path"] == str(path.absolute()):
                return s["reason"]
        return None


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Messy:
    base = tmp_path_factory.mktemp("messy")
    root = base / "src"
    specials = build_tree(root)
    index = base / "ix"
    # The timeout only catches a hang (a FIFO read, a symlink loop); it is not a speed claim.
    out = subprocess.run(kb_cmd(index, "index", root, "--json"), cwd=base, env=kb_env(), capture_output=True,
                         text=True, encoding="utf-8", timeout=120)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    with KnowledgeBase(base / "api-ix") as kb:
        api_summary = kb.index([root])
    return Messy(root, index, summary, api_summary, specials)


def _find(kb: KnowledgeBase, word: str, doc_id: str):
    return [h for h in kb.search(f'"{word}"', limit=50, expand=False) if h.doc_id == doc_id]


@pytest.mark.parametrize("name", list(GOOD) + list(FILES))
def test_each_file_is_indexed_correctly_or_skipped_with_a_reason(messy, name):
    rel, _make, expect = {**GOOD, **FILES}[name]
    path = messy.root / rel
    reason = messy.skipped_reason(path)
    with KnowledgeBase(messy.index) as kb:
        if expect[0] == "skipped":
            if not reason:
                doc_id = Path(rel).with_suffix("").as_posix()
                try:
                    shown = repr(kb.get(f"{doc_id}#1").text[:60])
                except Exception as e:  # noqa: BLE001
                    shown = f"nothing ({type(e).__name__})"
                pytest.fail(f"{name}: {rel} must be skipped with a reason, but it is not in `skipped`; "
                            f"its first passage is {shown}")
            assert re.search(expect[1], reason), f"{name}: unexpected reason {reason!r}"
            return
        _kind, doc_id, word = expect
        if expect[0] == "either" and reason:
            assert reason.strip(), name
            return
        assert reason is None, f"{name}: {rel} should be indexed but was skipped: {reason}"
        hits = _find(kb, word, doc_id)
        assert hits, f"{name}: {word!r} does not find {doc_id!r}"
        assert all(word in h.text for h in hits), f"{name}: the text is not decoded as written: {hits[0].text!r}"
        for h in hits:
            assert "\r" not in h.text and "\x00" not in h.text and "\ufffd" not in h.text, (name, h.text)
            assert len(h.text) <= MAX_PASSAGE_CHARS


@pytest.mark.parametrize("name", ["symlink loop", "dangling symlink", "FIFO named .txt",
                                  "unreadable file (read fails)", "file over the size limit"])
def test_each_special_entry_is_skipped_with_a_reason(messy, name):
    if name not in messy.specials:
        pytest.skip("no /proc/self/mem on this system")
    reason = messy.skipped_reason(messy.specials[name])
    assert reason, f"{name}: {messy.specials[name]} is neither indexed nor listed in `skipped`"
    expected = {"symlink loop": r"loop", "dangling symlink": r"No such file|cannot read|dangling|broken",
                "FIFO named .txt": r"regular file|FIFO|pipe|special", "unreadable file (read fails)": r"cannot read",
                "file over the size limit": r"too large"}[name]
    assert re.search(expected, reason), f"{name}: unexpected reason {reason!r}"


def test_unreadable_file_chmod_000(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root reading the file "
                    "(an unreadable file is covered by the /proc/self/mem case)")
    src = write_tree(tmp_path / "src", {"ok.txt": doc("可读", "雄安新区"), "secret.txt": doc("不可读", "长江经济带")})
    (src / "secret.txt").chmod(0)
    try:
        with KnowledgeBase(tmp_path / "ix") as kb:
            s = kb.index([src])
            assert [x.reason for x in s.skipped if x.path.endswith("secret.txt")] == ["cannot read file: Permission denied"]
            assert _find(kb, "雄安新区", "ok")
    finally:
        (src / "secret.txt").chmod(0o644)


def test_the_rest_of_the_collection_is_indexed(messy):
    with KnowledgeBase(messy.index) as kb:
        for name, (rel, _make, expect) in GOOD.items():
            assert _find(kb, expect[2], expect[1]), name
        assert kb.get("j-ok-5#1").text.startswith("中部地区崛起")
        assert not kb.search('"恶意脚本内容"', expand=False), "script content must not be indexed"
        assert not kb.search('"首页脚本"', expand=False), "script content must not be indexed"


def test_jsonl_bad_lines_are_reported_by_line_number(messy):
    path = str(messy.root / "data" / "lines.jsonl")
    lines = {s.get("line"): s for s in messy.summary["skipped"] if s["path"].startswith(path)}
    assert set(lines) == {2, 3, 4}, messy.summary["skipped"]
    assert "line 2" in lines[2]["reason"] and "JSON" in lines[2]["reason"]
    assert "line 3" in lines[3]["reason"] and "text" in lines[3]["reason"]
    assert "line 4" in lines[4]["reason"]


def test_file_names_with_spaces_and_chinese_work_end_to_end(messy, tmp_path):
    doc_id = "good/政策 文件 2024"
    shown = run_kb(messy.index, "show", f"{doc_id}#1", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["doc_id"] == doc_id
    with KnowledgeBase(messy.index) as kb:
        assert [h.doc_id for h in kb.search("横琴合作区", doc=doc_id)] == [doc_id]


def test_crlf_is_normalised_in_passages(messy):
    with KnowledgeBase(messy.index) as kb:
        texts = [h.text for h in kb.search("很长", doc="enc/crlf", limit=20, expand=False)]
    assert texts and all("\r" not in t for t in texts)
    assert any(t.startswith("长三角一体化发展第一段") for t in texts)


# --- the summary adds up ---------------------------------------------------------------------------------


def _skipped_files(skipped) -> int:
    return sum(1 for s in skipped if s.kind == "file")


def test_api_summary_adds_up(messy):
    s = messy.api_summary
    assert s.indexed + s.updated + s.unchanged + _skipped_files(s.skipped) == s.files, s
    assert all(x.reason.strip() for x in s.skipped)
    assert s.indexed >= len(GOOD) + sum(1 for _r, _m, e in FILES.values() if e[0] == "indexed")


def test_cli_json_summary_says_what_each_skipped_entry_is(messy):
    """The brief's invariant: indexed + updated + unchanged + skipped entries of kind "file" == files.
    Directory entries (the symlink loop) and JSONL lines are also in `skipped`, so without a kind
    the JSON summary cannot be added up."""
    s = messy.summary
    assert all("kind" in x for x in s["skipped"]), (
        "`kb index --json` skipped entries have no \"kind\"; a symlink-loop directory entry cannot be told "
        f"from a skipped file: {[x for x in s['skipped'] if 'line' not in x][:3]}")
    files = sum(1 for x in s["skipped"] if x["kind"] == "file")
    assert s["indexed"] + s["updated"] + s["unchanged"] + files == s["files"]


def test_second_run_summary_adds_up_and_changes_nothing(messy, tmp_path):
    out = run_kb(messy.index, "index", messy.root, "--json", cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["indexed"] == s["updated"] == s["removed"] == 0 and s["passages"] == 0
    assert s["unchanged"] == messy.summary["indexed"]
    assert s["files"] == messy.summary["files"]
    # Files that could not be read are tried (and reported) again; bad lines of an unchanged
    # JSONL file are not re-read, so they are not reported again.
    def files(summary):
        return sorted((x["path"], x["reason"]) for x in summary["skipped"] if "line" not in x)
    assert files(s) == files(messy.summary)


def test_jsonl_file_whose_documents_are_all_duplicates_is_counted(tmp_path):
    src = write_tree(tmp_path / "src", {
        "a.jsonl": json.dumps({"id": "same", "text": "户籍制度改革持续推进。"}, ensure_ascii=False) + "\n",
        "b.jsonl": json.dumps({"id": "same", "text": "宅基地制度改革稳慎推进。"}, ensure_ascii=False) + "\n",
    })
    with KnowledgeBase(tmp_path / "ix") as kb:
        s = kb.index([src])
    assert any("duplicate" in x.reason for x in s.skipped)
    assert s.indexed + s.updated + s.unchanged + _skipped_files(s.skipped) == s.files, (
        f"b.jsonl is neither indexed nor a skipped file: {s}")


# --- very large input ---------------------------------------------------------------------------------------

MARKS = ("量子通信", "碳达峰", "数字乡村")


def _one_line(chars: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    parts, n = [], 0
    while n < chars:
        p = policy_paragraph(rng, 300)
        parts.append(p)
        n += len(p)
    text = "".join(parts)[:chars]
    third = len(text) // 3
    return MARKS[0] + text[:third] + MARKS[1] + text[third:] + MARKS[2]


def _check_long_line(kb: KnowledgeBase, doc_id: str, chars: int) -> None:
    st = kb.stats()
    assert chars / MAX_PASSAGE_CHARS <= st.passages <= 3 * chars / MAX_PASSAGE_CHARS + 10, st
    for word in MARKS:
        hits = [h for h in kb.search(word, expand=False) if h.doc_id == doc_id]
        assert len(hits) == 1 and word in hits[0].text, (word, [h.id for h in hits])
        assert len(hits[0].text) <= MAX_PASSAGE_CHARS


def test_3mb_single_line_indexes_with_bounded_passages(tmp_path):
    text = _one_line(1_000_000)  # 3 MB of UTF-8 Chinese and no newline
    src = write_tree(tmp_path / "src", {"oneline.txt": text})
    assert (src / "oneline.txt").stat().st_size > 3_000_000
    out = run_kb(tmp_path / "ix", "index", src, "--json", cwd=tmp_path, timeout=300)  # catches a hang only
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["indexed"] == 1 and summary["skipped"] == []
    with KnowledgeBase(tmp_path / "ix") as kb:
        _check_long_line(kb, "oneline", len(text))


@pytest.mark.slow
def test_20mb_file(tmp_path):
    rng = random.Random(11)
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "huge.txt", "w", encoding="utf-8") as f:
        f.write("巨型文件\n")
        size = 0
        while size < 20 * 1024 * 1024:
            p = policy_paragraph(rng, 200) + "\n"
            f.write(p)
            size += len(p.encode())
        f.write(MARKS[2] + "在文件最后。\n")
    out = run_kb(tmp_path / "ix", "index", src, "--json", cwd=tmp_path, timeout=900)  # catches a hang only
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["indexed"] == 1 and summary["skipped"] == []
    with KnowledgeBase(tmp_path / "ix") as kb:
        hits = kb.search(MARKS[2], expand=False)
        assert [h.doc_id for h in hits] == ["huge"]


# --- hostile queries ------------------------------------------------------------------------------------------

QUERIES = {
    "empty": "",
    "whitespace": " \t\u3000 ",
    "only punctuation": "。，、！？……",
    "ascii punctuation": "!!! ??? ...",
    "unbalanced quote": '"户籍 改革',
    "unbalanced parenthesis": "(户籍 OR 落户",
    "stray closing parenthesis": "户籍)",
    "stray AND": "AND",
    "trailing AND": "户籍 AND",
    "stray NOT": "NOT",
    "only NOT": "NOT 户籍",
    "stray OR": "户籍 OR OR 落户",
    "unknown field": "author:李春雷",
    "url-like": "http://www.gov.cn/户籍",
    "empty field": "section:",
    "unknown topic": "topic:no-such-topic",
    "leading *": "*户籍",
    "leading ?": "?籍",
    "trailing *": "户*",
    "control characters": "户籍\x00\x01\x1b[31m改革\x7f",
    "only control characters": "\x01\x02\x03",
    "zero-width and BOM": "\ufeff户\u200b籍\u200d",
    "10,000 characters": "户籍改革" * 2500,
    "emoji": "🏠🌾",
    "emoji and words": "户籍😀改革",
    "rare CJK extension": "𠀀𪚥",
    "rare CJK and words": "𪚥 户籍",
    "right-to-left text": "\u202e户籍 مرحبا",
    "combining marks": "户\u0301籍\u0308",
    "full-width syntax": "（户籍　ＯＲ　落户）",
    "many minus signs": "户籍 ------",
    "deep nesting (600 levels)": "(" * 600 + "户籍" + ")" * 600,
    "1,999 CJK characters, no spaces": random_cjk(0, 1999),
    "666 repeated words": " ".join(["户籍"] * 666),
    "lone surrogate (undecodable argv byte)": "\udcff户籍",
}
# The most leaf matchers (one per query term per segment) one hostile query may make the engine build.
# The worst today is the 1,999-character run without spaces (about 550 on the seed); a query of a
# word repeated 666 times built 7,993 before repeated words were deduplicated.
MATCHER_BUDGET = 2_000


def _query_param(name: str):
    return pytest.param(name, id=name)


@pytest.fixture(scope="module")
def query_kb(tmp_path_factory):
    base = tmp_path_factory.mktemp("queries")
    src = write_tree(base / "seeds", {SEED.name: SEED.read_bytes()})
    kb = KnowledgeBase(base / "ix")
    kb.index([src])
    kb.search("户籍")  # fill the per-index caches, so counts are of the query's own work
    yield kb
    kb.close()


def _one_sentence(message: str) -> None:
    assert message and "\n" not in message.strip() and "Traceback" not in message, message
    assert len(message) < 300, message


@pytest.mark.parametrize("name", [_query_param(n) for n in QUERIES])
def test_hostile_query_api(query_kb, name):
    query = QUERIES[name]
    with count_matchers() as work:
        try:
            result = query_kb.search(query)
        except QueryError as e:
            _one_sentence(str(e))
        except Exception as e:  # noqa: BLE001 - reported briefly (a RecursionError traceback is 1,000 frames)
            pytest.fail(f"{name}: {type(e).__name__} instead of hits or QueryError: {str(e)[:300]}")
        else:
            assert result.total >= len(result)
    assert work.matchers <= MATCHER_BUDGET, f"{name}: the engine built {work.matchers} matchers"


@pytest.mark.parametrize("name", [_query_param(n) for n in QUERIES if not n.startswith("lone surrogate")])
def test_hostile_query_cli(query_kb, name):
    with count_matchers() as work:
        result = CliRunner().invoke(cli_main, ["--index", str(query_kb.path), "search", QUERIES[name]])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    if result.exit_code == 2:
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        assert result.stdout == ""
    else:
        assert re.search(r"matching passages|No passages match", result.stdout), result.stdout
    # The CLI follows "did you mean" when nothing matches, so it may search twice.
    assert work.matchers <= 2 * MATCHER_BUDGET, f"{name}: the engine built {work.matchers} matchers"


@pytest.mark.parametrize("arg", [b"\xff\xfe", "户籍".encode() + b"\xff", "户籍".encode("gb18030")],
                         ids=["invalid-utf8", "utf8-plus-bad-byte", "gb18030-bytes"])
def test_undecodable_query_bytes_in_argv(query_kb, tmp_path, arg):
    """A shell can pass bytes that are not UTF-8; Python turns them into lone surrogates."""
    out = subprocess.run(kb_cmd(query_kb.path, "search", arg), cwd=tmp_path, env=kb_env(), capture_output=True,
                         timeout=60)
    stderr = out.stderr.decode("utf-8", "replace")
    assert out.returncode in (0, 2), stderr
    assert "Traceback" not in stderr
    if out.returncode == 2:
        assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
        assert "index" not in stderr.lower() or "query" in stderr.lower(), (
            f"a bad query must not be reported as a broken index: {stderr!r}")


def test_long_query_via_real_cli_is_rejected(query_kb, tmp_path):
    out = run_kb(query_kb.path, "search", "户籍改革" * 2500, cwd=tmp_path, timeout=60)  # the timeout catches a hang
    assert out.returncode == 2 and out.stderr.startswith("Error: ") and out.stderr.count("\n") == 1, out.stderr


# Work per English word of a long query: each is looked up in the glossary, the topics and CC-CEDICT,
# and each Chinese term it expands to (a topic name brings the topic's signal terms, up to about 20) is
# searched as text, section and title, by its words and verbatim, in two passes: about 134 leaf
# matchers per word of ENGLISH_PROSE. The bound is linear in the words, with a fixed ceiling per word.
MATCHERS_PER_ENGLISH_WORD = 160

# Policy English of the kind users type, long enough to fill a 2,000-character query with distinct words.
ENGLISH_PROSE = """
The government will deepen reform of the household registration system so that migrant workers who have
moved to cities can settle there and enjoy equal access to basic public services such as education for
their children, medical insurance, pensions and affordable housing. Rural land reform continues: homestead
rights, collective construction land entering the market and contracted land transfers are tested in pilot
counties. We will promote new urbanization centred on people, improve infrastructure connecting urban and
rural areas, expand employment for college graduates and veterans, raise the minimum wage where conditions
allow, strengthen elderly care and long-term care insurance, protect farmland and grain security, support
small and medium enterprises with tax cuts and fee reductions, develop the digital economy, artificial
intelligence and new quality productive forces, advance green development and ecological protection with
lower carbon emissions, prevent and defuse financial risks, keep prices stable, stabilise foreign trade and
investment, open wider to the world through the belt and road initiative, modernise governance by law, fight
corruption, build a healthy China, revitalise the countryside, renew old urban communities, upgrade
equipment and promote trade-in programmes for consumer goods, and improve the social security net covering
unemployment, work injury and maternity so that development benefits every household in every province.
"""


def test_max_length_english_query_is_bounded(query_kb):
    """Every English word is looked up in the vocabularies; a 2,000-character query answers with work that
    grows linearly with its words."""
    words = re.findall(r"[a-z]{4,}", ENGLISH_PROSE.lower())
    query = " ".join(dict.fromkeys(words))[:1999]
    with count_matchers() as work:
        try:
            query_kb.search(query)
        except QueryError as e:
            _one_sentence(str(e))
    n = len(query.split())
    assert work.matchers <= MATCHERS_PER_ENGLISH_WORD * n, f"{n} English words built {work.matchers} matchers"
