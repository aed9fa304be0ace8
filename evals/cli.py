"""`advisor eval`: the golden set, offline, with the report and the gate (a CLI plugin)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command(name="eval")
@click.option(
    "--generator",
    default=None,
    help="extractive, or an LLM backend (openai, anthropic, llamacpp); default: settings.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("reports/eval"), show_default=True
)
@click.option("--gate", is_flag=True, help="Exit 1 if any metric falls past its floor.")
@click.option(
    "--guard",
    type=click.Choice(["remove", "flag", "off"]),
    default=None,
    help="Grounding guard mode for LLM generators (default: settings).",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    help="Run only N of the golden cases, spread over the set, without plan reviews "
    "(for slow LLM backends; the gate then reports the missing review metrics).",
)
def eval_command(
    generator: str | None, out: Path, gate: bool, guard: str | None, sample: int | None
) -> None:
    """Run the golden set offline; write report.json, report.md and chart.png."""
    from advisor import AdvisorError, get_settings, ingest
    from evals.run import run

    try:
        settings = get_settings()
        ingest(settings)  # a no-op when the index is current
        _, failed = run(settings, out, generator=generator, guard=guard, sample=sample)
    except AdvisorError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    click.echo((out / "report.md").read_text(encoding="utf-8"))
    click.echo(f"Wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'chart.png'}")
    if failed:
        click.secho("Eval gate FAILED:\n  " + "\n  ".join(failed), fg="red", err=True)
        if gate:
            sys.exit(1)
