"""Normalisation, segmentation and the Whoosh tokenizers."""

from __future__ import annotations

import pytest
from whoosh import fields, query as wq
from whoosh.filedb.filestore import RamStorage

from kb.engine.whoosh.tokenizer import WordTokenizer
from kb.text import normalize
from kb.text.segment import query_words, word_tokens

MIXED = "　　２０２４年，國務院推進戶籍制度改革，常住人口城鎮化率達到61.51%，G20峰會在杭州舉行。ＡＰＰ下載量增長"
POLICY = "深化人地钱挂钩改革，保障农村宅基地权益，稳妥推进集体经营性建设用地入市。"


# --- normalisation ------------------------------------------------------------------


def test_fullwidth_becomes_halfwidth_and_keeps_length():
    text = "ＡＢＣ１２３％，（一）　全角"
    out = normalize(text)
    assert out == "abc123%,(一) 全角"
    assert len(out) == len(text)


def test_traditional_becomes_simplified_and_keeps_length():
    assert normalize("戶籍制度改革") == "户籍制度改革"
    assert normalize("國務院關於進一步推進戶籍制度改革的意見") == "国务院关于进一步推进户籍制度改革的意见"
    assert len(normalize(MIXED)) == len(MIXED)


def test_normalize_is_idempotent_on_simplified_text():
    text = "推进户籍制度改革,g20,61.51%"
    assert normalize(text) == text
    assert normalize(normalize(MIXED)) == normalize(MIXED)


# --- word tokens -------------------------------------------------------------------


@pytest.mark.parametrize("text", [MIXED, POLICY, "山东省城镇化城乡融合发展工作领导小组办公室在济南举办全省新型城镇化暨城乡融合发展工作培训"])
@pytest.mark.parametrize("index", [False, True])
def test_token_offsets_are_exact(text, index):
    toks = word_tokens(text, index=index)
    assert toks
    for term, _pos, start, end in toks:
        assert 0 <= start < end <= len(text)
        assert normalize(text[start:end]) == term, (term, text[start:end])


def test_positions_count_words_consecutively():
    text = "山东省城镇化城乡融合发展工作领导小组办公室在济南举办全省新型城镇化暨城乡融合发展工作培训"
    toks = word_tokens(text, index=False)
    assert len(toks) > 5
    assert [pos for _t, pos, _s, _e in toks] == list(range(len(toks)))
    # Words tile the text: each starts where the previous ended.
    assert toks[0][2] == 0 and toks[-1][3] == len(text)
    assert all(a[3] == b[2] for a, b in zip(toks, toks[1:]))


def test_index_subwords_share_the_position_of_their_word():
    precise = word_tokens(POLICY, index=False)
    full = word_tokens(POLICY, index=True)
    words_at = {pos: (s, e) for _t, pos, s, e in precise}
    assert set(precise) <= set(full)
    for term, pos, s, e in full:
        ws, we = words_at[pos]
        assert ws <= s and e <= we, f"{term} lies outside the word at position {pos}"
    # Subwords exist: 户籍 inside 户籍制度改革 is findable.
    terms = {t for t, *_ in word_tokens("推进户籍制度改革", index=True)}
    assert {"户籍", "制度", "改革"} <= terms


def test_punctuation_is_not_a_token():
    toks = word_tokens("户籍、落户，居住证。宅基地！", index=False)
    assert [t for t, *_ in toks] == ["户籍", "落户", "居住证", "宅基地"]
    positions = [p for _t, p, _s, _e in toks]
    assert positions == sorted(set(positions)), "positions strictly increase"


@pytest.mark.parametrize(
    "text, whole",
    [
        ("常住人口城镇化率达到61.51%。", "61.51%"),
        ("G20峰会在杭州举行。", "g20"),
        ("2024年政府工作报告", "2024年"),
        ("１２月举行", "12月"),
    ],
)
def test_numbers_stay_whole(text, whole):
    terms = [t for t, *_ in word_tokens(text, index=False)]
    assert whole in terms, terms
    assert whole in query_words(text)


def test_year_token_also_finds_the_bare_number():
    terms = {t for t, *_ in word_tokens("2024年政府工作报告", index=True)}
    assert {"2024年", "2024"} <= terms


@pytest.mark.parametrize("term", ["宅基地", "人地钱", "集体经营性建设用地", "户籍制度改革", "城乡融合发展"])
def test_policy_terms_segment_whole(term):
    assert query_words(term) == [term]
    sentence = f"要稳妥推进{term}相关工作。"
    start = sentence.index(term)
    end = start + len(term)
    # No word boundary falls inside the term ...
    for _t, _p, s, e in word_tokens(sentence, index=False):
        assert not (start < s < end or start < e < end) or (s <= start and end <= e), (term, _t)
    # ... and the term itself is an index token with its exact span.
    assert (term, start, end) in {(t, s, e) for t, _p, s, e in word_tokens(sentence, index=True)}


def test_policy_terms_in_context():
    terms = {t for t, *_ in word_tokens(POLICY, index=True)}
    assert {"人地钱", "宅基地", "集体经营性建设用地"} <= terms


# --- Whoosh tokenizers ----------------------------------------------------------------


def test_word_tokenizer_obeys_the_token_contract():
    text = "深化户籍制度改革，保障农村宅基地"
    tok = WordTokenizer()
    got = [(t.text, t.pos, t.startchar, t.endchar) for t in tok(text, positions=True, chars=True, mode="index")]
    expected = [(t, p, s, e) for t, p, s, e in word_tokens(text, index=True)]
    assert got == expected
    for term, _pos, s, e in got:
        assert normalize(text[s:e]) == term
    # Offsets honour start_pos / start_char (multi-valued fields).
    shifted = [(t.text, t.pos, t.startchar, t.endchar) for t in tok(text, positions=True, chars=True, start_pos=10, start_char=100, mode="index")]
    assert shifted == [(t, p + 10, s + 100, e + 100) for t, p, s, e in expected]


def test_word_tokenizer_query_mode_has_no_subwords():
    tok = WordTokenizer()
    terms = [t.text for t in tok("户籍制度改革", mode="query")]
    assert terms == ["户籍制度改革"]


def test_word_tokenizer_untokenized_value():
    tok = WordTokenizer()
    (t,) = list(tok("戶籍 制度", tokenize=False, positions=True, chars=True))
    assert t.text == "户籍 制度"
    assert (t.pos, t.startchar, t.endchar) == (0, 0, 5)


def test_word_tokenizer_positions_drive_whoosh_phrases():
    schema = fields.Schema(id=fields.ID(stored=True), body=fields.TEXT(analyzer=WordTokenizer(), phrase=True, chars=True))
    ix = RamStorage().create_index(schema)
    with ix.writer() as w:
        w.add_document(id="adjacent", body="各地要加快发展现代服务业")
        w.add_document(id="apart", body="发展现代服务业要加快")
    with ix.searcher() as s:
        hits = s.search(wq.Phrase("body", ["加快", "发展"]))
        assert [h["id"] for h in hits] == ["adjacent"]
        hits = s.search(wq.Term("body", "服务业"))
        assert sorted(h["id"] for h in hits) == ["adjacent", "apart"]


def test_pinyin_map_reads_words_as_pypinyin_does():
    # Words in pypinyin's phrase dictionary with a polyphonic character (银行, 重庆, 长大, 朝阳), words
    # holding such a phrase (工商银行), and words read character by character.
    from pypinyin import lazy_pinyin

    from kb.lexicon import PinyinMap

    words = ["银行", "重庆", "长大", "朝阳", "工商银行", "户籍", "宅基地", "城镇化", "乡村振兴", "还款", "行长", "的确"]
    pm = PinyinMap()
    assert pm.add_terms(words) == len(words)
    for w in words:
        assert w in pm.words(tuple(lazy_pinyin(w))), w
    assert pm.words(("yin", "hang")) == {"银行"} and pm.words(("chong", "qing")) == {"重庆"}
