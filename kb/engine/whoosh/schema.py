"""The Whoosh schema of a kb index."""

from __future__ import annotations

from whoosh import fields

from ... import config
from .tokenizer import WordTokenizer

__all__ = ["make_schema"]


def make_schema() -> fields.Schema:
    """The index schema. Bump ``kb.store.FORMAT_VERSION`` whenever it or the analysis changes.

    Two kinds of records share it. A passage has ``doc_id`` (its document)
    and the searchable fields; its id is in its stored row ``p``, not indexed
    (``kb.engine.whoosh.codec``). A document's record has ``docrec``, its
    title (indexed once, not with every passage) and its metadata. Word
    fields keep frequencies, not positions: exact phrases are checked
    against the verbatim text in the recall file. Segments are written by
    ``kb.engine.whoosh.bulk`` with stored fields in compressed blocks.
    """
    words = WordTokenizer()
    return fields.Schema(
        # passages
        doc_id=fields.ID(),
        section=fields.TEXT(analyzer=words, phrase=False, field_boost=config.SECTION_FIELD_BOOST),
        section_key=fields.ID(),
        text=fields.TEXT(analyzer=words, phrase=False),
        date_lo=fields.ID(),
        date_hi=fields.ID(),
        topics=fields.KEYWORD(commas=True, lowercase=True),
        p=fields.STORED(),  # the passage record (kb.engine.whoosh.codec)
        # documents
        docrec=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=words, phrase=False),
        title_key=fields.ID(),
        doc=fields.STORED(),  # the document record (kb.engine.whoosh.codec)
    )
