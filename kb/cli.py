"""The ``kb`` command: a thin click skin over ``kb.KnowledgeBase``.

Each command calls one library method; library errors (``KBError``) become a
one-sentence message on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import click

from . import serialize
from .api import KnowledgeBase, default_index_path
from .errors import IndexCorruptError, IndexNotFoundError, IndexVersionError, KBError
from .models import Hit

DEFAULT_SOURCE = Path("seeds")


def _color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _dump(obj) -> None:
    click.echo(serialize.dumps(obj))


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


# The library's errors are neutral; the CLI says which command or flag helps.
_ADVICE = {
    IndexNotFoundError: "run `kb index PATH` to build one (or set --index / KB_INDEX)",
    IndexCorruptError: "run `kb index --rebuild PATH`",
    IndexVersionError: "run `kb index --rebuild PATH`",
}
_FLAGS = {"limit": "--limit", "context": "--context", "since": "--since", "until": "--until", "topic": "--topic",
          "section": "--section", "doc": "--doc"}
_HINTS = {"topics": "run `kb topics` to list them"}


def _message(e: KBError) -> str:
    """The library's sentence, with the CLI's flag name and advice."""
    text = str(e).rstrip()
    flag = _FLAGS.get(e.param or "")
    if flag:
        text = text.rstrip(".") + f" ({flag})."
    advice = _HINTS.get(e.hint or "")
    for cls, text_ in _ADVICE.items():
        if isinstance(e, cls):
            advice = text_
            break
    if advice:  # the CLI's own advice replaces the library's neutral one
        fact = text.rsplit("; ", 1)[0] if "; " in text else text
        text = fact.rstrip(".") + f"; {advice}."
    return text


def handle_errors(fn):
    """Turn library errors into one clear sentence and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KBError as e:
            _fail(_message(e))
        except KeyboardInterrupt:
            click.echo("Interrupted; the index is unchanged unless the run had finished.", err=True)
            sys.exit(130)

    return wrapper


# Plain-text highlight markers: the first pair that the snippet's own text does not use,
# so a highlight is never mistaken for brackets in the text (【免责声明】).
_MARKERS = (("【", "】"), ("⟦", "⟧"), ("«", "»"), ("⦃", "⦄"))


def _render_snippet(hit: Hit, color: bool) -> str:
    s = hit.snippet
    if color:
        return s.replace("<mark>", "\x1b[1;31m").replace("</mark>", "\x1b[0m")
    plain = s.replace("<mark>", "").replace("</mark>", "")
    for left, right in _MARKERS:
        if left not in plain and right not in plain:
            return s.replace("<mark>", left).replace("</mark>", right)
    return s.replace("<mark>", "<<").replace("</mark>", ">>")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _block(text: str, indent: str = "   ") -> str:
    """Text indented as one block: every line of it, including continuation lines."""
    return "\n".join(indent + line.strip() for line in text.split("\n") if line.strip())


def _citation(hit: Hit) -> str:
    page = f" · p. {hit.page}" if hit.page else ""
    return f"§ {_one_line(hit.section)} · ¶{hit.paragraph}{page} · {hit.id}"


def _print_hit(n: int | None, hit: Hit, color: bool, *, full: bool = False) -> None:
    head = _one_line(hit.title)
    meta = "  ".join(_one_line(x) for x in (hit.date, hit.source) if x)
    if color:
        head = click.style(head, bold=True)
        meta = click.style(meta, fg="green")
    prefix = f"{n}. " if n is not None else ""
    click.echo(f"{prefix}{head}  {meta}".rstrip())
    loc = _citation(hit)
    click.echo("   " + (click.style(loc, fg="cyan") if color else loc))
    body = hit.text if full else _render_snippet(hit, color)
    click.echo(_block(body))


def _set_index(ctx: click.Context, _param, value: Path | None) -> None:
    if value is not None:
        ctx.obj = KnowledgeBase(value)


# Every subcommand takes --index as well, so it works before or after the command name.
_index_option = click.option("--index", "index_path", type=click.Path(path_type=Path), default=None,
                             expose_value=False, callback=_set_index,
                             help="Index directory (default: $KB_INDEX or ./index).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--index", "index_path", type=click.Path(path_type=Path), default=None,
              help="Index directory (default: $KB_INDEX or ./index).")
@click.version_option(package_name="kb", prog_name="kb")
@click.pass_context
def main(ctx: click.Context, index_path: Path | None) -> None:
    """Search Chinese policy documents by word, phrase, section and topic.

    Example:

        kb index seeds && kb search 户籍
    """
    ctx.obj = KnowledgeBase(index_path if index_path is not None else default_index_path())


@main.command("index")
@_index_option
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Start afresh instead of updating incrementally.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--lock-timeout", "--wait", "lock_timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for another running `kb index` to finish (--wait is the old name).")
@click.pass_obj
@handle_errors
def index_cmd(kb: KnowledgeBase, paths: tuple[Path, ...], rebuild: bool, as_json: bool, lock_timeout: float) -> None:
    """Index files and directories (default: ./seeds): .txt, .md, .jsonl, .html.

    Unchanged files are skipped, changed ones replaced, removed ones dropped.

    Example:

        kb index seeds ../shared/corpus
    """
    sources = list(paths) or [DEFAULT_SOURCE]
    bar: dict = {}  # a progress bar on terminals, made once the number of files is known

    def progress(done: int, total: int, path: str) -> None:
        if "bar" not in bar:
            bar["bar"] = click.progressbar(length=total, label="Indexing", file=sys.stderr)
            bar["bar"].__enter__()
        bar["bar"].update(1)

    show = sys.stderr.isatty() and not as_json
    try:
        summary = kb.index(sources, rebuild=rebuild, progress=progress if show else None, lock_timeout=lock_timeout)
    finally:
        if "bar" in bar:
            bar["bar"].__exit__(None, None, None)
    if as_json:
        _dump(serialize.index_summary(summary))
        return
    for s in summary.skipped:
        click.echo(f"skipped {s.path}: {s.reason}", err=True)
    skipped_files = sum(1 for s in summary.skipped if s.kind == "file")
    skipped_lines = sum(1 for s in summary.skipped if s.kind == "line")
    extra = f", {_n(skipped_lines, 'JSONL line')} skipped" if skipped_lines else ""
    click.echo(
        f"{_n(summary.files, 'file')}: {summary.indexed} new, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{skipped_files} skipped{extra}; {summary.removed} removed. "
        f"{_n(summary.passages, 'passage')} written; the index holds {_n(summary.total_documents, 'document')}, "
        f"{_n(summary.total_passages, 'passage')} ({summary.seconds:.1f} s)."
    )


def _ensure_index(kb: KnowledgeBase) -> None:
    """On a fresh clone, build the index from ./seeds before the first search."""
    if kb.exists() or not DEFAULT_SOURCE.is_dir():
        return
    click.echo(f"No index yet in {kb.path}/; building it from {DEFAULT_SOURCE}/ first.", err=True)
    summary = kb.index([DEFAULT_SOURCE])
    click.echo(f"Indexed {_n(summary.total_documents, 'document')}, {_n(summary.total_passages, 'passage')}.", err=True)


@main.command("search", context_settings={"ignore_unknown_options": True})
@_index_option
@click.argument("words", nargs=-1, required=True)
@click.option("-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Most hits to show.")
@click.option("--section", help="Only passages whose section path contains this text.")
@click.option("--doc", help="Only this document (id, or text in its title).")
@click.option("--topic", help="Only passages tagged with this topic slug (see `kb topics`).")
@click.option("--since", help="Only documents dated on or after this date (YYYY[-MM[-DD]]).")
@click.option("--until", help="Only documents dated on or before this date (YYYY[-MM[-DD]]).")
@click.option("-C", "--context", type=click.IntRange(min=0), default=0, help="Neighbouring paragraphs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON hit per line.")
@click.option("--explain", is_flag=True, help="Show the Chinese terms the query was expanded to, and why.")
@click.option("--expand/--no-expand", default=True, show_default=True,
              help="Widen the query with translations, pinyin and synonyms; --no-expand searches it as written.")
@click.pass_obj
@handle_errors
def search_cmd(kb: KnowledgeBase, words: tuple[str, ...], limit: int, section: str | None, doc: str | None,
               topic: str | None,
               since: str | None, until: str | None, context: int, as_json: bool, as_jsonl: bool,
               explain: bool, expand: bool) -> None:
    """Search passages. Words, "exact phrase", AND/OR/NOT, -word, (…), section:, doc:, topic:.

    English and pinyin queries are translated to Chinese terms (see --explain).
    The query may be several arguments; a word that starts with - excludes it
    (kb search 户籍 -产业).

    Example:

        kb search '户籍 OR 落户' --since 2020 --limit 5

        kb search 'rural land reform' --explain
    """
    unknown = [w for w in words if w.startswith("--") and len(w) > 2]
    if unknown:
        _fail(f"No such option {unknown[0]}; see `kb search --help` for the options.")
    if as_json and as_jsonl:
        _fail("Use either --json or --jsonl, not both.")
    query = " ".join(words)
    _ensure_index(kb)
    t0 = time.perf_counter()
    result = kb.search(query, limit=limit, section=section, doc=doc, topic=topic, since=since, until=until,
                       context=context, expand=expand, correct=True)
    elapsed = time.perf_counter() - t0
    if as_json:
        _dump(serialize.search_result(result, query=query))
        return
    if as_jsonl:
        for h in result:
            _dump(serialize.hit(h))
        return
    color = _color()
    if result.corrected:
        click.echo(f"No passages match {query!r}; showing results for {result.suggestion!r}.")
    elif result.suggestion:
        click.echo(f"Did you mean: {result.suggestion}")
    if result.relaxed:
        click.echo(f"No passage has all the words of {query!r}; showing passages with most of them.")
    if explain:
        if result.relaxed:
            click.echo("relaxed: ranked by how many of the query's words each passage has, then by score")
        if result.expanded:
            by_query: dict[str, list[str]] = {}
            for e in result.expanded:
                by_query.setdefault(e.query, []).append(f"{e.term} ({e.origin})")
            for src, terms in by_query.items():
                click.echo(f"expanded {src!r} → " + ", ".join(terms))
        else:
            click.echo("expanded: nothing (the query is searched as written)")
    if not result:
        click.echo(f"No passages match {query!r}.")
        return
    for n, hit in enumerate(result, 1):
        for c in (c for c in hit.context if c.start < hit.start):
            click.echo(_block(c.text, "   ┆ "))
        _print_hit(n, hit, color)
        for c in (c for c in hit.context if c.start > hit.start):
            click.echo(_block(c.text, "   ┆ "))
        click.echo()
    click.echo(f"{len(result)} of {result.total} matching passages ({elapsed * 1000:.0f} ms).")


@main.command("get")
@_index_option
@click.argument("passage_id")
@click.option("-C", "--context", type=click.IntRange(min=0), default=1, show_default=True,
              help="Neighbouring paragraphs to show on each side.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handle_errors
def get_cmd(kb: KnowledgeBase, passage_id: str, context: int, as_json: bool) -> None:
    """Print one passage, by id, with its neighbours (`kb show` is the same command).

    Example:

        kb get 'xinhua-2020-12-01-shandong-urbanization#6'
    """
    hit = kb.get(passage_id, context=context)
    if as_json:
        _dump(serialize.hit(hit))
        return
    color = _color()
    before = [c for c in hit.context if c.start < hit.start]
    after = [c for c in hit.context if c.start > hit.start]
    for c in before:
        click.echo(_block(f"¶{c.paragraph} {c.text}", "   ┆ "))
    _print_hit(None, hit, color, full=True)
    for c in after:
        click.echo(_block(f"¶{c.paragraph} {c.text}", "   ┆ "))


# The command's first name, kept for scripts that use it.
main.add_command(click.Command("show", callback=get_cmd.callback, params=get_cmd.params, help=get_cmd.help,
                               hidden=True), "show")


@main.command("topics")
@_index_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handle_errors
def topics_cmd(kb: KnowledgeBase, as_json: bool) -> None:
    """List the policy topics with the number of passages tagged with each.

    Example:

        kb topics && kb search 落户 --topic household-registration
    """
    topics = kb.topics()
    if as_json:
        _dump(serialize.topics(topics))
        return
    width = max(len(t.slug) for t in topics)
    for t in topics:
        click.echo(f"{t.slug:<{width}}  {t.passages:>7}  {t.zh} / {t.en}")


@main.command("stats")
@_index_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handle_errors
def stats_cmd(kb: KnowledgeBase, as_json: bool) -> None:
    """Counts of documents, passages and files in the index.

    Example:

        kb stats --json
    """
    st = kb.stats()
    if as_json:
        _dump(serialize.stats(st))
        return
    click.echo(f"index:     {st.index_path} (format {st.format}, {st.size_bytes / 1e6:.1f} MB)")
    click.echo(f"documents: {st.documents}")
    click.echo(f"passages:  {st.passages}")
    click.echo(f"files:     {st.files}")
    click.echo(f"updated:   {st.last_indexed}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Only loopback addresses are safe without a proxy in front.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--cors", "cors", multiple=True, metavar="ORIGIN",
              help="Let web pages from this origin call the API (repeatable). Off by default.")
@click.option("--allow-index", "allow_index", multiple=True, metavar="PATH", type=click.Path(path_type=Path),
              help="Let POST /index (with the bearer token) update the index from PATH (repeatable).")
@click.option("--token", envvar="KB_SERVE_TOKEN", metavar="TOKEN",
              help="The bearer token POST /index needs (or KB_SERVE_TOKEN; at least 16 characters).")
@click.option("--access-log", is_flag=True, help="Log every request on stderr.")
@click.pass_obj
@handle_errors
def serve_cmd(kb: KnowledgeBase, host: str, port: int, cors: tuple[str, ...], allow_index: tuple[Path, ...],
              token: str | None, access_log: bool) -> None:
    """Serve the HTTP JSON API and the search page (read-only unless --allow-index).

    Example:

        kb serve --port 8000 && curl 'http://127.0.0.1:8000/search?q=户籍'
    """
    from .server import run_http

    run_http(kb, host=host, port=port, cors=cors, allow_index=allow_index, token=token, access_log=access_log,
             on_ready=lambda url: click.echo(f"Serving {kb.path} at {url} "
                                             f"({'POST /index allowed' if allow_index else 'read-only'}); "
                                             "Ctrl+C stops.", err=True))


@main.command("mcp")
@click.option("--http", "over_http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on, with --http.")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True,
              help="Port to listen on, with --http.")
@click.pass_obj
@handle_errors
def mcp_cmd(kb: KnowledgeBase, over_http: bool, host: str, port: int) -> None:
    """Serve search to AI assistants over the Model Context Protocol (stdio, or --http).

    Example:

        kb --index /path/to/index mcp
    """
    from .server import run_mcp

    run_mcp(kb, http=over_http, host=host, port=port,
            on_ready=lambda url: click.echo(f"MCP server for {kb.path} at {url}; Ctrl+C stops.", err=True))


if __name__ == "__main__":  # pragma: no cover
    main()
