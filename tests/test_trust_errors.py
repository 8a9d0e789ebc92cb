"""Issue 8, "errors tell the truth": a damaged index says "rebuild", a bug does not, bad dates are refused,
symlinked paths and `kb index .` work.

Each test failed on the code the issue was written against; what that code gave is noted beside it.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import index_files, kb_env, reports_files, run_kb, write_tree
from kb import IndexCorruptError, KBError, KnowledgeBase, QueryError
from kb.cli import main as cli_main

# --- corrupt index files -------------------------------------------------------------------------

# name: (kind of index file, damage, whether it must be reported). A file kb can rebuild from the
# rest of the index (the recall file, the pinyin map) may be repaired instead: then every answer
# must be the intact index's answer.
DAMAGE = {
    "toc emptied": ("toc", "empty", True),
    "toc truncated": ("toc", "truncate", True),
    "segment truncated": ("segment", "truncate", True),
    "garbage in postings": ("postings", "garbage", True),
    "garbage in the term dictionary": ("terms", "garbage", True),
    "manifest deleted": ("manifest", "delete", True),
    "manifest garbage": ("manifest", "garbage", True),
    "recall file deleted": ("recall", "delete", False),
    "recall file truncated": ("recall", "truncate", False),
    "pinyin map deleted": ("pinyin", "delete", False),
}
# What each of these gave on the code the issue was written against (all now raise IndexCorruptError
# or answer as the intact index does).
BEFORE_ISSUE_8 = {
    "toc emptied": "TypeError: ord() expected a character, exit 1 with a traceback",
    "garbage in postings": "Exception: Block tag error, exit 1 with a traceback",
    "garbage in the term dictionary": "FileFormatError: Unknown file header, exit 1 with a traceback",
    "manifest garbage": "IndexCorruptError naming kb.json, a file that does not exist",
    "recall file deleted": "a wrong answer: strings inside words are not found",
    "recall file truncated": "a wrong answer: strings inside words are found in part of the passages",
    "pinyin map deleted": "a wrong answer: huji finds nothing",
}

OPERATIONS = {
    "search a word": lambda kb: kb.search("户籍", limit=50),
    "search pinyin": lambda kb: kb.search("huji", limit=50),
    "search English": lambda kb: kb.search("household registration", limit=50),
    # strings inside words, so found only by the recall file; they lie in different parts of it
    "search verbatim only": lambda kb: kb.search("口迁 OR 民化 OR 业生 OR 籍", limit=50, expand=False),
    "search a phrase": lambda kb: kb.search('"户籍制度"', limit=50),
    "get": lambda kb: kb.get("gwr-xizang-2020#3", context=1),
    "stats": lambda kb: kb.stats(),
    "topics": lambda kb: kb.topics(),
}


def view(answer):
    """What a person sees of an answer, comparable across index copies."""
    if isinstance(answer, tuple) and answer and hasattr(answer[0], "slug"):
        return [(t.slug, t.passages) for t in answer]
    if hasattr(answer, "total"):
        return answer.total, [(h.id, h.snippet) for h in answer]
    if hasattr(answer, "snippet"):
        return answer.id, answer.text, [c.id for c in answer.context]
    return answer.documents, answer.passages, answer.files


CLI_CALLS = (("search", "口迁 OR 民化 OR 籍", "--json", "--no-expand"), ("search", "huji", "--json"), ("stats", "--json"))


@pytest.fixture(scope="module")
def intact(tmp_path_factory):
    """An index of the reports corpus and the answers it gives before any damage (API and CLI)."""
    base = tmp_path_factory.mktemp("intact")
    src = write_tree(base / "src", reports_files())
    with KnowledgeBase(base / "ix") as kb:
        kb.index([src])
        answers = {name: view(op(kb)) for name, op in OPERATIONS.items()}
    assert answers["search verbatim only"][0] >= 5 and answers["search pinyin"][0] > 0
    for args in CLI_CALLS:
        out = run_kb(base / "ix", *args, cwd=base)
        assert out.returncode == 0, out.stderr
        answers[args] = json.loads(out.stdout)
    return base / "ix", answers


def damage(index: Path, kind: str, how: str) -> list[Path]:
    """Damage every part of ``kind`` in the live generation of ``index``; returns the files touched."""
    parts = index_files(index, kind)
    assert parts, f"the index has no {kind} file"
    rng = random.Random(8)
    for path, offset, length in parts:
        if how == "delete":
            path.unlink()
        elif how == "empty":
            path.write_bytes(b"")
        elif how == "truncate":
            with open(path, "r+b") as f:
                f.truncate(offset + length // 2)
        elif how == "garbage":
            with open(path, "r+b") as f:
                f.seek(offset)
                f.write(bytes(rng.randrange(256) for _ in range(length)))
        else:  # pragma: no cover
            raise ValueError(how)
    return [p for p, _o, _l in parts]


def check_message(message: str, gen: Path, damaged: list[Path]) -> None:
    """One sentence that says to rebuild, and names no index file that does not exist."""
    assert "\n" not in message.strip() and "Traceback" not in message, message
    assert "rebuild" in message, message
    for name in re.findall(r"[\w.-]+\.(?:json|toc|seg|bin|tsv|pst|trm)\b", message):
        assert (gen / name).exists() or name in {p.name for p in damaged}, (
            f"the message names {name}, which is neither in the index nor the damaged file: {message}")


def _case(name):
    return pytest.param(name, id=name.replace(" ", "-"))


@pytest.mark.parametrize("name", [_case(n) for n in DAMAGE])
def test_damaged_index_gives_index_corrupt_error_or_the_intact_answer(intact, tmp_path, name):
    source, answers = intact
    index = tmp_path / "ix"
    shutil.copytree(source, index)
    gen = index / (index / "CURRENT").read_text("utf-8").strip()
    kind, how, must_report = DAMAGE[name]
    damaged = damage(index, kind, how)
    outcomes = {}
    for op_name, op in OPERATIONS.items():
        with KnowledgeBase(index) as kb:
            try:
                got = view(op(kb))
            except IndexCorruptError as e:
                check_message(str(e), gen, damaged)
                outcomes[op_name] = "IndexCorruptError"
                continue
            except Exception as e:  # noqa: BLE001 - anything else is the failure under test
                pytest.fail(f"{name}: {op_name} raised {type(e).__name__}: {str(e)[:200]}")
        assert got == answers[op_name], f"{name}: {op_name} gives a different answer than the intact index"
        outcomes[op_name] = "intact answer"
    if must_report:
        assert outcomes["search a word"] == "IndexCorruptError", outcomes


@pytest.mark.parametrize("name", [_case(n) for n in DAMAGE])
def test_damaged_index_cli_says_rebuild_in_one_line(intact, tmp_path, name):
    source, answers = intact
    index = tmp_path / "ix"
    shutil.copytree(source, index)
    gen = index / (index / "CURRENT").read_text("utf-8").strip()
    kind, how, must_report = DAMAGE[name]
    damaged = damage(index, kind, how)
    for args in CLI_CALLS:
        out = run_kb(index, *args, cwd=tmp_path)
        assert "Traceback" not in out.stderr, f"{name}: kb {' '.join(args)}: {out.stderr[-600:]}"
        if out.returncode == 2:
            assert out.stderr.startswith("Error: ") and out.stderr.count("\n") == 1, out.stderr
            check_message(out.stderr, gen, damaged)
        else:
            assert out.returncode == 0, (name, args, out.returncode, out.stderr)
            assert not (must_report and args[0] == "search"), f"{name}: kb {' '.join(args)} answered"
            got = json.loads(out.stdout)
            if args[0] == "stats":  # the copy lives elsewhere and has its own size
                got = {k: v for k, v in got.items() if k not in ("index_path", "size_bytes")}
                want = {k: v for k, v in answers[args].items() if k not in ("index_path", "size_bytes")}
            else:
                want = answers[args]
            assert got == want, f"{name}: kb {' '.join(args)}: wrong answer"


# --- a bug in kb is not a corrupt index ------------------------------------------------------------

HIT_BUILDER = "make_hit"  # the function that turns a stored passage into a Hit (moved by a restructure: rename here)


def break_hit_building(monkeypatch, exc: type[Exception]) -> int:
    """Make kb's hit-building function raise ``exc`` wherever kb's modules refer to it; returns how many
    references were replaced."""
    import kb

    for info in pkgutil.walk_packages(kb.__path__, "kb."):
        try:
            importlib.import_module(info.name)
        except ImportError:  # a front end whose optional dependency is not installed
            continue

    def broken(*args, **kwargs):
        raise exc("a fault injected into hit building")

    patched = 0
    for name, module in list(sys.modules.items()):
        if (name == "kb" or name.startswith("kb.")) and callable(getattr(module, HIT_BUILDER, None)):
            monkeypatch.setattr(module, HIT_BUILDER, broken)
            patched += 1
    assert patched, f"no kb module has {HIT_BUILDER}(); point HIT_BUILDER at the function that builds hits"
    return patched


@pytest.mark.parametrize("exc", [KeyError, ValueError, AttributeError])
def test_a_fault_in_hit_building_is_not_reported_as_a_corrupt_index(intact, monkeypatch, exc):
    index, _answers = intact
    with KnowledgeBase(index) as kb:
        kb.search("户籍")  # the index opens and answers before the fault
        break_hit_building(monkeypatch, exc)
        for call in (lambda: kb.search("户籍"), lambda: kb.get("gwr-xizang-2020#3")):
            with pytest.raises(Exception) as info:
                call()
            assert not isinstance(info.value, IndexCorruptError), f"a bug reported as a corrupt index: {info.value}"
            assert "rebuild" not in str(info.value)
    result = CliRunner().invoke(cli_main, ["--index", str(index), "search", "户籍"])
    assert result.exit_code != 0
    assert "rebuild" not in result.output and "cannot be read" not in result.output, result.output


# --- dates ---------------------------------------------------------------------------------------

BAD_DATES = ["2020-13", "2020-02-30", "2020-12-32", "2021-02-29", "2020-04-31", "2020-00", "2020-13-01", "2020-01-00",
             "2020/13/01", "20201301"]
GOOD_DATES = ["2020", "2020-02", "2020-02-29", "2020-12-31", "2019-01-15"]


@pytest.fixture(scope="module")
def reports_index(intact):
    return intact[0]


@pytest.mark.parametrize("option", ["since", "until"])
@pytest.mark.parametrize("date", BAD_DATES)
def test_invalid_date_is_a_query_error(reports_index, option, date):
    with KnowledgeBase(reports_index) as kb:
        with pytest.raises(QueryError) as info:
            kb.search("户籍", **{option: date})
    message = str(info.value)
    assert date in message and "\n" not in message, message


@pytest.mark.parametrize("date", ["2020-13", "2020-02-30", "2020-12-32"])
def test_invalid_date_cli_exit_2_with_one_sentence(reports_index, date):
    for option in ("--since", "--until"):
        result = CliRunner().invoke(cli_main, ["--index", str(reports_index), "search", "户籍", option, date])
        assert result.exit_code == 2, (option, date, result.output)
        err = result.stderr.strip()
        assert err.startswith("Error: ") and len(err.splitlines()) == 1 and date in err, err
        assert result.stdout == ""


@pytest.mark.parametrize("date", GOOD_DATES)
def test_valid_dates_are_accepted(reports_index, date):
    with KnowledgeBase(reports_index) as kb:
        kb.search("户籍", since=date)
        kb.search("户籍", until=date)


def test_text_that_is_not_a_date_is_a_query_error(reports_index):
    with KnowledgeBase(reports_index) as kb:
        with pytest.raises(QueryError):
            kb.search("户籍", since="last week")


# --- paths ---------------------------------------------------------------------------------------

DOC = "标题\n户籍制度改革持续推进，落户门槛进一步降低。\n"




@pytest.mark.parametrize("first, then", [
    pytest.param("real", "link/a.txt"),
    pytest.param("link", "link/a.txt"),
    pytest.param("link/a.txt", "real"),
    ("link", "real/a.txt"),
])
def test_file_indexed_through_a_symlinked_path_works_or_gets_a_true_sentence(tmp_path, first, then):
    write_tree(tmp_path / "real", {"a.txt": DOC})
    os.symlink(tmp_path / "real", tmp_path / "link")
    with KnowledgeBase(tmp_path / "ix") as kb:
        kb.index([tmp_path / first])
        try:
            kb.index([tmp_path / then])
        except KBError as e:
            assert not isinstance(e, IndexCorruptError), f"not a corrupt index: {e}"
            assert "\n" not in str(e) and "subpath" not in str(e), str(e)
        hits = kb.search("户籍", expand=False)
        assert [h.text for h in hits] == [DOC.splitlines()[1]], "the passage is there, once"
    out = run_kb(tmp_path / "ix", "index", tmp_path / then, cwd=tmp_path)
    assert out.returncode in (0, 2) and "Traceback" not in out.stderr, out.stderr
    if out.returncode == 2:
        assert out.stderr.count("\n") == 1 and "cannot be read" not in out.stderr and "rebuild" not in out.stderr, \
            out.stderr


def _kb_in(cwd: Path, *args) -> subprocess.CompletedProcess:
    """`kb ARGS` run in ``cwd`` with no --index and no $KB_INDEX: the index is ./index."""
    env = kb_env()
    env.pop("KB_INDEX", None)
    return subprocess.run([sys.executable, "-m", "kb.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=60)


@pytest.mark.parametrize("where", [[], ["--index", "data/ix"]], ids=["default-index", "index-inside-the-tree"])
def test_index_dot_leaves_its_own_index_directory_alone(tmp_path, where):
    proj = write_tree(tmp_path / "proj", {"a.txt": DOC, "data/b.md": "# 笔记\n\n宅基地制度改革试点稳慎推进。\n"})
    index_dir = proj / (where[1] if where else "index")
    for run in (1, 2):
        out = _kb_in(proj, *where, "index", ".", "--json")
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout)
        own = [s["path"] for s in summary["skipped"] if Path(s["path"]).resolve().is_relative_to(index_dir.resolve())]
        assert not own, f"run {run} looked into its own index: {own[:3]}"
        assert summary["files"] == 2, summary
    assert summary["unchanged"] == 2
