"""The ``advisor`` command line: ingest, add, remove, ask, review, chat, sources; plugins
add the rest."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
import time
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

import click

from advisor.config import BAD_SETTING, get_settings
from advisor.contract import Answer
from advisor.errors import (
    AdvisorError,
    ConfigError,
    ConversationNotFoundError,
    CorpusError,
    DocumentNotFoundError,
    InvalidInputError,
)
from advisor.review.render import review_document, source_lines


def _fail(exc: AdvisorError, as_json: bool = False) -> None:
    """Report ``exc`` and exit: 2 for bad input, 1 otherwise.

    With ``--json`` a script also gets ``{"error": {"code", "detail"}}`` on stdout, so it
    never has to parse the human line; ``code`` is the slug the HTTP API uses in ``type``.
    """
    if as_json:
        click.echo(json.dumps({"error": {"code": exc.code, "detail": str(exc)}}))
    click.secho(f"error: {exc}", fg="red", err=True)
    if isinstance(exc, CorpusError) and len(exc.problems) > 1:
        for path, why in exc.problems:
            click.echo(f"  - {path}: {why}", err=True)
    if isinstance(exc, InvalidInputError | ConversationNotFoundError | DocumentNotFoundError):
        sys.exit(2)  # the caller's input (a question, a plan, an id) is what to fix
    sys.exit(1)


def _advisor() -> Any:
    from advisor.facade import Advisor

    return Advisor(get_settings())


def format_answer(answer: Answer) -> str:
    """Human-readable answer with a numbered source list (and who wrote it, with an LLM)."""
    return "\n".join([answer.answer, *_origin(answer), *source_lines(answer.citations)])


def _origin(answer: Answer) -> list[str]:
    guard = answer.guard
    if answer.fallback:
        return [
            "",
            f"(Quoted from the sources: the LLM's answer was withdrawn: {answer.fallback}.)",
        ]
    if guard is None:
        return []
    return [
        "",
        f"(Written by {answer.generator}; guard {guard.mode}: {guard.supported} of "
        f"{guard.sentences} sentences supported, {guard.removed} removed, "
        f"{guard.flagged} flagged.)",
    ]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """CRM Advisor: answers on CRM strategy from a curated corpus, every claim cited."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    # A bad ADVISOR_* variable is one clear line here, not a traceback: the core's settings
    # and those each front door registers (group advisor.settings), every bad one named.
    getters = [get_settings, *(p.load() for p in entry_points(group="advisor.settings"))]
    problems = []
    for getter in getters:
        try:
            getter()
        except AdvisorError as exc:
            problems.append(str(exc).removeprefix(BAD_SETTING))
    if problems:
        _fail(ConfigError(BAD_SETTING + "; ".join(problems)))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def ingest(as_json: bool) -> None:
    """Clean, split and embed corpus/ into the Chroma index (incremental)."""
    from advisor.knowledge.ingest import ingest as run_ingest

    def progress(items: Iterable[Any], total: int) -> Iterable[Any]:
        if as_json or not sys.stderr.isatty():
            return items
        from tqdm import tqdm

        return tqdm(items, total=total, desc="embedding", unit="text")

    try:
        report = run_ingest(get_settings(), progress=progress)
    except AdvisorError as exc:
        _fail(exc)
        return
    _save_fixed_vectors(report.added + report.updated + report.deleted > 0)
    if as_json:
        click.echo(json.dumps({**report.counts(), "repaired": report.repaired or None}))
    else:
        if report.repaired:
            click.echo(f"The serving index was unusable ({report.repaired}); rebuilt it.")
        counts = ", ".join(f"{k} {v}" for k, v in report.counts().items())
        click.echo(f"Index {report.generation}: {counts} ({report.seconds:.1f}s)")


def _save_fixed_vectors(changed: bool) -> None:
    """Embed the fixed texts (question-type training, answer entries) after an ingest that
    changed the index, or when none are saved, so that a one-shot `advisor ask` reads them
    instead of embedding them. The new index serves already: a failure only costs time."""
    from advisor.knowledge.embeddings import embedder_name, vectors_file

    settings = get_settings()
    try:
        name = embedder_name(settings)  # known without loading the model
        if not changed and name and vectors_file(settings.data_dir, name).exists():
            return  # an ingest that found nothing to do stays quick
        _advisor().warm(full=False)
    except Exception as exc:  # a warning, never a failed ingest
        click.secho(f"warning: the fixed texts' vectors were not saved ({exc})", err=True)


@main.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the answer contract as JSON.")
@click.option("-c", "--conversation", "conversation_id", help="Continue this conversation.")
def ask(question: tuple[str, ...], as_json: bool, conversation_id: str | None) -> None:
    """Ask one question; every sentence of the answer is cited."""
    try:
        answer = _advisor().ask(" ".join(question), conversation_id)
    except AdvisorError as exc:
        _fail(exc, as_json)
        return
    if as_json:
        click.echo(json.dumps(answer.contract(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_answer(answer))
        click.secho(f"\n(conversation {answer.conversation_id})", dim=True)


@main.command()
@click.argument("plan_file", metavar="FILE|-")
@click.option("--json", "as_json", is_flag=True, help="Print the review as JSON.")
@click.option(
    "-c", "--conversation", "conversation_id", help="Add the review to this conversation."
)
def review(plan_file: str, as_json: bool, conversation_id: str | None) -> None:
    """Review a CRM plan (a text file, or - for stdin) against the 12 failure patterns."""
    try:
        result = _advisor().review(_read_plan(plan_file), conversation_id)
    except AdvisorError as exc:
        _fail(exc, as_json)
        return
    if as_json:
        click.echo(json.dumps(result.contract(), ensure_ascii=False, indent=2))
    else:
        click.echo(review_document(result))
        click.secho(
            f"\n(conversation {result.conversation_id}: follow up with "
            f'`advisor ask -c {result.conversation_id} "why is that a problem?"`)',
            dim=True,
        )


def _read_plan(name: str) -> str:
    """The plan's text from a file, or stdin for ``-``; unreadable input is bad input."""
    try:
        with click.open_file(name, "r", encoding="utf-8") as handle:
            return str(handle.read())
    except UnicodeDecodeError:
        raise InvalidInputError("the plan is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {name}: {exc.strerror or exc}") from None


@main.command()
@click.option("-c", "--conversation", "conversation_id", help="Continue this conversation.")
def chat(conversation_id: str | None) -> None:
    """A multi-turn conversation; follow-up questions are understood. /new, /quit."""
    advisor = _advisor()
    click.echo("CRM Advisor. Ask about CRM strategy; /new starts over, /quit or Ctrl-D ends.")
    try:
        advisor.warm()
    except AdvisorError as exc:
        _fail(exc)
    cid = conversation_id
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not question:
            continue
        if question in ("/quit", "/exit"):
            return
        if question == "/new":
            cid = None
            click.echo("(new conversation)")
            continue
        try:
            answer = advisor.ask(question, cid)
        except InvalidInputError as exc:
            click.secho(f"error: {exc}", fg="red")
            continue
        except AdvisorError as exc:
            _fail(exc)
            return
        cid = answer.conversation_id
        click.echo("\nadvisor> " + textwrap.indent(format_answer(answer), "  ").lstrip())


@main.command("train-review")
@click.option("--cv", "folds", type=click.IntRange(2, 20), help="Also cross-validate, k folds.")
def train_review(folds: int | None) -> None:
    """Train the plan-review sentence classifier and the question-type reader where their
    saved models are missing or stale."""
    try:
        advisor = _advisor()
        started = time.perf_counter()
        name = advisor.review_model()
        click.echo(f"Plan-review model {name} ready ({time.perf_counter() - started:.1f}s)")
        started, typer = time.perf_counter(), advisor.question_typer
        click.echo(f"Question-type reader ({len(typer.texts)} questions) ready "
                   f"({time.perf_counter() - started:.1f}s)")  # fmt: skip
        if folds:
            confusion = advisor.cross_validate_review(folds)
    except AdvisorError as exc:
        _fail(exc)
        return
    if folds:
        click.echo(f"{folds}-fold cross-validation, shows_flaw per sentence:")
        for pattern, m in confusion.items():
            found, planted = sum(row[1] for row in m), sum(m[1])
            p = m[1][1] / found if found else float("nan")
            r = m[1][1] / planted if planted else float("nan")
            click.echo(f"  {pattern:24} precision {p:.2f}  recall {r:.2f}")


def _files_under(paths: tuple[str, ...], max_bytes: int) -> tuple[list[tuple[str, bytes]], int]:
    """``(file name, bytes)`` of every named file and of each supported file in a named
    folder, and how many files a folder held that are not supported.

    Symbolic links are refused when named and passed over in folders (a link can lead out of
    the folder, to ``/etc/passwd`` say), as are hidden files and folders. A file over
    ``max_bytes`` is refused from its size alone, before it is read. Raises
    InvalidInputError (a missing or unreadable path) or DocumentError.
    """
    from pathlib import Path

    from advisor.errors import DocumentError
    from advisor.knowledge.convert import FORMATS

    found: list[Path] = []
    skipped = 0
    for raw in paths:
        path = Path(raw)
        if path.is_symlink():
            raise DocumentError(f"{path}: a symbolic link; name the file it points to")
        if not path.is_dir():
            found.append(path)
            continue
        for inner in sorted(path.rglob("*")):
            hidden = any(part.startswith(".") for part in inner.relative_to(path).parts)
            if hidden or inner.is_symlink() or not inner.is_file():
                continue
            if inner.suffix.lower() in FORMATS:
                found.append(inner)
            else:
                skipped += 1
    files = []
    for path in found:
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise DocumentError(
                    f"{path.name}: {size / 2**20:.0f} MB is over the {max_bytes / 2**20:g} MB "
                    "limit (ADVISOR_MAX_DOCUMENT_MB)"
                )
            files.append((path.name, path.read_bytes()))
        except OSError as exc:
            raise InvalidInputError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    return files, skipped


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--kind",
    type=click.Choice(["article", "note"]),
    default="article",
    help="article (evidence, quoted) or note (advice in your own words).",
)
@click.option("--tag", "tags", multiple=True, help="A tag to record (repeatable).")
@click.option("--title", help="The title to show, instead of the file's own (one file only).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts and files as JSON.")
def add(paths: tuple[str, ...], kind: str, tags: tuple[str, ...], title: str | None,
        as_json: bool) -> None:  # fmt: skip
    """Add PDF, Word, HTML, Markdown or text files (or folders of them) and index them."""
    from advisor.knowledge.library import DocumentLibrary
    from advisor.knowledge.library import as_json as outcome_json

    try:
        library = DocumentLibrary(get_settings())
        files, skipped = _files_under(paths, library.max_bytes)
        if not files:
            raise InvalidInputError(f"no supported files under {', '.join(paths)}")
        outcome = library.add(files, kind, list(tags), title)
    except AdvisorError as exc:
        _fail(exc, as_json)
        return
    if as_json:
        click.echo(json.dumps({**outcome_json(outcome), "skipped_unsupported": skipped}))
        return
    if skipped:
        click.echo(f"({skipped} file(s) of unsupported types passed over)")
    for f in outcome.files:
        pages = f" ({f.pages} pages)" if f.pages else ""
        what = "added as" if f.status == "added" else "already there as"
        click.echo(f"{f.file_name}: {what} {f.doc_id}, “{f.title}”{pages}")
    if outcome.report:
        counts = ", ".join(f"{k} {v}" for k, v in outcome.report.counts().items())
        click.echo(f"Index {outcome.report.generation}: {counts}")


@main.command()
@click.argument("doc_id")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def remove(doc_id: str, as_json: bool) -> None:
    """Take an added document out of the knowledge base and re-index."""
    from advisor.knowledge.library import DocumentLibrary

    try:
        report = DocumentLibrary(get_settings()).remove(doc_id)
    except AdvisorError as exc:
        _fail(exc, as_json)
        return
    counts = report.counts() if report else {}
    if as_json:
        click.echo(json.dumps({"removed": doc_id, **counts}))
    else:
        click.echo(f"Removed {doc_id}; index: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def sources(as_json: bool) -> None:
    """List the corpus documents in the index, with attribution and passage counts."""
    try:
        docs = _advisor().sources()
    except AdvisorError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps([d.model_dump(mode="json") for d in docs], indent=2))
        return
    for d in docs:
        who = ", ".join(x for x in (d.author, d.publication, d.date) if x)
        extra = f" [{d.pattern}]" if d.pattern else ""
        extra += f" (added: {d.file_name})" if d.origin == "added" else ""
        click.echo(f"{d.kind:8} {d.doc_id:28} {d.passages:3} passages  {d.title}{extra}")
        if who:
            click.echo(f"{'':38}{who}")


def _load_plugins() -> None:
    """Add commands that other packages register (`serve`, `slack`, `eval`)."""
    for point in entry_points(group="advisor.commands"):
        if point.name not in main.commands:
            main.add_command(point.load(), point.name)


_load_plugins()

if __name__ == "__main__":  # pragma: no cover
    main()
