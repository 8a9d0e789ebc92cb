"""Every tunable of kb in one place, with a name and the reason for its value."""

from __future__ import annotations

import os

# --- chunking ---------------------------------------------------------------------------------------
MAX_PASSAGE_CHARS = 400  # a long paragraph is split at sentence ends into parts of at most this
MIN_PASSAGE_CHARS = 12  # a shorter line joins a neighbour unless it is a heading or a law article
HEADING_MAX_CHARS = 40  # a numbered line longer than this is a paragraph, not a heading

# --- reading files ----------------------------------------------------------------------------------
MAX_FILE_BYTES = 64 * 1024 * 1024  # larger files are skipped with a reason

# --- queries ----------------------------------------------------------------------------------------
MAX_QUERY_CHARS = 2000
MAX_NESTING = 32  # parentheses or NOT deeper than this are refused
MAX_LIMIT = 10_000  # the most hits one search returns
MAX_WORDS_PER_TERM = 32  # a longer run without spaces is matched by its first words and verbatim

# Scores: each query word matches as an OR of these alternatives, so exact words rank first.
EXACT_BOOST = 3.0  # the word (all its words) in text, section or title
LOOSE_BOOST = 1.0  # all the words of a multi-word query word, anywhere in the passage
VERBATIM_BOOST = 0.5  # the string found only by verbatim recall
TITLE_BOOST = 0.7  # per query word found in the document's title (times EXACT_BOOST)
ADJACENT_BONUS = 2.0  # a multi-word query word found verbatim, among the top RERANK_WINDOW
# Among the top RERANK_WINDOW, a passage shorter than this scores (length / this) ** power of its score.
SHORT_PASSAGE_CHARS = 25
SHORT_PASSAGE_POWER = 0.5
SECTION_FIELD_BOOST = 1.5  # BM25F weight of the section path against the passage text

# Expansion: how much an expanded term counts against the word as typed.
GLOSSARY_BOOST = 1.0
PINYIN_BOOST = 0.8
TOPIC_BOOST = 0.5
SYNONYM_BOOST = 0.3
COLLOQUIAL_BOOST = 0.8  # the documents' term for an everyday word (看病 → 就医) counts nearly as the word
DICTIONARY_BOOST = 0.25
MAX_DICTIONARY_SENSES = 3
MAX_TRANSLATED_WORDS = 24  # English words of one query looked up in CC-CEDICT; later ones match as written
MAX_DICTIONARY_CANDIDATES = 8  # senses looked at before those unrelated to the other query words are dropped
DICTIONARY_WEIGHT = 0.5  # a dictionary-translated word counts half when ranking by how much of a query a passage covers
ABBREVIATION_BOOST = 1.0  # a full form counts as much as its abbreviation, and the other way round
ABBREVIATION_PART_BOOST = 0.5  # one part of a numbered slogan (稳就业 of 六稳) counts for less than all of it
MAX_ABBREVIATION_FORMS = 3  # full forms tried for an abbreviation inside a longer query word
# A dictionary sense or a pinyin reading is related to the other words of a query when it occurs
# with one of them in at least this many passages (one, for an exact dictionary sense) and this many
# times more often than by chance.
RELATED_MIN_PASSAGES = 2
RELATED_MIN_LIFT = 2.0
MAX_PINYIN_WORDS = 3  # readings per pinyin syllable group
MAX_PINYIN_COMBINATIONS = 27
MAX_CORRECTIONS_TRIED = 5  # "did you mean": candidates for a mistyped piece checked against the whole query

BM25_B = 0.75
BM25_K1 = 1.2

# Relaxation: a query that no passage (or, typed as a question, too few) matches in full shows the
# passages with most of it, ranked by coverage (parts weighted by rarity) in this many steps, then by score.
RELAX_TIERS = 10
RELAX_IDF_POWER = 1.0  # a part's weight is its inverse passage frequency to this power
RELAX_BELOW = 10  # a search that shows every match (grouping, facets, export) relaxes below this many

# Copies: passages with the same text (at least this long) are shown once, with the others' ids.
COLLAPSE_MIN_CHARS = 20

# Verbatim recall and ranking windows.
VERBATIM_CAP = 20_000  # a string in more passages than this is matched by its words instead
RERANK_WINDOW = 100  # proximity reranking and NOT post-filtering look at this many top hits

# --- snippets ---------------------------------------------------------------------------------------
SNIPPET_CHARS = 160

# --- indexing ---------------------------------------------------------------------------------------
PARALLEL_MIN_BYTES = 4 * 1024 * 1024  # below this much new text, worker processes cost more than they save
WRITER_MEMORY_MB = 256  # Whoosh's posting pool per writer
LOCK_TIMEOUT = 30.0  # seconds a second writer waits for the first


def worker_count() -> int:
    """Processes for a large index run: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
