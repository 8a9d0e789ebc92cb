"""The query language: a small parser that turns a query string into a tree.

Syntax: words (implicitly AND-ed), ``"exact phrase"``, ``AND`` / ``OR`` /
``NOT`` (upper case), ``-word``, parentheses, and field filters
``section:…``, ``doc:…`` (alias ``title:``), ``topic:…`` and metadata
filters ``meta.FIELD:VALUE`` (``meta.province:云南``; the value may start
with an operator: ``meta.year:>=2020``, ``meta.province:~云``; see
``kb.query.meta``). Errors raise
``QueryError`` with a sentence saying how to fix the query. Repeated terms
are kept once: ``户籍 户籍`` is ``户籍``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import MAX_NESTING, MAX_QUERY_CHARS
from ..errors import QueryError

__all__ = ["Node", "Text", "Filter", "Not", "And", "Or", "parse", "FIELDS"]

FIELDS = {"section": "section", "doc": "doc", "title": "doc", "topic": "topic"}


class Node:
    """A node of the parsed query."""


@dataclass(frozen=True)
class Text(Node):
    """Words to search for; ``phrase`` when they were quoted."""

    value: str
    phrase: bool = False


@dataclass(frozen=True)
class Filter(Node):
    """A field restriction such as ``section:户籍``."""

    field: str
    value: str


@dataclass(frozen=True)
class Not(Node):
    child: Node


@dataclass(frozen=True)
class And(Node):
    """All children. ``explicit`` when the query said AND (then it is never relaxed)."""

    children: tuple[Node, ...]
    explicit: bool = False


@dataclass(frozen=True)
class Or(Node):
    children: tuple[Node, ...]


_QUOTES = '"'
_SPECIAL = set('()"')


def _lex(s: str) -> list[tuple[str, str]]:
    """Tokens: ('(' | ')' | 'AND' | 'OR' | 'NOT' | '-' | 'PHRASE' | 'WORD' | 'FIELD', value)."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            out.append((c, c))
            i += 1
            continue
        if c in _QUOTES:
            j = s.find('"', i + 1)
            if j < 0:
                raise QueryError('The query has an unbalanced quote; close the phrase with a second ".')
            out.append(("PHRASE", s[i + 1 : j]))
            i = j + 1
            continue
        if c == "-" and i + 1 < n and not s[i + 1].isspace() and (not out or out[-1][0] != "WORD" or s[i - 1].isspace()):
            out.append(("-", "-"))
            i += 1
            continue
        j = i
        while j < n and not s[j].isspace() and s[j] not in _SPECIAL:
            j += 1
        word = s[i:j]
        i = j
        if word in ("AND", "OR", "NOT"):
            out.append((word, word))
            continue
        name, sep, rest = word.partition(":")
        meta = sep and name[:5].lower() == "meta." and len(name) > 5
        if sep and name and (meta or (name.isascii() and name.isalpha())):
            if not meta and name.lower() not in FIELDS:
                known = ", ".join(f"{f}:" for f in ("section", "doc", "topic", "meta.FIELD"))
                raise QueryError(f"Unknown field {name!r} in the query; use one of {known} (or quote the text).")
            if not rest:
                if i < n and s[i] == '"':
                    j = s.find('"', i + 1)
                    if j < 0:
                        raise QueryError('The query has an unbalanced quote; close the phrase with a second ".')
                    rest = s[i + 1 : j]
                    i = j + 1
                if not rest.strip():
                    raise QueryError(f"The field {name}: needs a value, as in {name}:户籍.")
            field_name = "meta." + name[5:] if meta else FIELDS[name.lower()]
            out.append(("FIELD", f"{field_name}:{rest}"))
            continue
        out.append(("WORD", word))
    return out


class _Parser:
    def __init__(self, tokens):
        self.toks = tokens
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() == ")":
            raise QueryError("The query has an unmatched ')'; remove it or add the matching '('.")
        if self.peek() is not None:
            raise QueryError(f"Unexpected {self.toks[self.i][1]!r} in the query; check the operators around it.")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.peek() == "OR":
            self.take()
            if self.peek() in (None, ")", "OR", "AND"):
                raise QueryError("OR needs a term on both sides; add one or remove the OR.")
            items.append(self.and_expr())
        items = list(dict.fromkeys(items))  # 户籍 OR 户籍 is 户籍
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.unary()]
        explicit = False
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
                explicit = True
                if self.peek() in (None, ")", "OR", "AND"):
                    raise QueryError("AND needs a term on both sides; add one or remove the AND.")
            items.append(self.unary())
        items = list(dict.fromkeys(items))  # a word repeated 600 times costs what it costs once
        return items[0] if len(items) == 1 else And(tuple(items), explicit)

    def unary(self) -> Node:
        kind = self.peek()
        if kind in ("NOT", "-"):
            self.take()
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise QueryError(f"The query nests NOT more than {MAX_NESTING} deep; simplify it.")
            if self.peek() in (None, ")", "OR", "AND"):
                raise QueryError("NOT (or -) needs a term after it; add one or remove it.")
            node = Not(self.unary())
            self.depth -= 1
            return node
        if kind == "(":
            self.take()
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise QueryError(f"The query nests parentheses more than {MAX_NESTING} deep; simplify it.")
            if self.peek() == ")":
                raise QueryError("The query has empty parentheses; put a term inside or remove them.")
            node = self.or_expr()
            if self.peek() != ")":
                raise QueryError("The query has an unclosed '('; add the matching ')'.")
            self.take()
            self.depth -= 1
            return node
        if kind == ")":
            raise QueryError("The query has an unmatched ')'; remove it or add the matching '('.")
        if kind in ("AND", "OR"):
            raise QueryError(f"{kind} needs a term on both sides; add one or remove the {kind}.")
        if kind is None:
            raise QueryError("The query ends too early; add a term.")
        tok, value = self.take()
        if tok == "PHRASE":
            return Text(value, phrase=True)
        if tok == "FIELD":
            name, _, val = value.partition(":")
            return Filter(name, val)
        return Text(value)


# Typed with a Chinese input method: full-width syntax （ ） ＂ ： － and ＯＲ, the
# ideographic space; zero-width characters pasted from web pages are dropped.
_SYNTAX = {0x3000: " ", 0xFF08: "(", 0xFF09: ")", 0xFF02: '"', 0xFF1A: ":", 0xFF0D: "-"}
_SYNTAX.update({cp: chr(cp - 0xFEE0) for cp in range(0xFF21, 0xFF3B)})  # Ａ-Ｚ
_SYNTAX.update({cp: chr(cp - 0xFEE0) for cp in range(0xFF41, 0xFF5B)})  # ａ-ｚ
_SYNTAX.update({cp: None for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)})


def _clean(query: str) -> str:
    query = query.translate(_SYNTAX)
    return "".join(" " if (ord(c) < 32 or c == "\x7f") else c for c in query)


def parse(query: str) -> Node:
    """Parse ``query``; raises ``QueryError`` when it is empty or malformed."""
    if query is None or not str(query).strip():
        raise QueryError("The query is empty; give at least one word to search for.")
    query = _clean(str(query))
    if any("\ud800" <= c <= "\udfff" for c in query):
        raise QueryError("The query has bytes that are not valid text (a lone surrogate); re-type it or fix its encoding.")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"The query is {len(query)} characters long; shorten it to at most {MAX_QUERY_CHARS}.")
    tokens = _lex(query)
    if not tokens:
        raise QueryError("The query is empty; give at least one word to search for.")
    return _Parser(tokens).parse()
