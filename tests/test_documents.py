"""Documents as units: the list, filters on it, one document's outline and text."""

from __future__ import annotations

import pytest

from kb import DocumentNotFoundError

from conftest import SEED_ID


def test_documents_lists_each_document_once_with_a_relative_path(seed_kb):
    docs = seed_kb.documents()
    assert [d.id for d in docs] == [SEED_ID]
    d = docs[0]
    assert d.passages == 10 and d.date == "2020-12-01" and d.source == "新华网"
    assert d.path == f"{SEED_ID}.txt", "paths are relative to the indexed root, never absolute"


def test_documents_take_the_search_filters(seed_kb):
    assert [d.id for d in seed_kb.documents(topic="rural-land")] == [SEED_ID]
    assert seed_kb.documents(since="2021") == ()
    assert seed_kb.documents(section="没有这个章节") == ()


def test_document_outline_and_text(seed_kb):
    d = seed_kb.document(SEED_ID, text=True)
    sections = [e.section for e in d.outline]
    assert sections[0] == "导语" and "促进城乡基础设施一体化发展" in sections
    assert sum(len(e.passages) for e in d.outline) == d.passages == 10
    assert d.outline[1].passages == (f"{SEED_ID}#6",)
    assert "§ 促进城乡基础设施一体化发展" in d.text and "户籍" in d.text


def test_unknown_document(seed_kb):
    with pytest.raises(DocumentNotFoundError) as e:
        seed_kb.document("no-such-doc")
    assert e.value.code == "document_not_found"
