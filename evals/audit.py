"""`make audit`: pip-audit over the installed packages, summarised, with findings reported.

pip-audit asks PyPI's JSON API about each installed version. A package it could not look up
is counted as not audited, never as clean: "no known vulnerabilities" over zero audited
packages says nothing, and the summary says so. Exit 1 on any finding.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """Counts of audited, skipped and vulnerable packages, and every finding."""
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    findings = [
        {
            "package": d["name"],
            "version": d["version"],
            "id": v["id"],
            "fix_versions": v.get("fix_versions", []),
            "aliases": v.get("aliases", []),
        }
        for d in deps
        for v in d.get("vulns", [])
    ]
    reasons: dict[str, int] = {}
    for d in skipped:
        reason = str(d["skip_reason"]).split(":")[0]
        reasons[reason] = reasons.get(reason, 0) + 1
    return {
        "packages": len(deps),
        "audited": len(deps) - len(skipped),
        "not_audited": len(skipped),
        "not_audited_reasons": reasons,
        "findings": findings,
    }


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports/pip-audit.json"))
def main(out: Path) -> None:
    """Run pip-audit on this environment; print and save the summary; exit 1 on findings."""
    cmd = [sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off"]
    done = subprocess.run([*cmd, "-f", "json"], capture_output=True, text=True)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise click.ClickException(f"pip-audit did not run: {done.stderr.strip()[-500:]}") from None
    summary = summarise(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**summary, "raw": report}, indent=1), encoding="utf-8")
    click.echo(
        f"pip-audit: {summary['packages']} packages, {summary['audited']} audited, "
        f"{summary['not_audited']} not audited, {len(summary['findings'])} findings. Wrote {out}"
    )
    for reason, count in summary["not_audited_reasons"].items():
        click.echo(f"  not audited ({count}): {reason}")
    if summary["packages"] and not summary["audited"]:
        click.echo(
            "  WARNING: no package could be audited (the package index answers no "
            "vulnerability queries here); this run proves nothing either way.",
            err=True,
        )
    for f in summary["findings"]:
        fixes = ", ".join(f["fix_versions"]) or "no fix yet"
        click.echo(f"  FINDING {f['package']} {f['version']}: {f['id']} (fixed in {fixes})")
    if summary["findings"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
