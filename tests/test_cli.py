"""The `kb` command, through click's CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import SEED, SEED_ID, kb_env, write_tree
from kb.cli import main

HIT_KEYS = {"id", "doc_id", "title", "date", "source", "paragraph", "section", "text", "snippet", "score"}


def run(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def ok(*args):
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture
def indexed(tmp_path, seed_dir, monkeypatch):
    """The seed indexed at $KB_INDEX; the cwd is an empty folder (no ./seeds)."""
    ok("index", seed_dir)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return seed_dir


# --- JSON output ---------------------------------------------------------------------


def test_search_json_schema(indexed):
    data = json.loads(ok("search", "户籍", "--json").stdout)
    assert set(data) == {"query", "total", "hits", "expanded", "suggestion", "corrected", "relaxed"}
    assert data["query"] == "户籍"
    assert all(set(e) == {"query", "term", "origin"} for e in data["expanded"])
    assert data["total"] >= len(data["hits"]) >= 1
    for hit in data["hits"]:
        assert HIT_KEYS <= set(hit), HIT_KEYS - set(hit)
    top = data["hits"][0]
    assert top["id"] == f"{SEED_ID}#6"
    assert top["doc_id"] == SEED_ID
    assert top["title"] == "山东省新型城镇化暨城乡融合发展工作培训举办"
    assert top["date"] == "2020-12-01"
    assert top["source"] == "新华网"
    assert top["paragraph"] == 6
    assert top["section"] == "完善促进新型城镇化与城乡融合发展的措施和规划"
    assert "户籍改革" in top["text"]
    assert "<mark>户籍</mark>" in top["snippet"]
    assert isinstance(top["score"], (int, float))


def test_search_json_is_utf8_not_escaped(indexed):
    out = ok("search", "户籍", "--json").stdout
    assert "户籍" in out and "\\u" not in out


def test_search_jsonl(indexed):
    out = ok("search", "城乡", "--jsonl", "-n", "3").stdout
    lines = out.splitlines()
    assert len(lines) == 3
    hits = [json.loads(line) for line in lines]
    for hit in hits:
        assert HIT_KEYS <= set(hit)
    as_json = json.loads(ok("search", "城乡", "--json", "-n", "3").stdout)
    assert [h["id"] for h in hits] == [h["id"] for h in as_json["hits"]]


def test_search_json_with_no_hits(indexed):
    data = json.loads(ok("search", "法院", "--json").stdout)
    assert (data["query"], data["total"], data["hits"]) == ("法院", 0, [])
    assert data["suggestion"] is None and data["corrected"] is False
    assert ok("search", "法院", "--jsonl").stdout == ""


def test_search_options_reach_the_library(indexed):
    data = json.loads(ok("search", "城乡", "--json", "--section", "基础设施").stdout)
    assert [h["id"] for h in data["hits"]] == [f"{SEED_ID}#7"]
    data = json.loads(ok("search", "户籍", "--json", "--since", "2021").stdout)
    assert data["hits"] == []
    data = json.loads(ok("search", "户籍", "--json", "--until", "2020-12").stdout)
    assert [h["id"] for h in data["hits"]][:1] == [f"{SEED_ID}#6"]
    data = json.loads(ok("search", "户籍", "--json", "--doc", SEED_ID, "-C", "1").stdout)
    assert [c["id"] for c in data["hits"][0]["context"]] == [f"{SEED_ID}#5", f"{SEED_ID}#7"]


def test_index_json_schema(tmp_path, seed_dir):
    (seed_dir / "broken.txt").write_bytes(b"\x00\x01binary\x00" * 50)
    data = json.loads(ok("index", seed_dir, "--json").stdout)
    assert {"indexed", "updated", "removed", "unchanged", "skipped", "passages"} <= set(data)
    assert (data["indexed"], data["updated"], data["removed"], data["unchanged"]) == (1, 0, 0, 0)
    assert data["passages"] == 10
    assert isinstance(data["skipped"], list)
    (skip,) = data["skipped"]
    assert {"path", "reason"} <= set(skip)
    assert skip["path"].endswith("broken.txt")
    assert skip["reason"]
    again = json.loads(ok("index", seed_dir, "--json").stdout)
    assert (again["indexed"], again["unchanged"], again["passages"]) == (0, 1, 0)


def test_index_json_lists_skipped_jsonl_lines(tmp_path):
    src = write_tree(tmp_path / "src", {"n.jsonl": '{"id": "a", "text": "试验区建设取得积极进展。"}\n{oops\n'})
    data = json.loads(ok("index", src, "--json").stdout)
    (skip,) = data["skipped"]
    assert skip["path"].endswith("n.jsonl:2") or skip.get("line") == 2


def test_index_human_output_names_skipped_files(tmp_path, seed_dir):
    (seed_dir / "broken.txt").write_bytes(b"\x00\x01binary\x00" * 50)
    result = ok("index", seed_dir)
    assert "broken.txt" in result.stderr
    assert "10 passages" in result.stdout


def test_stats_json(indexed):
    data = json.loads(ok("stats", "--json").stdout)
    assert {"documents", "passages"} <= set(data)
    assert (data["documents"], data["passages"]) == (1, 10)


def test_stats_human(indexed):
    out = ok("stats").stdout
    assert "documents: 1" in out
    assert "passages:  10" in out


# --- human output ---------------------------------------------------------------------


def test_search_human_output(indexed):
    out = ok("search", "户籍").stdout
    assert "山东省新型城镇化暨城乡融合发展工作培训举办" in out
    assert "2020-12-01" in out
    assert "完善促进新型城镇化与城乡融合发展的措施和规划" in out
    assert f"{SEED_ID}#6" in out
    assert "【户籍】" in out, "the matched word is marked"
    assert "\x1b[" not in out, "NO_COLOR and a non-terminal mean no escape codes"


def test_search_human_output_with_no_hits(indexed):
    result = ok("search", "法院")
    assert "法院" in result.stdout
    assert "No passages" in result.stdout


def test_show(indexed):
    out = ok("show", f"{SEED_ID}#6").stdout
    assert "进一步完善户籍改革" in out
    assert f"{SEED_ID}#6" in out
    assert "完善促进新型城镇化与城乡融合发展的措施和规划" in out
    # Neighbours are shown by default.
    assert "¶5" in out and "¶7" in out


def test_show_json(indexed):
    data = json.loads(ok("show", f"{SEED_ID}#7", "--json", "-C", "0").stdout)
    assert HIT_KEYS <= set(data)
    assert data["id"] == f"{SEED_ID}#7"
    assert data["section"] == "促进城乡基础设施一体化发展"


# --- errors ---------------------------------------------------------------------------


def assert_clean_error(result):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    err = result.stderr.strip()
    assert err, "an error message is printed on stderr"
    assert len(err.splitlines()) == 1, f"not one line: {err!r}"
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return err


@pytest.mark.parametrize(
    "args, words",
    [
        (["search", ""], "empty"),
        (["search", "   "], "empty"),
        (["search", '"户籍'], "quote"),
        (["search", "(户籍 OR 落户"], "("),
        (["search", "户籍)"], ")"),
        (["search", "foo:bar"], "foo"),
        (["show", "no-such-doc#1"], "no-such-doc#1"),
        (["search", "户籍", "--since", "last week"], "--since"),
        (["search", "户籍", "--until", "明天"], "--until"),
    ],
)
def test_error_paths(indexed, args, words):
    err = assert_clean_error(run(*args))
    assert words in err


def test_error_nonexistent_path_to_index(tmp_path):
    err = assert_clean_error(run("index", tmp_path / "no" / "such" / "dir"))
    assert "does not exist" in err


def test_error_missing_index(tmp_path, monkeypatch):
    empty = tmp_path / "empty-index"
    empty.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no ./seeds here, so nothing is built behind our back
    for args in (["search", "户籍"], ["stats"], ["show", f"{SEED_ID}#6"]):
        err = assert_clean_error(run("--index", empty, *args))
        assert "kb index" in err
    assert list(empty.iterdir()) == []


def test_error_other_index_format(indexed):
    index = Path(os.environ["KB_INDEX"])
    gen = index / (index / "CURRENT").read_text("utf-8").strip()
    meta = max(gen.glob("manifest-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    data = json.loads(meta.read_text("utf-8"))
    data["format"] = 999
    meta.write_text(json.dumps(data), encoding="utf-8")
    err = assert_clean_error(run("search", "户籍"))
    assert "--rebuild" in err
    ok("index", indexed, "--rebuild")
    assert ok("search", "户籍", "--json").stdout


# --- help -------------------------------------------------------------------------------


def test_every_command_has_help():
    assert main.help and main.help.strip()
    assert main.commands, "no commands registered"
    assert {"index", "search", "show", "stats"} <= set(main.commands)
    for name, cmd in main.commands.items():
        assert cmd.help and cmd.help.strip(), f"`kb {name}` has no help text"
        assert cmd.get_short_help_str().strip(), name
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert param.help, f"`kb {name} {param.opts[0]}` has no help"
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert "Usage" in result.stdout


def test_top_level_help_lists_commands():
    out = ok("--help").stdout
    for name in ("index", "search", "show", "stats"):
        assert name in out


# --- a real process ----------------------------------------------------------------------


def test_real_process_builds_the_index_on_first_search(tmp_path):
    work = tmp_path / "fresh-clone"
    work.mkdir()
    shutil.copytree(SEED.parent, work / "seeds")
    env = {k: v for k, v in os.environ.items() if k != "KB_INDEX"}
    env.update(NO_COLOR="1", PYTHONIOENCODING="utf-8")
    cmd = [sys.executable, "-m", "kb.cli", "search", "户籍"]
    first = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert "No index" in first.stderr and "seeds" in first.stderr
    assert f"{SEED_ID}#6" in first.stdout
    assert "【户籍】" in first.stdout
    assert (work / "index" / "CURRENT").is_file(), "the default index is ./index"
    second = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert second.returncode == 0, second.stderr
    assert "No index" not in second.stderr, "the second search reuses the index"
    assert f"{SEED_ID}#6" in second.stdout


def test_real_process_error_exit_code(tmp_path):
    env = dict(os.environ, NO_COLOR="1", PYTHONIOENCODING="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "kb.cli", "--index", str(tmp_path / "none"), "search", "户籍"],
        cwd=tmp_path, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_help_and_version_load_no_engine_segmenter_or_library(tmp_path):
    """`kb --help` and `kb --version` import click and the errors module only (they must be instant)."""
    code = ("import sys, kb.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'whoosh', 'rjieba', 'opencc', 'pypinyin'} "
            "or m in {'kb.api', 'kb.searcher', 'kb.serialize', 'kb.models', 'kb.store'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=kb_env(), timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
