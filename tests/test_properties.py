"""Property-based tests (hypothesis): queries, chunking, tokenization and normalisation."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from conftest import SEED, SEED_ID, count_matchers, write_tree
from kb import KnowledgeBase, QueryError
from kb.text import normalize
from kb.text.segment import word_tokens
from kb.chunking import MAX_PASSAGE_CHARS, chunk
from kb.models import Document
from kb.readers import line_blocks
from kb.readers.markdown import markdown_blocks

PROFILE = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
# The most leaf matchers one generated query (at most 80 characters or 14 syntax pieces) may make the
# engine build: the work guard that replaces a stopwatch. Generated queries build at most about 150 on
# the seed; a blow-up such as one word repeated 666 times built thousands.
MATCHER_BUDGET = 2_000


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory):
    base = tmp_path_factory.mktemp("props")
    src = write_tree(base / "seeds", {SEED.name: SEED.read_bytes()})
    kb = KnowledgeBase(base / "ix")
    kb.index([src])
    kb.search("户籍")
    yield kb
    kb.close()


def _search(kb: KnowledgeBase, query: str) -> None:
    with count_matchers() as work:
        try:
            result = kb.search(query)
        except QueryError as e:
            msg = str(e)
            assert msg and "\n" not in msg, msg
        except Exception as e:  # noqa: BLE001 - reported briefly
            pytest.fail(f"{type(e).__name__} instead of hits or QueryError: {str(e)[:300]}")
        else:
            assert result.total >= len(result)
            for hit in result:
                for s, e in hit.highlights:
                    assert 0 <= s < e <= len(hit.text)
    assert work.matchers <= MATCHER_BUDGET, f"{query!r} made the engine build {work.matchers} matchers"


# --- queries ----------------------------------------------------------------------------------------------

@settings(max_examples=200, **PROFILE)
@given(st.text(max_size=80))
@example("")
@example("(" * 40 + "户籍" + ")" * 40)
@example('section:"')
@example("户籍 -")
def test_any_text_query_gives_hits_or_query_error(seed_index, query):
    _search(seed_index, query)


SYNTAX = st.sampled_from(["AND", "OR", "NOT", "-", "(", ")", '"', "section:", "doc:", "topic:", "title:", "*", "?",
                          ":", "户籍", "落户", "household", "registration", "huji", "rural", "land", "改革", "𪚥", "😀",
                          "topic:household-registration", "戶籍", "ｈｕｊｉ", "\t", "\x00", "2020年"])


@settings(max_examples=200, **PROFILE)
@given(st.lists(SYNTAX, max_size=14), st.sampled_from([" ", ""]))
def test_query_syntax_soup_gives_hits_or_query_error(seed_index, parts, sep):
    _search(seed_index, sep.join(parts))


@settings(max_examples=50, **PROFILE)
@given(st.lists(st.one_of(st.characters(categories=["Cs"]), st.sampled_from(["户籍", "改革", " ", "huji", "(", ")"])),
                min_size=1, max_size=12).map("".join))
def test_queries_with_lone_surrogates_give_hits_or_query_error(seed_index, query):
    """`kb search` receives lone surrogates when argv holds bytes that are not UTF-8."""
    _search(seed_index, query)


SEED_TEXT = SEED.read_text("utf-8")
PIECE_OF_ID = st.builds(lambda a, n: SEED_ID[a:a + n], st.integers(0, len(SEED_ID) - 1), st.integers(1, 14))
PIECE_OF_TEXT = st.builds(lambda a, n: SEED_TEXT[a:a + n], st.integers(0, len(SEED_TEXT) - 1), st.integers(1, 8))


@settings(max_examples=100, **PROFILE)
@given(PIECE_OF_ID | PIECE_OF_TEXT | st.text(max_size=5))
@example("2020-12-01")
@example("-")
@example("0\x08")  # found by a random run: \x08 is a space in a query
def test_exact_phrase_hits_contain_the_phrase(seed_index, piece):
    """Every passage an exact phrase finds contains it (in its text or section), whatever the phrase."""
    assume(piece.strip() and '"' not in piece)
    # A query's control characters become spaces and its zero-width characters are dropped (see the
    # hostile-query tests), so a phrase holding one is not searched as that exact string.
    assume(not any(unicodedata.category(c) in ("Cc", "Cf") for c in piece))
    try:
        result = seed_index.search(f'"{piece}"', expand=False, limit=50)
    except QueryError:
        return
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"{type(e).__name__} instead of hits or QueryError: {str(e)[:300]}")
    needle = normalize(piece).strip()
    wrong = [h.id for h in result if needle not in normalize(h.text) and needle not in normalize(h.section)]
    assert not wrong, f'"{piece}" finds passages that do not contain it: {wrong[:5]}'


# --- chunking ---------------------------------------------------------------------------------------------

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
PIECES = st.one_of(
    st.text(CJK, min_size=1, max_size=30),
    st.text(st.characters(categories=["Lu", "Ll", "Nd"], max_codepoint=0x7F), min_size=1, max_size=10),
    st.sampled_from(list("。！？；，、：“”‘’（）《》—…!?;,.:() \u3000\t\n") + ["\n\n", "\r\n", " \n", "\ufeff"]),
    st.sampled_from(["第一章 总则\n", "第二节 ", "第十条 ", "第三条之一 ", "一、", "（二）", "(3)", "1.", "2、", "# ", "## ",
                     "——", "\n第五编\n", "责任编辑", "𠀀", "𪚥"]),
)
DOC_TEXT = st.lists(PIECES, max_size=200).map("".join)


@st.composite
def documents(draw):
    text = draw(DOC_TEXT)
    b0, b1 = 0, len(text)
    if draw(st.booleans()):
        b0 = draw(st.integers(0, len(text)))
        b1 = draw(st.integers(b0, len(text)))
    # The layouts readers produce: one block per line (plain text) or Markdown's headings and paragraphs.
    if draw(st.booleans()):
        blocks = markdown_blocks(text, b0, b1)
    else:
        blocks = line_blocks(text, b0, b1)
    title = draw(st.sampled_from(["", "标题", "第一章 总则"]))
    return Document(id="d", title=title, text=text, blocks=tuple(blocks), metadata={"body": (b0, b1)})


def _check_passages(doc: Document, passages) -> None:
    b0, b1 = doc.metadata.get("body", (0, len(doc.text)))
    prev_end = b0
    prev_seq = 0
    ids = set()
    for p in passages:
        assert p.text == doc.text[p.start:p.end], p
        assert b0 <= p.start < p.end <= b1, (p, (b0, b1))
        assert p.start >= prev_end, f"overlapping or out-of-order spans: {p.start} < {prev_end}"
        assert len(p.text) <= MAX_PASSAGE_CHARS, len(p.text)
        assert p.text.strip(), "empty passage"
        assert p.seq == prev_seq + 1
        assert p.id not in ids
        ids.add(p.id)
        prev_end, prev_seq = p.end, p.seq


@settings(max_examples=300, **PROFILE)
@given(documents())
def test_chunk_spans_are_exact_ordered_bounded_and_inside_the_body(doc):
    _check_passages(doc, chunk(doc))


LONG_LINE = st.lists(st.one_of(st.text(CJK, min_size=1, max_size=500), st.sampled_from(list("。，、；"))),
                     min_size=1, max_size=20).map("".join)


@settings(max_examples=100, **PROFILE)
@given(LONG_LINE)
def test_chunk_splits_long_lines_into_bounded_parts(line):
    doc = Document(id="d", title="", text=line, format="txt")
    _check_passages(doc, chunk(doc))


PLAIN = st.lists(st.one_of(st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x4E7F), min_size=1, max_size=60),
                           st.sampled_from(list("。，；") + ["\n", "\n\n", " "])),
                 max_size=80).map("".join)


@settings(max_examples=200, **PROFILE)
@given(PLAIN)
def test_chunk_loses_no_text_when_there_are_no_headings(text):
    """Without heading-like lines (no 第, digits, 、 or brackets), every non-space character is in a passage."""
    doc = Document(id="d", title="", text=text, format="txt")
    passages = chunk(doc)
    _check_passages(doc, passages)
    covered = sum(len(p.text.replace(" ", "").replace("\n", "")) for p in passages)
    assert covered == len(text.replace(" ", "").replace("\n", ""))


# --- tokenization and normalisation ------------------------------------------------------------------------

TOKEN_TEXT = st.lists(st.one_of(
    st.text(CJK, min_size=1, max_size=12),
    st.text(max_size=6),
    st.sampled_from(["户籍制度", "2024年", "12月", "城乡融合发展", "戶籍", "ＡＢＣ", "İstanbul", "ß", "ﬁ", "𠀀𪚥", "😀",
                     "\u3000", "\n", "e\u0301", "Ⅻ", "①"]),
), max_size=30).map("".join)


@settings(max_examples=300, **PROFILE)
@given(TOKEN_TEXT, st.booleans())
def test_word_token_spans_are_inside_the_text_and_positions_do_not_decrease(text, index):
    norm = normalize(text)
    last = -1
    for term, pos, s, e in word_tokens(text, index=index):
        assert 0 <= s < e <= len(text), (term, s, e, len(text))
        # A letter-spaced word (人 工 智 能) is one term over a span that keeps its spaces.
        assert "".join(norm[s:e].split()) == term, (term, norm[s:e])
        assert pos >= last, (term, pos, last)
        last = pos


@settings(max_examples=500, **PROFILE)
@given(st.text(max_size=60) | TOKEN_TEXT)
@example("İ")
@example("ǅ")
@example("ﬃ")
@example("\u0130\u0130")
def test_normalize_preserves_length(text):
    assert len(normalize(text)) == len(text)
