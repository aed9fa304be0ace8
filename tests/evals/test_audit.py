"""The pip-audit summary: packages it could not look up are never counted as clean."""

from __future__ import annotations

from evals.audit import summarise


def test_unaudited_packages_and_findings_are_both_reported() -> None:
    """Skips are counted by reason; each vulnerability is listed with its fixes."""
    report = {
        "dependencies": [
            {"name": "a", "version": "1.0", "vulns": []},
            {"name": "b", "version": "2.0", "skip_reason": "Dependency not found on PyPI: b"},
            {
                "name": "c",
                "version": "0.1",
                "vulns": [{"id": "PYSEC-1", "fix_versions": ["0.2"], "aliases": ["CVE-1"]}],
            },
        ]
    }
    summary = summarise(report)
    assert (summary["packages"], summary["audited"], summary["not_audited"]) == (3, 2, 1)
    assert summary["not_audited_reasons"] == {"Dependency not found on PyPI": 1}
    assert summary["findings"] == [
        {
            "package": "c",
            "version": "0.1",
            "id": "PYSEC-1",
            "fix_versions": ["0.2"],
            "aliases": ["CVE-1"],
        }
    ]
