"""The ``kb`` command: a thin click skin over ``kb.KnowledgeBase``.

Each command calls one library method; library errors (``KBError``) become a
one-sentence message on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import sys
import time
from pathlib import Path

import importlib
from typing import TYPE_CHECKING

import click

from .errors import IndexCorruptError, IndexNotFoundError, IndexVersionError, KBError

if TYPE_CHECKING:  # pragma: no cover
    from .api import KnowledgeBase
    from .models import Hit


class _Lazy:
    """A module imported on first use: `kb --help` and `kb --version` load nothing but click."""

    def __init__(self, name: str):
        self._name = name
        self._module = None

    def __getattr__(self, attr: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


serialize = _Lazy("kb.serialize")
_api = _Lazy("kb.api")

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
          "section": "--section", "doc": "--doc", "where": "--where", "group_by": "--group-by", "sort": "--sort",
          "facets": "--facets"}
_HINTS = {"topics": "run `kb topics` to list them", "docs": "run `kb docs` to list the documents"}


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
        ctx.obj = _api.KnowledgeBase(value, lexicon=ctx.meta.get("kb.lexicon"))


# Every subcommand takes --index as well, so it works before or after the command name.
_index_option = click.option("--index", "index_path", type=click.Path(path_type=Path), default=None,
                             expose_value=False, callback=_set_index,
                             help="Index directory (default: $KB_INDEX or ./index).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--index", "index_path", type=click.Path(path_type=Path), default=None,
              help="Index directory (default: $KB_INDEX or ./index).")
@click.option("--lexicon", "lexicon", type=click.Path(path_type=Path), multiple=True,
              help="Folder of your own vocabulary files (repeatable; default: $KB_LEXICON, else lexicon/ beside "
                   "the index).")
@click.version_option(package_name="kb", prog_name="kb")
@click.pass_context
def main(ctx: click.Context, index_path: Path | None, lexicon: tuple[Path, ...]) -> None:
    """Search Chinese policy documents by word, phrase, section and topic.

    Example:

        kb index seeds && kb search 户籍
    """
    ctx.meta["kb.lexicon"] = list(lexicon) or None
    ctx.obj = _api.KnowledgeBase(index_path if index_path is not None else _api.default_index_path(),
                            lexicon=ctx.meta["kb.lexicon"])


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
    _echo_vocabulary_runs(summary)


def _echo_vocabulary_runs(summary) -> None:
    if summary.reanalysed:
        click.echo(f"{_n(summary.reanalysed, 'document')} indexed again for changed segmentation words.")
    if summary.retagged:
        click.echo(f"{_n(summary.retagged, 'document')} re-tagged for changed topics.")




def _ensure_index(kb: KnowledgeBase) -> None:
    """On a fresh clone, build the index from ./seeds before the first search."""
    if kb.exists() or not DEFAULT_SOURCE.is_dir():
        return
    click.echo(f"No index yet in {kb.path}/; building it from {DEFAULT_SOURCE}/ first.", err=True)
    summary = kb.index([DEFAULT_SOURCE])
    click.echo(f"Indexed {_n(summary.total_documents, 'document')}, {_n(summary.total_passages, 'passage')}.", err=True)


def _filter_options(fn):
    """The restrictions shared by `search` and `docs`."""
    for opt in reversed([
        click.option("--section", help="Only passages whose section path contains this text."),
        click.option("--doc", help="Only documents whose id (or part of it), title or a metadata value contains this "
                                   "text."),
        click.option("--topic", help="Only passages tagged with this topic slug (see `kb topics`)."),
        click.option("--since", help="Only documents dated on or after this date (YYYY[-MM[-DD]])."),
        click.option("--until", help="Only documents dated on or before this date (YYYY[-MM[-DD]])."),
        click.option("-w", "--where", multiple=True, metavar="FIELD=VALUE",
                     help="Only documents whose metadata field matches (repeatable): field=value, field~text, "
                          "field>=value, field<=value (dates, numbers)."),
    ]):
        fn = opt(fn)
    return fn


def _export_format(fmt: str | None, output: Path | None, as_jsonl: bool) -> str | None:
    if as_jsonl and fmt not in (None, "jsonl"):
        raise click.UsageError("--jsonl and --format differ; give one of them.")
    if as_jsonl:
        return "jsonl"
    if fmt or output is None:
        return fmt
    suffix = output.suffix.lower().lstrip(".")
    if suffix in ("csv", "md", "jsonl", "json"):
        return suffix
    raise click.UsageError(f"Cannot tell the format of {output.name}; add --format csv, md or jsonl.")


def _open_output(output: Path | None):
    """The text stream to export to: the file (UTF-8, newlines as written) or stdout."""
    if output is None:
        return _EchoStream()
    try:
        return open(output, "w", encoding="utf-8", newline="")
    except OSError as e:
        raise click.FileError(str(output), hint=e.strerror) from None


class _EchoStream:
    """A text stream onto stdout through ``click.echo`` (which copes with odd terminals), in 64 kB pieces."""

    def __init__(self):
        self._buf: list[str] = []
        self._size = 0

    def write(self, text: str) -> None:
        self._buf.append(text)
        self._size += len(text)
        if self._size >= 1 << 16:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            click.echo("".join(self._buf), nl=False)
            self._buf, self._size = [], 0

    def close(self) -> None:
        self.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _facet_line(facets, documents: bool) -> str:
    parts = []
    for f in facets:
        shown = [f"{v.value} {v.documents if documents else v.passages}" for v in f.values[:8]]
        more = f" +{len(f.values) - 8} more" if len(f.values) > 8 else ""
        parts.append(f"{f.field}: " + (" · ".join(shown) if shown else "(none)") + more)
    unit = "documents" if documents else "passages"
    return f"facets ({unit}): " + " | ".join(parts)


@main.command("search", context_settings={"ignore_unknown_options": True})
@_index_option
@click.argument("words", nargs=-1, required=True)
@click.option("-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Most hits (or documents, with --group-by doc) to show.")
@_filter_options
@click.option("-C", "--context", type=click.IntRange(min=0), default=0, help="Neighbouring paragraphs to show.")
@click.option("--group-by", "group_by", type=click.Choice(["doc"]), default=None,
              help="One entry per matching document: its best passage, how many passages match, and where.")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True,
              help="Order hits by relevance, or by document date (newest first).")
@click.option("--facets", metavar="FIELDS",
              help="Count matches per value of these fields over every match: topic, year, source, or any metadata "
                   "field (comma-separated).")
@click.option("--format", "fmt", type=click.Choice(["csv", "md", "jsonl"]), default=None,
              help="Export: csv (UTF-8 with BOM, for Excel), md (a citation list) or jsonl.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the output to this file (format from --format, or from the file's suffix).")
@click.option("--all", "all_", is_flag=True,
              help="Export every match, not just --limit (streamed; use with --format or --jsonl).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON hit (or document, when grouped) per line.")
@click.option("--explain", is_flag=True, help="Show the Chinese terms the query was expanded to, and why.")
@click.option("--expand/--no-expand", default=True, show_default=True,
              help="Widen the query with translations, pinyin and synonyms; --no-expand searches it as written.")
@click.pass_obj
@handle_errors
def search_cmd(kb: KnowledgeBase, words: tuple[str, ...], limit: int, section: str | None, doc: str | None,
               topic: str | None, since: str | None, until: str | None, where: tuple[str, ...], context: int,
               group_by: str | None, sort: str, facets: str | None, fmt: str | None, output: Path | None,
               all_: bool, as_json: bool, as_jsonl: bool, explain: bool, expand: bool) -> None:
    """Search passages. Words, "exact phrase", AND/OR/NOT, -word, (…), section:, doc:, topic:, meta.FIELD:.

    English and pinyin queries are translated to Chinese terms (see --explain).
    The query may be several arguments; a word that starts with - excludes it
    (kb search 户籍 -产业).

    Example:

        kb search '户籍 OR 落户' --since 2020 --limit 5

        kb search 'rural land reform' --explain

        kb search 宅基地 --group-by doc --where province=云南 --facets province,year

        kb search 户籍 --all --format csv --output hits.csv
    """
    unknown = [w for w in words if w.startswith("--") and len(w) > 2]
    if unknown:
        _fail(f"No such option {unknown[0]}; see `kb search --help` for the options.")
    if as_json and as_jsonl:
        _fail("Use either --json or --jsonl, not both.")
    query = " ".join(words)
    fmt = _export_format(fmt, output, as_jsonl)
    if fmt == "json":
        as_json, fmt = True, None
    if all_ and not fmt:
        raise click.UsageError("--all exports every match; use it with --format csv|md|jsonl (or --jsonl).")
    if fmt and facets:
        raise click.UsageError("--facets goes with the search's own output or --json, not with an export format.")
    _ensure_index(kb)
    restrictions = dict(section=section, doc=doc, topic=topic, since=since, until=until, where=where)
    if fmt:
        from . import export

        stream = kb.iter_search(query, expand=expand, correct=True, group_by=group_by, sort=sort, **restrictions)
        with stream:
            items = stream if all_ else itertools.islice(stream, limit)
            out = _open_output(output)
            try:
                n = export.write(items, fmt, out, metadata_keys=stream.metadata_keys,
                                 kind="group" if group_by else "hit")
            finally:
                if output is not None:
                    out.close()
                else:
                    out.flush()
        if output is not None:
            what = "document" if group_by else "hit"
            click.echo(f"Wrote {_n(n, what)} of {stream.total_documents if group_by else stream.total} to {output}.",
                       err=True)
        return
    t0 = time.perf_counter()
    result = kb.search(query, limit=limit, context=context, expand=expand, correct=True, group_by=group_by,
                       sort=sort, facets=facets, **restrictions)
    elapsed = time.perf_counter() - t0
    if as_json:
        text = serialize.dumps(serialize.search_result(result, query=query))
        if output is not None:
            out = _open_output(output)
            with out:
                out.write(text + "\n")
            click.echo(f"Wrote the JSON result to {output}.", err=True)
        else:
            click.echo(text)
        return
    color = _color()
    if result.lexicon_outdated:
        click.echo("Note: your segmentation words changed since the index was built; the next `kb index` applies "
                   "them to indexed documents.", err=True)
    if result.corrected:
        click.echo(f"No passages match {query!r}; showing results for {result.suggestion!r}.")
    elif result.suggestion:
        click.echo(f"Did you mean: {result.suggestion}")
    if result.relaxed:
        words = [w for w in query.split() if not w.startswith("-") and w not in ("AND", "OR", "NOT")]
        click.echo(f"No passage has all of {', '.join(words)}; showing passages with most of them.")
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
    if result.facets:
        click.echo(_facet_line(result.facets, documents=bool(group_by)))
        click.echo()
    if group_by:
        for n, g in enumerate(result.groups, 1):
            _print_group(n, g, color)
            click.echo()
        click.echo(f"{len(result.groups)} of {_n(result.total_documents or 0, 'matching document')} "
                   f"({_n(result.total, 'passage')}, {elapsed * 1000:.0f} ms).")
        return
    for n, hit in enumerate(result, 1):
        for c in (c for c in hit.context if c.start < hit.start):
            click.echo(_block(c.text, "   ┆ "))
        _print_hit(n, hit, color)
        for c in (c for c in hit.context if c.start > hit.start):
            click.echo(_block(c.text, "   ┆ "))
        click.echo()
    click.echo(f"{len(result)} of {result.total} matching passages ({elapsed * 1000:.0f} ms).")


def _print_group(n: int, g, color: bool) -> None:
    d = g.document
    head = _one_line(d.title)
    meta = "  ".join(_one_line(x) for x in (d.date, d.source) if x)
    if color:
        head = click.style(head, bold=True)
        meta = click.style(meta, fg="green")
    click.echo(f"{n}. {head}  {meta}  [{d.id}]".rstrip())
    sections = "; ".join(_one_line(e.section) for e in g.sections)
    line = f"{_n(g.matches, 'matching passage')} · § {sections}"
    click.echo("   " + (click.style(line, fg="cyan") if color else line))
    click.echo(f"   ¶{g.best.paragraph} · {g.best.id}")
    click.echo(_block(_render_snippet(g.best, color)))


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
@_index_option
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
@_index_option
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


@main.command("docs")
@_index_option
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["csv", "md", "jsonl"]), default=None,
              help="Export: csv (UTF-8 with BOM, for Excel), md or jsonl.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the list to this file (format from --format, or from the file's suffix).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handle_errors
def docs_cmd(kb: KnowledgeBase, section: str | None, doc: str | None, topic: str | None, since: str | None,
             until: str | None, where: tuple[str, ...], fmt: str | None, output: Path | None, as_json: bool) -> None:
    """List the indexed documents: id, date, passages, title, source, path. Takes the filters of `search`.

    Example:

        kb docs --where province=云南

        kb docs --since 2026 --format csv --output reports.csv
    """
    fmt = _export_format(fmt, output, False)
    if fmt == "json":
        as_json, fmt = True, None
    docs = kb.documents(section=section, doc=doc, topic=topic, since=since, until=until, where=where)
    if fmt:
        from . import export

        keys = list(dict.fromkeys(k for d in docs for k in d.metadata))
        out = _open_output(output)
        try:
            n = export.write(docs, fmt, out, metadata_keys=keys, kind="document")
        finally:
            if output is not None:
                out.close()
            else:
                out.flush()
        if output is not None:
            click.echo(f"Wrote {_n(n, 'document')} to {output}.", err=True)
        return
    if as_json:
        text = serialize.dumps(serialize.documents(docs))
        if output is not None:
            with _open_output(output) as out:
                out.write(text + "\n")
        else:
            click.echo(text)
        return
    if not docs:
        click.echo("No documents match.")
        return
    width = max(len(d.id) for d in docs)
    for d in docs:
        click.echo(f"{d.id:<{width}}  {d.date or '-':<10}  {d.passages:>5}  {d.title}  {d.source}  {d.path}".rstrip())
    click.echo(f"{_n(len(docs), 'document')}.")


main.add_command(click.Command("documents", callback=docs_cmd.callback, params=docs_cmd.params, help=docs_cmd.help,
                               hidden=True), "documents")


@main.command("doc")
@_index_option
@click.argument("doc_id")
@click.option("--text", "with_text", is_flag=True, help="Also print the whole text, with section headings.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handle_errors
def doc_cmd(kb: KnowledgeBase, doc_id: str, with_text: bool, as_json: bool) -> None:
    """Show one document: metadata, its section outline with passage ids, and with --text its text.

    Example:

        kb doc yunnan-2026 --text
    """
    d = kb.document(doc_id, text=with_text)
    if as_json:
        _dump(serialize.document(d))
        return
    click.echo(f"{d.id}  {d.title}")
    facts = [f"date {d.date}" if d.date else "", f"source {d.source}" if d.source else "",
             _n(d.passages, "passage"), f"path {d.path}"]
    click.echo("  " + " · ".join(f for f in facts if f))
    from .query.meta import value_text

    for k, v in d.metadata.items():
        shown = "; ".join(value_text(x) for x in v) if isinstance(v, list) else value_text(v)
        click.echo(f"  {k}: {shown}")
    click.echo("Outline:")
    for e in d.outline:
        ids = e.passages[0] if len(e.passages) == 1 else f"{e.passages[0]} … {e.passages[-1]}"
        click.echo(f"  § {e.section}  ({len(e.passages)})  {ids}")
    if with_text:
        click.echo()
        click.echo(d.text)


@main.command("remove")
@_index_option
@click.argument("targets", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--lock-timeout", "--wait", "lock_timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for another running `kb index` to finish.")
@click.pass_obj
@handle_errors
def remove_cmd(kb: KnowledgeBase, targets: tuple[str, ...], as_json: bool, lock_timeout: float) -> None:
    """Drop documents from the index without a rebuild: by file, folder or document id.

    A later `kb index` over a folder that still holds the files indexes them again.

    Example:

        kb remove reports/yunnan-2026.txt

        kb remove yunnan-2025
    """
    summary = kb.remove(list(targets), lock_timeout=lock_timeout)
    if as_json:
        _dump(serialize.remove_summary(summary))
        return
    files = f" ({_n(len(summary.files), 'file')} no longer indexed)" if summary.files else ""
    click.echo(f"Removed {_n(len(summary.documents), 'document')}, {_n(summary.passages, 'passage')}{files}; "
               f"the index holds {_n(summary.total_documents, 'document')}, "
               f"{_n(summary.total_passages, 'passage')}.")


def _display_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def _change_line(c) -> str:
    when = time.strftime("%H:%M:%S")
    where = _display_path(c.path)
    if c.action == "skipped":
        return f"{when} skipped {where}: {c.reason}"
    return f"{when} {c.action} {where} ({_n(c.documents, 'document')}, {_n(c.passages, 'passage')})"


@main.command("watch")
@_index_option
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--debounce", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Seconds of quiet before a burst of changes is indexed.")
@click.option("--lock-timeout", "--wait", "lock_timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for another running `kb index` to finish.")
@click.pass_obj
@handle_errors
def watch_cmd(kb: KnowledgeBase, paths: tuple[Path, ...], debounce: float, lock_timeout: float) -> None:
    """Keep the index current: index PATHS now, then again whenever files there change (Ctrl-C stops).

    Prints one line per added, updated, removed or skipped file.

    Example:

        kb watch reports/
    """
    import threading

    sources = list(paths) or [DEFAULT_SOURCE]
    stop = threading.Event()

    def on_term(signum, _frame):
        # Ctrl-C and SIGTERM stop the watch between runs (a run in progress finishes first) instead
        # of raising KeyboardInterrupt wherever the main thread happens to be, such as inside an
        # index run, which then stopped half way and could leave the process unable to exit.
        # A second Ctrl-C interrupts at once.
        stop.set()
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGTERM, on_term)
    previous_int = signal.signal(signal.SIGINT, on_term)
    runs = kb.watch(sources, debounce=debounce, stop=stop, lock_timeout=lock_timeout,
                    on_error=lambda e: click.echo(f"{time.strftime('%H:%M:%S')} error: {_message(e)}", err=True))
    first = True
    try:
        for summary in runs:
            for c in summary.changes:
                click.echo(_change_line(c))
            _echo_vocabulary_runs(summary)
            if first:
                click.echo(f"Watching {', '.join(str(p) for p in sources)}: the index holds "
                           f"{_n(summary.total_documents, 'document')}, {_n(summary.total_passages, 'passage')}. "
                           "Ctrl-C stops.")
                first = False
    except KeyboardInterrupt:
        pass
    finally:
        runs.close()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    click.echo("Stopped watching.", err=True)


@main.group("lexicon")
def lexicon_group() -> None:
    """Your own vocabulary: glossary, synonyms, topics and segmentation words (see `kb lexicon check`).

    Files live in lexicon/ beside the index, in $KB_LEXICON, or in --lexicon DIR.
    """


@lexicon_group.command("check")
@_index_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handle_errors
def lexicon_check_cmd(kb: KnowledgeBase, as_json: bool) -> None:
    """Check your vocabulary files; each problem is printed with its file and line. Exit code 1 on problems.

    Example:

        kb lexicon check
    """
    report = kb.lexicon_check()
    if as_json:
        _dump(serialize.lexicon_report(report))
    else:
        for folder in report.folders:
            state = "" if Path(folder).is_dir() else " (does not exist)"
            click.echo(f"folder {folder}{state}")
        for f in report.files:
            entries = f"{f.entries} {'entry' if f.entries == 1 else 'entries'}"
            click.echo(f"  {f.kind:<9} {entries:<12} {f.path}")
        if not report.files:
            click.echo("  no vocabulary files (glossary.tsv, synonyms.txt, topics.json, words.txt)")
        for p in report.problems:
            click.echo(f"{p.path}:{p.line}: {p.message}" if p.line else f"{p.path}: {p.message}", err=True)
        if report.pending_words:
            shown = ", ".join(report.pending_words[:10]) + (" …" if len(report.pending_words) > 10 else "")
            click.echo(f"{_n(len(report.pending_words), 'segmentation word')} not yet applied to the index "
                       f"({shown}); the next `kb index` applies them.")
        click.echo("No problems." if report.ok else f"{_n(len(report.problems), 'problem')}.")
    if not report.ok:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
