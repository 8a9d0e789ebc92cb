"""Keeping an index current: `kb remove`, `kb watch`; and `python -m kb`, `--version`, shell completion."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, kb_env, live_commit, write_tree
from kb import DocumentNotFoundError, KnowledgeBase, __version__
from kb.cli import main

PROVINCES = ROOT / "tests" / "data" / "provinces"


@pytest.fixture
def reports(tmp_path, monkeypatch):
    """The provincial reports copied to reports/, indexed at $KB_INDEX; cwd is their parent."""
    shutil.copytree(PROVINCES, tmp_path / "reports")
    monkeypatch.setenv("KB_INDEX", str(tmp_path / "index"))
    monkeypatch.chdir(tmp_path)
    kb = KnowledgeBase(tmp_path / "index")
    kb.index([tmp_path / "reports"])
    yield kb
    kb.close()


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


# --- remove -----------------------------------------------------------------------------------------


def test_remove_by_document_id_file_and_folder(reports, tmp_path):
    before = reports.stats()
    s = reports.remove("yunnan-2025")
    assert s.documents == ("yunnan-2025",) and s.passages == 5 and len(s.files) == 1
    assert s.total_documents == before.documents - 1 and s.total_passages == before.passages - 5
    assert reports.stats().passages == before.passages - 5
    assert all(h.doc_id != "yunnan-2025" for h in reports.search("宅基地", limit=50))
    assert all(h.doc_id != "yunnan-2025" for h in reports.search("地开", limit=50)), "verbatim recall forgets it too"
    s = reports.remove(tmp_path / "reports" / "henan-2026.txt")
    assert s.documents == ("henan-2026",)
    assert {d.id for d in reports.documents()} == {"yunnan-2026", "guizhou-2026", "sichuan-2026", "zhejiang-2026"}
    s = reports.remove(Path("reports"))  # a folder, relative to the cwd
    assert len(s.documents) == 4 and s.total_documents == 0 and s.total_passages == 0
    # The files are forgotten: indexing the folder again brings every report back.
    again = reports.index([tmp_path / "reports"])
    assert again.indexed == 6 and again.total_documents == 6


def test_remove_keeps_manifest_and_snapshot_consistent(reports, tmp_path):
    gen, commit = live_commit(reports)
    reports.remove("guizhou-2026")
    gen2, commit2 = live_commit(reports)
    assert gen2 == gen and commit2 == commit + 1, "one engine commit"
    manifest = json.loads((gen / f"manifest-{commit2}.json").read_text("utf-8"))
    assert not any(k.endswith("guizhou-2026.txt") for k in manifest["files"])
    parts = [c for c, _size, _records in manifest["recall"]["parts"]]
    assert parts and all((gen / f"recall-{c}.bin").is_file() for c in parts), "every recall part it lists is there"
    from kb.store import IndexStore

    snap = IndexStore(reports.path).snapshot(gen, commit2)
    try:
        found = snap.recall().find("。", cap=1 << 20)
        assert found and not [i for i in found if i.startswith("guizhou-2026#")], "verbatim recall forgets it"
    finally:
        snap.close()
    assert reports.index([tmp_path / "reports"]).indexed == 1, "the next run sees the file as new"


def test_remove_one_document_of_a_jsonl_file(make_kb, tmp_path):
    lines = [{"id": f"n{i}", "title": f"新闻{i}", "date": "2025-01-0" + str(i), "text": f"户籍改革第{i}条。"}
             for i in range(1, 4)]
    kb = make_kb({"news.jsonl": "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)})
    s = kb.remove("n2")
    assert s.documents == ("n2",) and s.files == ()
    assert {d.id for d in kb.documents()} == {"n1", "n3"}
    again = kb.index([tmp_path / "corpus"])
    assert again.updated == 1, "a file of which a part was removed is read again"
    assert {d.id for d in kb.documents()} == {"n1", "n2", "n3"}


def test_remove_unknown_target_removes_nothing(reports):
    before = reports.stats().passages
    with pytest.raises(DocumentNotFoundError) as e:
        reports.remove(["yunnan-2026", "no-such-thing"])
    assert e.value.code == "document_not_found"
    assert reports.stats().passages == before
    result = CliRunner().invoke(main, ["remove", "no-such-thing"])
    assert result.exit_code == 2 and "kb docs" in result.stderr


def test_remove_cli(reports):
    out = cli("remove", "zhejiang-2026", "reports/sichuan-2026.txt").stdout
    assert out.startswith("Removed 2 documents, 13 passages (2 files no longer indexed); the index holds 4 documents")
    data = json.loads(cli("remove", "guizhou-2026", "--json").stdout)
    assert data["documents"] == ["guizhou-2026"] and data["passages"] == 6 and data["total_documents"] == 3


# --- watch ------------------------------------------------------------------------------------------


def _reader_thread(stream, lines: "queue.Queue[str]") -> threading.Thread:
    def pump():
        for line in iter(stream.readline, ""):
            lines.put(line.rstrip("\n"))

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return t


def _wait_for(lines: "queue.Queue[str]", needle: str, seen: list, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} within {timeout} s; saw: {seen}")


def test_watch_as_a_real_process(tmp_path):
    docs = write_tree(tmp_path / "docs", {"a.txt": "甲文件\n推进户籍制度改革。\n"})
    index = tmp_path / "watch-index"
    proc = subprocess.Popen([sys.executable, "-m", "kb", "--index", str(index), "watch", str(docs),
                             "--debounce", "0.2"], cwd=tmp_path, env=kb_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")
    lines: queue.Queue = queue.Queue()
    _reader_thread(proc.stdout, lines)
    errors: queue.Queue = queue.Queue()
    err_pump = _reader_thread(proc.stderr, errors)  # drained as it comes, so a full pipe never blocks kb
    seen: list = []
    try:
        _wait_for(lines, "added docs/a.txt (1 document, 1 passage)", seen)
        _wait_for(lines, "Watching", seen)
        (docs / "b.txt").write_text("乙文件\n深化宅基地制度改革。\n稳慎推进试点。\n", "utf-8")
        _wait_for(lines, "added docs/b.txt (1 document, 1 passage)", seen)
        (docs / "a.txt").write_text("甲文件\n推进户籍制度改革，放开落户限制。\n", "utf-8")
        _wait_for(lines, "updated docs/a.txt", seen)
        (docs / "bad.txt").write_bytes(b"\xff\xfe\x00\xd8\x00")  # a UTF-16 BOM, then a broken surrogate
        _wait_for(lines, "skipped docs/bad.txt", seen)
        (docs / "b.txt").unlink()
        _wait_for(lines, "removed docs/b.txt", seen)
        with KnowledgeBase(index) as kb:
            assert {d.id for d in kb.documents()} == {"a"}, "the index followed every change"
            assert "落户" in kb.get("a#1").text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)  # a hang guard only
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    err_pump.join(timeout=60)  # until the end of the stream
    err = "\n".join(errors.get() for _ in range(errors.qsize()))
    assert proc.returncode == 0, err
    assert "Stopped watching." in err and "Traceback" not in err


def test_watch_stops_on_sigterm(tmp_path):
    docs = write_tree(tmp_path / "docs", {"a.txt": "甲文件\n推进户籍制度改革。\n"})
    proc = subprocess.Popen([sys.executable, "-m", "kb", "--index", str(tmp_path / "i"), "watch", str(docs)],
                            cwd=tmp_path, env=kb_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8")
    lines: queue.Queue = queue.Queue()
    _reader_thread(proc.stdout, lines)
    _wait_for(lines, "Watching", [])
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert "Stopped watching." in proc.stderr.read()


def test_watch_through_the_api(tmp_path):
    docs = write_tree(tmp_path / "docs", {"a.txt": "甲文件\n推进户籍制度改革。\n"})
    kb = KnowledgeBase(tmp_path / "api-index")
    stop = threading.Event()
    runs: queue.Queue = queue.Queue()

    def consume():
        for summary in kb.watch([docs], debounce=0.1, stop=stop):
            runs.put(summary)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    first = runs.get(timeout=60)
    assert first.indexed == 1 and [c.action for c in first.changes] == ["added"]
    time.sleep(0.5)  # let the watcher start before the change
    (docs / "c.txt").write_text("丙文件\n完善户籍迁移政策。\n", "utf-8")
    second = runs.get(timeout=60)
    assert [(Path(c.path).name, c.action) for c in second.changes] == [("c.txt", "added")]
    stop.set()
    t.join(timeout=60)
    assert not t.is_alive(), "setting the stop event ends the watch"
    kb.close()


def test_watch_refuses_a_missing_path(tmp_path):
    result = CliRunner().invoke(main, ["watch", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


# --- python -m kb, --version, completion --------------------------------------------------------------


def test_python_dash_m_kb_and_version(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kb", "--version"], env=kb_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"kb, version {__version__}"
    assert CliRunner().invoke(main, ["--version"]).stdout.strip() == f"kb, version {__version__}"
    proc = subprocess.run([sys.executable, "-m", "kb", "--index", str(tmp_path / "none"), "docs"], env=kb_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "kb index" in proc.stderr


@pytest.mark.parametrize("shell,marker", [("bash", "complete -o nosort -F"), ("zsh", "compdef"),
                                          ("fish", "complete --no-files --command kb")])
def test_shell_completion_scripts(shell, marker):
    env = kb_env(_KB_COMPLETE=f"{shell}_source")
    proc = subprocess.run([sys.executable, "-m", "kb"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and marker in proc.stdout


def test_completion_of_commands():
    env = kb_env(_KB_COMPLETE="bash_complete", COMP_WORDS="kb se", COMP_CWORD="1")
    proc = subprocess.run([sys.executable, "-m", "kb"], env=env, capture_output=True, text=True, timeout=60)
    assert "plain,search" in proc.stdout.splitlines()
