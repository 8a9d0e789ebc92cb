"""Users' own vocabulary: where it lives, checking it, and when each kind of entry takes effect."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

from conftest import ROOT, bump_mtime, write_tree
from kb import KnowledgeBase
from kb.cli import main
from kb.text.segment import set_user_words

PROVINCES = ROOT / "tests" / "data" / "provinces"


@pytest.fixture(autouse=True)
def _package_words_only():
    """The segmenter is process-global: every test starts and ends with no users' words."""
    set_user_words(())
    yield
    set_user_words(())


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A research folder: reports/, index/ and lexicon/ side by side; cwd is the folder."""
    shutil.copytree(PROVINCES, tmp_path / "reports")
    (tmp_path / "lexicon").mkdir()
    monkeypatch.setenv("KB_INDEX", str(tmp_path / "index"))
    monkeypatch.delenv("KB_LEXICON", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def term_count(kb, word: str) -> int:
    """Live passages holding ``word`` as an index term (Whoosh's term statistics still count deleted ones)."""
    from whoosh import query as wq

    with kb._readers().view() as view:
        return len(list(view.reader._s.docs_for_query(wq.Term("text", word))))


# --- where the files live -----------------------------------------------------------------------------


def test_the_lexicon_folder_beside_the_index_is_read(project):
    (project / "lexicon" / "glossary.tsv").write_text("computing power\t算力\n", "utf-8")
    kb = KnowledgeBase(project / "index")
    kb.index([project / "reports"])
    assert kb.lexicon.folders == ((project / "lexicon").absolute(),)
    assert {h.doc_id for h in kb.search("computing power")} == {"guizhou-2026"}
    kb.close()


def test_lexicon_option_and_environment(project, tmp_path_factory, monkeypatch):
    other = tmp_path_factory.mktemp("field-vocab")
    (other / "glossary.tsv").write_text("computing power\t算力\n", "utf-8")
    cli("index", project / "reports")
    assert "No passages" in cli("search", "computing power", "--no-expand").stdout
    assert "guizhou-2026#4" in cli("--lexicon", other, "search", "computing power").stdout
    monkeypatch.setenv("KB_LEXICON", str(other))
    assert KnowledgeBase().lexicon.folders == (other,)
    assert "guizhou-2026#4" in cli("search", "computing power").stdout


def test_index_never_reads_the_vocabulary_as_documents(project):
    (project / "lexicon" / "synonyms.txt").write_text("户籍 户口\n", "utf-8")
    (project / "lexicon" / "words.txt").write_text("抢滩占先\n", "utf-8")
    kb = KnowledgeBase(project / "index")
    summary = kb.index([project])  # the whole folder: reports and lexicon
    assert all("lexicon" not in c.path for c in summary.changes)
    assert summary.total_documents == 6
    kb.close()


# --- glossary, synonyms, topics: the next search ------------------------------------------------------


def test_glossary_and_synonyms_take_effect_on_the_next_search(project):
    kb = KnowledgeBase(project / "index")
    kb.index([project / "reports"])
    assert all(e.origin != "glossary" for e in kb.search("computing hub").expanded)
    assert {h.doc_id for h in kb.search("算力", limit=50)} == {"guizhou-2026"}
    (project / "lexicon" / "glossary.tsv").write_text("computing hub\t枢纽节点\n", "utf-8")
    (project / "lexicon" / "synonyms.txt").write_text("算力 大数据\n", "utf-8")
    hits = kb.search("computing hub")
    assert ("computing hub", "枢纽节点", "glossary") in {(e.query, e.term, e.origin) for e in hits.expanded}
    assert hits[0].doc_id == "guizhou-2026" and "<mark>枢纽节点</mark>" in hits[0].snippet
    assert {h.doc_id for h in kb.search("算力", limit=50)} == {"guizhou-2026"}
    assert any(e.term == "大数据" and e.origin == "synonym" for e in kb.search("算力").expanded)
    (project / "lexicon" / "glossary.tsv").unlink()
    assert all(e.origin != "glossary" for e in kb.search("computing hub").expanded), "removing takes effect too"
    kb.close()


def test_new_topics_are_tagged_by_the_next_index_run(project):
    kb = KnowledgeBase(project / "index")
    kb.index([project / "reports"])
    topic = {"slug": "computing", "en": "computing power", "zh": "算力", "terms": ["算力", "大数据"]}
    (project / "lexicon" / "topics.json").write_text(json.dumps({"topics": [topic]}, ensure_ascii=False), "utf-8")
    assert "computing" in {t.slug for t in kb.topics()}, "the topic is known at once"
    assert kb.search("topic:computing").total == 0, "passages are tagged when indexed"
    summary = kb.index([project / "reports"])
    assert summary.retagged == 1 and summary.reanalysed == 0 and summary.passages == 0
    assert {h.id for h in kb.search("topic:computing", limit=50)} == {"guizhou-2026#2", "guizhou-2026#4"}
    # Changing the topic's terms re-tags only what changes; removing it clears the tags.
    topic["terms"] = ["算力"]
    (project / "lexicon" / "topics.json").write_text(json.dumps({"topics": [topic]}, ensure_ascii=False), "utf-8")
    summary = kb.index([project / "reports"])
    assert summary.retagged == 1
    assert {h.id for h in kb.search("topic:computing", limit=50)} == {"guizhou-2026#4"}
    assert kb.index([project / "reports"]).retagged == 0, "nothing changed, nothing re-tagged"
    kb.close()


# --- segmentation words: old documents are indexed again -------------------------------------------


def test_new_segmentation_words_reach_documents_already_indexed(project):
    from kb.text.segment import query_words

    assert all(len(query_words(w)) > 1 for w in ("抢滩占先", "高位嫁接")), "the test needs words kb does not know"
    kb = KnowledgeBase(project / "index")
    kb.index([project / "reports"])
    assert term_count(kb, "抢滩占先") == 0 and term_count(kb, "高位嫁接") == 0
    (project / "lexicon" / "words.txt").write_text("# field words\n抢滩占先\n高位嫁接 5000\n", "utf-8")
    result = kb.search("抢滩占先")
    assert result.lexicon_outdated and result.total == 1, "verbatim recall finds it meanwhile"
    assert kb.lexicon_check().pending_words == ("抢滩占先", "高位嫁接")
    summary = kb.index([project / "reports"])
    assert summary.reanalysed == 1 and summary.passages == 0 and summary.unchanged == 6, \
        "only henan-2026 holds either word; no file is read again"
    assert term_count(kb, "抢滩占先") == 1 and term_count(kb, "高位嫁接") == 1
    after = kb.search("抢滩占先")
    assert not after.lexicon_outdated and [h.id for h in after] == ["henan-2026#6"]
    assert kb.lexicon_check().pending_words == ()
    # Removing a word indexes the documents that hold it again, with the package's words.
    (project / "lexicon" / "words.txt").write_text("高位嫁接 5000\n", "utf-8")
    assert kb.index([project / "reports"]).reanalysed == 1
    assert term_count(kb, "抢滩占先") == 0 and term_count(kb, "高位嫁接") == 1
    assert kb.index([project / "reports"]).reanalysed == 0
    kb.close()


def test_words_apply_to_documents_outside_the_paths_of_the_run(project):
    """Re-analysis reads the stored passages, so it needs neither the files nor the paths they were indexed from."""
    kb = KnowledgeBase(project / "index")
    kb.index([project / "reports"])
    extra = write_tree(project / "extra", {"note.txt": "说明\n推动新兴产业抢滩占先。\n"})
    kb.index([extra])
    shutil.rmtree(project / "reports")
    (project / "lexicon" / "words.txt").write_text("抢滩占先\n", "utf-8")
    summary = kb.index([extra])
    assert summary.reanalysed == 2, "henan-2026 (file gone, outside the run's paths) and note"
    assert term_count(kb, "抢滩占先") == 2
    kb.close()


def test_words_in_a_fresh_multi_process_build(project):
    from kb.engine import default_engine
    from kb.indexer import run_index

    (project / "lexicon" / "words.txt").write_text("抢滩占先\n", "utf-8")
    kb = KnowledgeBase(project / "index")
    run_index(kb._store, default_engine(), [project / "reports"], workers=2, lexicon=kb.lexicon)
    assert term_count(kb, "抢滩占先") == 1, "worker processes segment with the users' words"
    assert not kb.search("抢滩占先").lexicon_outdated
    kb.close()


def test_cli_reports_reanalysis_and_outdated_index(project):
    cli("index", "reports")
    (project / "lexicon" / "words.txt").write_text("抢滩占先\n", "utf-8")
    assert "the next `kb index` applies them" in cli("search", "抢滩占先").stderr
    out = cli("index", "reports").stdout
    assert "1 document indexed again for changed segmentation words." in out
    assert "changed since" not in cli("search", "抢滩占先").stderr


# --- kb lexicon check -------------------------------------------------------------------------------


def test_lexicon_check_reports_each_problem_with_its_line(project):
    lex = project / "lexicon"
    (lex / "glossary.tsv").write_text("# comment\nrural land\t农村土地\nno tab here\n宅基地\thomestead\n", "utf-8")
    (lex / "synonyms.txt").write_text("户籍 户口\n孤单\n", "utf-8")
    (lex / "words.txt").write_text("抢滩占先\n算力 many\n，，\n", "utf-8")
    (lex / "topics.json").write_text(
        '{"topics": [\n  {"slug": "ok", "en": "a", "zh": "甲", "terms": ["甲"]},\n'
        '  {"slug": "Bad Slug", "en": "b", "zh": "乙", "terms": ["乙"]},\n'
        '  {"slug": "c", "en": "c", "zh": "丙"}\n]}\n', "utf-8")
    report = KnowledgeBase(project / "index").lexicon_check()
    found = {(os.path.basename(p.path), p.line) for p in report.problems}
    assert found == {("glossary.tsv", 3), ("glossary.tsv", 4), ("synonyms.txt", 2), ("words.txt", 2),
                     ("words.txt", 3), ("topics.json", 3), ("topics.json", 4)}
    assert {(os.path.basename(f.path), f.entries) for f in report.files} == {
        ("glossary.tsv", 1), ("synonyms.txt", 1), ("words.txt", 1), ("topics.json", 1)}
    result = CliRunner().invoke(main, ["lexicon", "check"])
    assert result.exit_code == 1
    assert "glossary.tsv:3: expected an English phrase, a tab" in result.stderr
    assert "swapped" in result.stderr and "7 problems." in result.stdout
    data = json.loads(CliRunner().invoke(main, ["lexicon", "check", "--json"]).stdout)
    assert data["ok"] is False and len(data["problems"]) == 7


def test_lexicon_check_json_syntax_error_and_clean_files(project):
    lex = project / "lexicon"
    (lex / "topics.json").write_text('{"topics": [\n  {"slug": "a",}\n]}', "utf-8")
    (lex / "words.txt").write_bytes("抢滩占先\n".encode("gb18030"))
    report = KnowledgeBase(project / "index").lexicon_check()
    assert {(os.path.basename(p.path), p.line) for p in report.problems} == {("topics.json", 2), ("words.txt", 0)}
    (lex / "topics.json").unlink()
    (lex / "words.txt").write_text("抢滩占先 100\n", "utf-8")
    result = cli("lexicon", "check")
    assert "No problems." in result.stdout and "words     1 entry" in result.stdout
