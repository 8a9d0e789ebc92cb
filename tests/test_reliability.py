"""Crashes and concurrency: real `kb index` processes killed with SIGKILL at chosen points,
two writers at once, searches during a write, one KnowledgeBase shared by threads.

Kill points are the phases a run announces in its phase log (``KB_PHASE_LOG``: the first document
added, the side files written, the engine's commit) where the run also stops itself
(``KB_PAUSE_AT``), or a count of the new files it has made in the index directory. A run is started frozen
(SIGSTOP) and let go in short slices, and the directory is looked at only while it is frozen, so
each kill lands in the phase it names however busy the machine is, rather than after a guessed
delay or a race with a polling loop. Nothing here asserts wall-clock time or counts what happened
"during" a run by luck: where a test needs searches while a writer is mid-run, it holds the
writer frozen at a phase and waits for the searches. The invariants checked afterwards:

* a killed first build leaves either no index (a clear IndexNotFoundError) or a complete one;
* a killed update leaves an index that opens and answers with the old or the new content,
  never a mix and never an error: word search, exact phrases (verbatim recall) and kb.stats()
  all show the same version;
* the next `kb index` finishes the work: the same passages as a from-scratch build.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import (
    CORPUS_MARK,
    SEED_ID,
    bump_mtime,
    kb_cmd,
    kb_env,
    policy_file,
    run_kb,
    snapshot,
    write_tree,
)
from kb import IndexNotFoundError, KnowledgeBase

N_FILES = 30
N_PARAS = 5
CHANGED = range(0, 10)  # rewritten in the new version
ADDED = range(N_FILES, N_FILES + 6)  # new files
REMOVED = range(N_FILES - 4, N_FILES)  # deleted files


def old_files() -> dict[str, str]:
    rng = random.Random(1)
    return {f"doc{i:03d}.txt": policy_file(rng, f"文件{i}", N_PARAS) for i in range(N_FILES)}


def new_files() -> dict[str, str]:
    files = old_files()
    rng = random.Random(2)
    for i in CHANGED:
        files[f"doc{i:03d}.txt"] = policy_file(rng, f"文件{i}修订版", N_PARAS + 1)
    for i in ADDED:
        files[f"doc{i:03d}.txt"] = policy_file(rng, f"新增文件{i}", N_PARAS)
    for i in REMOVED:
        del files[f"doc{i:03d}.txt"]
    return files


def apply_version(src: Path, files: dict[str, str]) -> None:
    """Make ``src`` hold exactly ``files``; every rewritten file gets a visibly newer mtime."""
    src.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if p.name not in files:
            p.unlink()
    for name, text in files.items():
        p = src / name
        if p.exists() and p.read_text("utf-8") == text:
            continue
        existed = p.exists()
        p.write_text(text, encoding="utf-8")
        if existed:
            bump_mtime(p)


@dataclass
class Ref:
    passages: dict
    documents: int
    files: int

    def __repr__(self) -> str:
        return f"Ref({len(self.passages)} passages, {self.documents} documents, {self.files} files)"


def reference(kb: KnowledgeBase) -> Ref:
    st = kb.stats()
    snap = snapshot(kb)
    assert st.passages == len(snap), "the corpus mark must be in every generated passage"
    return Ref(snap, st.documents, st.files)


@dataclass
class Corpus:
    src: Path  # holds the NEW version; read-only for the tests
    old_index: Path  # an index of the OLD version of src (copy it before use)
    old: Ref
    new: Ref


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    base = tmp_path_factory.mktemp("corpus")
    src = base / "src"
    apply_version(src, old_files())
    with KnowledgeBase(base / "old-index") as kb:
        kb.index([src])
        old = reference(kb)
    apply_version(src, new_files())
    with KnowledgeBase(base / "new-index") as kb:
        kb.index([src])
        new = reference(kb)
    assert old.passages.keys() != new.passages.keys()
    return Corpus(src, base / "old-index", old, new)


# --- killing a real `kb index` ------------------------------------------------------------------


def _entries(root: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for n in dirnames + filenames:
            out.add(os.path.normpath(os.path.join(rel, n)))
    return out


ANNOUNCED = ("generation", "adding", "manifest", "commit", "committed")  # phases the run stops itself at


class Watch:
    """Recognises the phases of an index run: from its phase log, or the files that appear in the index directory."""

    def __init__(self, index: Path):
        self.index = index
        self.log = index.parent / f"phases-{time.monotonic_ns()}.log"  # the run's announced phases
        self.before = _entries(index) if index.exists() else set()
        self.seen: set[str] = set()  # every new entry seen so far, including temporary files since removed

    def new(self) -> set[str]:
        new = _entries(self.index) - self.before if self.index.exists() else set()
        self.seen |= new
        return new

    def phase(self, name: str) -> bool:
        new = self.new()
        if name == "lock":  # the run has created the lock file (it is taking or holds the write lock)
            return ".lock" in new
        if name.startswith("files:"):  # the run has written its N-th new file or directory
            return len(self.seen) >= int(name[6:])
        if name in ANNOUNCED:
            # generation: the run took the lock and made its generation directory; adding: it gave the
            # engine its first document (kb's writer builds segments in memory: no file appears yet);
            # manifest: the commit's side files and manifest are written, before the engine commits;
            # commit: the engine is about to switch to the new segments (their files are written);
            # committed: the engine has switched (a rebuild is not yet published).
            return name in self.announced()
        raise ValueError(name)

    def announced(self) -> list[str]:
        try:
            return self.log.read_text("utf-8").split()
        except FileNotFoundError:
            return []


# A frozen run is let go for this long between two looks at its index directory and phase log. A run
# stops itself at every announced phase, so stepping it cannot skip one however busy the machine is (a
# look happens only while the run is frozen); a file count is a point between phases.
SLICE = 0.01


def _is_frozen(pid: int) -> bool:
    """True when ``pid`` is stopped (or already gone), from its state in /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("T", "t", "Z", "X")


def freeze(proc: subprocess.Popen) -> None:
    """Stop the run and every process of its session, and wait until it is really stopped."""
    with _suppress():
        os.killpg(proc.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 60
    while not _is_frozen(proc.pid):
        if time.monotonic() > deadline:
            pytest.fail("the run did not stop on SIGSTOP")
        time.sleep(0.001)


def thaw(proc: subprocess.Popen) -> None:
    with _suppress():
        os.killpg(proc.pid, signal.SIGCONT)


def finish(proc: subprocess.Popen, timeout: float) -> tuple:
    """Let a frozen run go to its end; returns ``communicate()``'s output.

    A run that stops itself at a phase may have been frozen between announcing the phase and
    stopping: its own SIGSTOP then comes after the first SIGCONT. So it is continued until it exits.
    """
    stop = threading.Event()

    def keep_thawing() -> None:
        while not stop.wait(0.2):
            thaw(proc)

    thaw(proc)
    helper = threading.Thread(target=keep_thawing, daemon=True)
    helper.start()
    try:
        return proc.communicate(timeout=timeout)
    finally:
        stop.set()
        helper.join()


def step_until(proc: subprocess.Popen, watch: "Watch", phase: str, timeout: float = 120.0) -> bool:
    """Let a frozen run go in slices of SLICE seconds until ``phase`` is seen (the run is frozen then:
    True) or the run exits (False). ``timeout`` only catches a run that hangs."""
    deadline = time.monotonic() + timeout
    while not watch.phase(phase):
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            pytest.fail(f"kb index did not finish or reach {phase!r} within {timeout:.0f} s")
        thaw(proc)
        time.sleep(SLICE)
        freeze(proc)
    return True


def start_frozen(index: Path, src: Path, *args, watch: Watch, pause=ANNOUNCED, **popen) -> subprocess.Popen:
    """`kb index SRC ARGS` in a session of its own, frozen before it has done any work worth the name
    (it is still starting Python); it announces its phases to ``watch`` and stops itself at ``pause``."""
    proc = subprocess.Popen(kb_cmd(index, "index", src, *args), cwd=index.parent,
                            env=kb_env(KB_PHASE_LOG=str(watch.log), KB_PAUSE_AT=",".join(pause)),
                            start_new_session=True, **popen)
    freeze(proc)
    return proc


def kill_index_run(index: Path, src: Path, point, *, extra=(), must_interrupt: bool = True,
                   timeout: float = 120.0) -> int:
    """Start `kb index SRC`, step it until phase ``point`` (see ``Watch.phase``) is seen and SIGKILL it
    there, while it is frozen; returns the exit status (-9 when killed)."""
    watch = Watch(index)
    err = index.parent / f"kill-{time.monotonic_ns()}.err"
    with open(err, "wb") as ferr:
        proc = start_frozen(index, src, *extra, watch=watch, stdout=subprocess.DEVNULL, stderr=ferr)
    try:
        if step_until(proc, watch, point, timeout):
            if point == "adding":  # a few documents into the segment
                for _ in range(5):
                    thaw(proc)
                    time.sleep(SLICE)
                    freeze(proc)
            with _suppress():
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        with _suppress():  # the run and any helper it has, before it is reaped
            os.killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait(timeout=30)
    if rc != -signal.SIGKILL and must_interrupt:
        pytest.fail(f"the run finished (exit {rc}) before kill point {point!r}; enlarge the corpus. "
                    f"stderr: {err.read_text('utf-8', 'replace')[-2000:]}")
    return rc


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], (ProcessLookupError, PermissionError))


def generations(index: Path) -> list[str]:
    return sorted(p.name for p in index.glob("gen-*"))


PROBES = ("doc000#1", "doc015#1", f"doc{N_FILES:03d}#1", f"doc{N_FILES - 2:03d}#1")  # changed, unchanged, added, removed


def phrase_problems(kb: KnowledgeBase, ref: Ref) -> list[str]:
    """A quoted piece of a passage's text must find that passage (exact phrases use verbatim recall)."""
    problems = []
    for pid in PROBES:
        if pid not in ref.passages:
            continue
        piece = ref.passages[pid][2][2:10]
        found = [h.id for h in kb.search(f'"{piece}"', limit=200, expand=False)]
        if pid not in found:
            problems.append(f'the exact phrase "{piece}" does not find {pid}, whose text contains it')
    return problems


def consistency(kb: KnowledgeBase, allowed: dict[str, Ref]) -> tuple[str, list[str]]:
    """Which allowed version word search shows ("MIX" when none), and how the rest of the API
    (stats(), exact phrases) disagrees with it."""
    snap = snapshot(kb)
    matches = [name for name, ref in allowed.items() if snap == ref.passages]
    if not matches:
        detail = []
        for name, ref in allowed.items():
            missing = ref.passages.keys() - snap.keys()
            extra = snap.keys() - ref.passages.keys()
            changed = [k for k in snap.keys() & ref.passages.keys() if snap[k] != ref.passages[k]]
            detail.append(f"vs {name}: {len(missing)} missing, {len(extra)} extra, {len(changed)} different")
        return "MIX", [f"{len(snap)} passages; " + "; ".join(detail)]
    version = matches[0]
    ref = allowed[version]
    problems = []
    st = kb.stats()
    if st.passages != len(ref.passages):
        problems.append(f"stats().passages is {st.passages}, search finds {len(ref.passages)}")
    docs = {p.split("#")[0] for p in snap}
    if (st.documents, st.files) != (len(docs), ref.files):
        problems.append(f"kb.stats() reports {st.documents} documents in {st.files} files, the index holds "
                        f"{len(docs)} documents from {ref.files} files (the manifest and the Whoosh index disagree)")
    problems += phrase_problems(kb, ref)
    if problems and snapshot(kb) != snap:
        return "switched", []  # the index moved to the other version between these searches
    return version, problems


def assert_consistent(kb: KnowledgeBase, allowed: dict[str, Ref], what: str) -> str:
    """The index answers, with exactly one of the allowed versions, through every kind of search and
    through stats(); returns that version's name."""
    version, problems = consistency(kb, allowed)
    if version == "MIX":
        pytest.fail(f"{what}: the index holds a mix of versions ({problems[0]})")
    if problems:
        pytest.fail(f"{what}: word search shows the {version} version, but " + "; ".join(problems))
    return version


def assert_complete(index: Path, src: Path, ref: Ref, what: str) -> None:
    """The next `kb index` finishes the work: same passages and counts as a from-scratch build."""
    with KnowledgeBase(index) as kb:
        kb.index([src], lock_timeout=20)
        snap = snapshot(kb)
        st = kb.stats()
    assert snap.keys() == ref.passages.keys(), f"{what}: passage ids differ from a from-scratch build"
    assert snap == ref.passages, f"{what}: passage text differs from a from-scratch build"
    assert (st.passages, st.documents, st.files) == (len(ref.passages), ref.documents, ref.files), what
    assert len(generations(index)) == 1, f"{what}: abandoned generations are left behind: {generations(index)}"


# --- first build killed ---------------------------------------------------------------------------

FIRST_BUILD_POINTS = ["generation", "adding", "commit", "committed", "manifest"]


@pytest.mark.parametrize("point", FIRST_BUILD_POINTS)
def test_killed_first_build_leaves_no_index_or_a_complete_one(tmp_path, corpus, point):
    index = tmp_path / "ix"
    rc = kill_index_run(index, corpus.src, point, must_interrupt=point != "manifest")
    kb = KnowledgeBase(index)
    try:
        if rc == 0:
            assert_consistent(kb, {"new": corpus.new}, f"first build (finished before the kill at {point})")
        else:
            with pytest.raises(IndexNotFoundError) as err:
                kb.search(CORPUS_MARK)
            message = str(err.value)
            assert "build one" in message and "\n" not in message and "Traceback" not in message
    finally:
        kb.close()
    assert_complete(index, corpus.src, corpus.new, f"after a first build killed at {point}")


def test_killed_first_build_cli_says_no_index(tmp_path, corpus):
    index = tmp_path / "ix"
    kill_index_run(index, corpus.src, "adding")
    out = run_kb(index, "search", CORPUS_MARK, cwd=tmp_path, timeout=60)
    assert out.returncode == 2, out
    assert out.stderr.startswith("Error: ") and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr
    again = run_kb(index, "index", corpus.src, "--json", cwd=tmp_path, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["indexed"] == len(new_files())
    with KnowledgeBase(index) as kb:
        assert assert_consistent(kb, {"new": corpus.new}, "after `kb index` following a killed first build") == "new"


def test_killed_first_build_at_startup_then_rebuilt(tmp_path, corpus):
    """Killed right after it started, as soon as it created the lock file."""
    index = tmp_path / "ix"
    kill_index_run(index, corpus.src, "lock")
    with KnowledgeBase(index) as kb:
        with pytest.raises(IndexNotFoundError):
            kb.search(CORPUS_MARK)
    assert_complete(index, corpus.src, corpus.new, "after a first build killed at startup")


def test_killing_only_the_main_process_releases_the_write_lock(tmp_path, corpus):
    """The OOM killer kills one process, not its group: any helper process the run started must not
    keep the write lock, so the next `kb index` (waiting at most 20 s) gets it and finishes."""
    index = tmp_path / "ix"
    watch = Watch(index)
    proc = start_frozen(index, corpus.src, watch=watch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert step_until(proc, watch, "adding"), "the run finished before it started writing"
        os.kill(proc.pid, signal.SIGKILL)  # the main process only
        thaw(proc)  # helpers, if any, run on as they would after the OOM killer
        assert proc.wait(timeout=30) == -signal.SIGKILL, "the run finished before it could be killed"
        again = run_kb(index, "index", corpus.src, "--wait", "20", cwd=tmp_path, timeout=120)
        assert again.returncode == 0, again.stderr
    finally:
        with _suppress():
            os.killpg(proc.pid, signal.SIGKILL)  # helpers left behind, if any
    with KnowledgeBase(index) as kb:
        assert_consistent(kb, {"new": corpus.new}, "after the main process alone was killed")


# --- update killed ----------------------------------------------------------------------------------

UPDATE_POINTS = ["adding", "commit", "committed", "manifest"]


def old_index_copy(corpus: Corpus, tmp_path: Path) -> Path:
    index = tmp_path / "ix"
    shutil.copytree(corpus.old_index, index)
    return index


@pytest.mark.parametrize("point", UPDATE_POINTS)
def test_killed_update_answers_old_or_new_then_completes(tmp_path, corpus, point):
    index = old_index_copy(corpus, tmp_path)
    kill_index_run(index, corpus.src, point, must_interrupt=point != "manifest")
    with KnowledgeBase(index) as kb:
        assert_consistent(kb, {"old": corpus.old, "new": corpus.new}, f"update killed at {point}")
    assert_complete(index, corpus.src, corpus.new, f"after an update killed at {point}")


@pytest.mark.parametrize("point", ["adding", "commit", "committed"])
def test_killed_rebuild_keeps_the_previous_index(tmp_path, corpus, point):
    index = old_index_copy(corpus, tmp_path)
    kill_index_run(index, corpus.src, point, extra=["--rebuild"])
    with KnowledgeBase(index) as kb:
        assert assert_consistent(kb, {"old": corpus.old, "new": corpus.new}, f"rebuild killed at {point}") == "old"
    assert_complete(index, corpus.src, corpus.new, f"after a rebuild killed at {point}")


def test_update_killed_at_successive_files(tmp_path, corpus):
    """Kill the same update when the N-th new file of the run appears in the index directory, for N
    spread over the files an update writes (postings, recall file and manifest, columns, the table of
    contents, the pinyin map): points between the named phases, found without a clock."""
    seen = []
    for n in (1, 3, 5, 7, 9, 11, 13, 14):
        index = old_index_copy(corpus, tmp_path / f"n{n}")
        rc = kill_index_run(index, corpus.src, f"files:{n}", must_interrupt=False)
        with KnowledgeBase(index) as kb:
            seen.append((n, rc, assert_consistent(kb, {"old": corpus.old, "new": corpus.new},
                                                  f"update killed at its file number {n}")))
    assert seen[0][1] == -signal.SIGKILL, f"the kill at the run's first file must land mid-run: {seen}"
    assert_complete(index, corpus.src, corpus.new, "after the last killed update")


def test_crash_after_commit_then_files_reverted(tmp_path):
    """An update is killed after Whoosh committed but before the manifest was written; the user then
    restores the previous files (git checkout). The next run must index what is on disk now."""
    src = tmp_path / "src"
    apply_version(src, old_files())
    index = tmp_path / "ix"
    with KnowledgeBase(index) as kb:
        kb.index([src])
        old = reference(kb)
    apply_version(src, new_files())
    kill_index_run(index, src, "committed")
    apply_version(src, old_files())  # revert: changed files rewritten, removed files restored
    with KnowledgeBase(index) as kb:
        kb.index([src], lock_timeout=20)
        snap = snapshot(kb)
    missing = sorted({k.split("#")[0] for k in old.passages.keys() - snap.keys()})
    stale = sorted({k.split("#")[0] for k, v in snap.items() if old.passages.get(k) != v})
    assert snap == old.passages, (
        f"after the revert the index must hold the files on disk; documents missing from the index: {missing}; "
        f"documents with stale or extra passages: {stale}"
    )


# --- two writers ------------------------------------------------------------------------------------


def _wait_for(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.002)


def _holds_open(pid: int, path: Path) -> bool:
    """True when process ``pid`` has ``path`` open (read from /proc, so no timing is involved)."""
    target = str(path.resolve())
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def test_second_writer_waits_or_gives_up_with_one_line(tmp_path, corpus):
    """A holds the write lock (frozen with SIGSTOP right after taking it); B with --wait 0.5 gives up
    with exit code 2 and one line; C with --wait 60 waits (it has the lock file open while A, frozen,
    holds the lock), then runs once A is done."""
    index = tmp_path / "ix"
    env = kb_env()
    watch = Watch(index)
    a = start_frozen(index, corpus.src, "--json", watch=watch, pause=("generation",), stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
    c = None
    try:
        assert step_until(a, watch, "generation"), "the first run ended before it could be paused"
        # The timeout catches a writer that waits forever instead of giving up after --wait.
        b = subprocess.run(kb_cmd(index, "index", corpus.src, "--wait", "0.5"), cwd=tmp_path, env=env,
                           capture_output=True, text=True, encoding="utf-8", timeout=60)
        assert b.returncode == 2, (b.returncode, b.stdout, b.stderr)
        assert b.stderr.startswith("Error: ") and b.stderr.count("\n") == 1, b.stderr
        assert "Traceback" not in b.stderr and "corrupt" not in b.stderr.lower(), b.stderr
        c = subprocess.Popen(kb_cmd(index, "index", corpus.src, "--json", "--wait", "60"), cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        _wait_for(lambda: _holds_open(c.pid, index / ".lock") or c.poll() is not None, 60,
                  "the second writer to reach the lock")
        assert c.poll() is None, "the second writer must wait for the lock while the first holds it"
        out_a, err_a = finish(a, 60)
        assert a.returncode == 0, err_a
        out_c, err_c = c.communicate(timeout=60)
        assert c.returncode == 0, err_c
    finally:
        for p in (a, c):
            if p is not None and p.poll() is None:
                with _suppress():
                    os.kill(p.pid, signal.SIGCONT)
                p.kill()
                p.wait(timeout=30)
    first, second = json.loads(out_a), json.loads(out_c)
    assert first["indexed"] == second["files"] == second["unchanged"] == len(new_files())
    assert second["indexed"] == second["updated"] == second["removed"] == 0
    with KnowledgeBase(index) as kb:
        assert assert_consistent(kb, {"new": corpus.new}, "after two writers") == "new"
    assert len(generations(index)) == 1


def test_two_writers_started_together_both_succeed(tmp_path, corpus):
    index = tmp_path / "ix"
    env = kb_env()
    procs = [subprocess.Popen(kb_cmd(index, "index", corpus.src, "--json", "--wait", "60"), cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            outs.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    assert sorted(o["indexed"] for o in outs) == [0, len(new_files())]
    with KnowledgeBase(index) as kb:
        assert_consistent(kb, {"new": corpus.new}, "after two concurrent writers")
    assert len(generations(index)) == 1


# --- searching while a run writes ---------------------------------------------------------------------


class SearchLoop(threading.Thread):
    """Searches one shared KnowledgeBase in a loop and classifies every answer."""

    def __init__(self, kb: KnowledgeBase, versions: dict[str, Ref]):
        super().__init__(daemon=True)
        self.kb = kb
        self.versions = versions
        self.stop = threading.Event()
        self.seen: list[str] = []
        self.errors: list[str] = []

    def answered(self) -> int:
        """Searches finished so far, with or without an error."""
        return len(self.seen) + len(self.errors)

    def run(self):
        while not self.stop.is_set():
            try:
                version, problems = consistency(self.kb, self.versions)
                self.seen.append(f"MIX ({version}: {problems[0][:80]})" if problems else version)
            except Exception as e:  # noqa: BLE001 - every exception is a failure here
                self.errors.append(f"{type(e).__name__}: {e}")
            time.sleep(0.002)


def cli_snapshot(index: Path, cwd: Path) -> dict:
    out = run_kb(index, "search", CORPUS_MARK, "--json", "--no-expand", "-n", "10000", cwd=cwd, timeout=60)
    assert out.returncode == 0, out.stderr
    return {h["id"]: (h["title"], h["section"], h["text"]) for h in json.loads(out.stdout)["hits"]}


@pytest.mark.parametrize("mode", ["update", "rebuild"])
def test_searches_answer_during_an_index_run(tmp_path, corpus, mode):
    """API searches in a loop and CLI searches at three phases (the writer frozen there with
    SIGSTOP so each phase is really observed, and the API loop made to search there too) all
    succeed with the old or the new content; when the run is done the same KnowledgeBase sees
    the new content."""
    index = old_index_copy(corpus, tmp_path)
    versions = {"old": corpus.old, "new": corpus.new}
    kb = KnowledgeBase(index)
    loop = SearchLoop(kb, versions)
    loop.start()
    watch = Watch(index)
    extra = ["--rebuild"] if mode == "rebuild" else []
    writer = start_frozen(index, corpus.src, *extra, watch=watch, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cli_seen = []
    cli_loop: list[str] = []
    writer_done = threading.Event()

    def cli_searches() -> None:  # `kb search` processes, one after another, for as long as the run lasts
        while not writer_done.is_set():
            try:
                snap = cli_snapshot(index, tmp_path)
                cli_loop.append(next((n for n, r in versions.items() if r.passages == snap), "MIX"))
            except BaseException as e:  # noqa: BLE001 - an assertion from cli_snapshot included
                cli_loop.append(f"ERROR {type(e).__name__}: {str(e)[:200]}")

    cli_thread = threading.Thread(target=cli_searches, daemon=True)
    cli_thread.start()
    try:
        for phase in ("adding", "commit", "committed"):
            if not step_until(writer, watch, phase):  # the writer is frozen at the phase
                break
            # Two more answers: the second one started while the writer was frozen at this phase.
            target = loop.answered() + 2
            _wait_for(lambda: loop.answered() >= target or not loop.is_alive(), 60,
                      f"the search loop to answer at phase {phase}")
            snap = cli_snapshot(index, tmp_path)
            version = next((n for n, r in versions.items() if r.passages == snap), "MIX")
            api_version, problems = consistency(kb, versions)  # the writer is frozen: no switch now
            if api_version != version:
                problems.append(f"the API shows the {api_version} version, the CLI the {version} version")
            cli_seen.append((phase, version, problems))
        _wait_for(lambda: len(cli_loop) >= 1, 60, "a `kb search` process to answer during the run")
        _, err = finish(writer, 120)
        assert writer.returncode == 0, err
    finally:
        writer_done.set()
        loop.stop.set()
        loop.join(timeout=30)
        cli_thread.join(timeout=60)
        if writer.poll() is None:
            thaw(writer)
            writer.kill()
            writer.wait(timeout=30)
    try:
        assert not loop.errors, f"{len(loop.errors)} searches failed during the run, e.g. {loop.errors[:3]}"
        assert loop.answered() >= 2 * len(cli_seen), "the search loop answered at every phase"
        assert cli_loop and all(v in ("old", "new") for v in cli_loop), cli_loop
        assert len(cli_seen) == 3 and all(v in ("old", "new") for _p, v, _x in cli_seen), cli_seen
        assert not [x for x in cli_seen if x[2]], f"with the writer paused, searches disagree: {cli_seen}"
        mixed = [v for v in loop.seen if v.startswith("MIX")]
        assert not mixed, f"{len(mixed)} of {len(loop.seen)} searches saw a mix of old and new content: {set(mixed)}"
        assert assert_consistent(kb, versions, "after the run") == "new", "the open KnowledgeBase sees the new content"
    finally:
        kb.close()
    assert cli_snapshot(index, tmp_path) == corpus.new.passages


# --- threads sharing one KnowledgeBase -----------------------------------------------------------------

THREAD_QUERIES = [
    dict(query="户籍"),
    dict(query="household registration"),
    dict(query="huji"),
    dict(query="rural land reform", limit=3),
    dict(query='"城乡融合发展"'),
    dict(query="(户籍 OR 落户) 改革 -产业"),
    dict(query="宅基地", section="人地钱"),
    dict(query="发展", doc=SEED_ID, limit=20),
    dict(query="落户", topic="household-registration"),
    dict(query="城镇化", since="2020", until="2020-12-31", context=1),
    dict(query="户藉", correct=True),
    dict(query="戶籍"),
]


def _result_view(result) -> tuple:
    return (result.query, result.total, result.suggestion, result.corrected,
            tuple((e.query, e.term, e.origin) for e in result.expanded),
            tuple((h.id, h.score, h.snippet, h.highlights, tuple(c.id for c in h.context)) for h in result))


def test_threads_share_one_knowledgebase(seed_kb):
    serial = [_result_view(seed_kb.search(**q)) for q in THREAD_QUERIES]
    errors: list[str] = []
    mismatches: list[str] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        rng = random.Random(n)
        try:
            start.wait(timeout=30)
            for _round in range(4):
                order = list(range(len(THREAD_QUERIES)))
                rng.shuffle(order)
                for i in order:
                    got = _result_view(seed_kb.search(**THREAD_QUERIES[i]))
                    if got != serial[i]:
                        mismatches.append(f"thread {n}: {THREAD_QUERIES[i]}")
        except Exception as e:  # noqa: BLE001
            errors.append(f"thread {n}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a search thread hung"
    assert not errors, errors[:5]
    assert not mismatches, mismatches[:5]


COLD_THREADS = r"""
import json, sys, threading
from kb import KnowledgeBase
queries = json.loads(sys.argv[2])
kb = KnowledgeBase(sys.argv[1])
def view(r):
    return [r.total, r.suggestion, [[e.term, e.origin] for e in r.expanded],
            [[h.id, h.score, h.snippet] for h in r]]
start = threading.Barrier(8)
got = {}
errors = []
def worker(n):
    try:
        start.wait()
        got[n] = [view(kb.search(**q)) for q in queries]
    except Exception as e:
        errors.append(f"{type(e).__name__}: {e}")
threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
serial = [view(kb.search(**q)) for q in queries]
print(json.dumps({"errors": errors, "same": [got.get(n) == serial for n in range(8)]}))
"""


def test_threads_in_a_fresh_process_agree_with_serial_results(seed_kb, tmp_path):
    """Eight threads search first thing in a new interpreter, so the lazy loading of the
    segmenter, OpenCC, the glossary, CC-CEDICT and the pinyin map happens concurrently."""
    out = subprocess.run([sys.executable, "-c", COLD_THREADS, str(seed_kb.path), json.dumps(THREAD_QUERIES)],
                         cwd=tmp_path, env=kb_env(), capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["errors"] == []
    assert result["same"] == [True] * 8


REBUILD_LOOP = r"""
import sys
from kb import KnowledgeBase
with KnowledgeBase(sys.argv[1]) as kb:
    for _ in range(int(sys.argv[3])):
        if not sys.stdin.readline():  # the test says when to rebuild again
            break
        kb.index([sys.argv[2]], rebuild=True)
        print("rebuilt", flush=True)
"""
REBUILDS = 30


def _read_line(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    """The next line ``proc`` prints ("" when it exits); the timeout only catches a hang."""
    import select

    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        pytest.fail(f"the rebuilding process printed nothing for {timeout:.0f} s")
    return proc.stdout.readline()


def test_searches_survive_repeated_rebuilds(tmp_path):
    """A real process rebuilds a small index 30 times (each rebuild publishes a new generation and
    deletes the old one) while two threads search: one through a shared KnowledgeBase, one opening
    a new KnowledgeBase per search as each `kb search` process does. Every search must answer.

    The rebuilds and the searches interleave by handshake, not by timing: before each rebuild,
    each thread has finished two more searches, so each thread searches every generation."""
    src = write_tree(tmp_path / "src", {"a.txt": "小文件\n户籍制度改革持续推进，落户门槛进一步降低。\n"})
    index = tmp_path / "ix"
    with KnowledgeBase(index) as kb:
        kb.index([src])
    shared = KnowledgeBase(index)
    stop = threading.Event()
    errors: list[str] = []
    answered = [0, 0]

    def search(n: int) -> None:
        while not stop.is_set():
            kb = shared if n == 0 else KnowledgeBase(index)
            try:
                hits = kb.search("户籍", expand=False)
                if [h.id for h in hits] != ["a#1"]:
                    errors.append(f"thread {n}: wrong hits {[h.id for h in hits]}")
            except Exception as e:  # noqa: BLE001
                errors.append(f"thread {n}: {type(e).__name__}: {e}")
            finally:
                answered[n] += 1
                if kb is not shared:
                    kb.close()

    threads = [threading.Thread(target=search, args=(n,), daemon=True) for n in (0, 1)]
    for t in threads:
        t.start()
    proc = subprocess.Popen([sys.executable, "-c", REBUILD_LOOP, str(index), str(src), str(REBUILDS)], cwd=tmp_path,
                            env=kb_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        for i in range(REBUILDS):
            target = [a + 2 for a in answered]
            _wait_for(lambda: all(a >= t for a, t in zip(answered, target)), 60, f"searches before rebuild {i + 1}")
            proc.stdin.write("go\n")
            proc.stdin.flush()
            line = _read_line(proc)
            assert line == "rebuilt\n", f"rebuild {i + 1} did not finish: {line!r} {proc.stderr.read()[-2000:]}"
        proc.stdin.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 0, err
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        shared.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert min(answered) >= 2 * REBUILDS, answered
    assert not errors, f"{len(errors)} of {sum(answered)} searches failed during rebuilds, e.g. {errors[:3]}"
