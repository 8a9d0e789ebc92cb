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
