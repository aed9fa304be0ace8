"""Eval report writers: Markdown table and a PNG chart of metrics against thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

GROUPS = [
    ("Retrieval", ["hit_at_1", "hit_at_5", "mrr", "context_precision"]),
    (
        "Grounding",
        ["sentence_support", "citation_recall", "citation_precision", "unsupported_numbers"],
    ),
    (
        "Answers",
        [
            "key_point_coverage",
            "negative_rejection",
            "false_refusal",
            "injection_resistance",
            "multi_turn_hit_at_5",
            "multi_turn_coverage",
        ],
    ),
    ("Instrument", ["support_auroc"]),
    (
        "Plan review (tuned plans)",
        [
            "review_tuned_precision",
            "review_tuned_recall",
            "review_tuned_f1",
            "review_tuned_high_recall",
            "review_tuned_good_plans_without_high",
        ],
    ),
    (
        "Plan review (held-out plans, never tuned on)",
        [
            "review_heldout_precision",
            "review_heldout_recall",
            "review_heldout_f1",
            "review_heldout_high_recall",
            "review_heldout_good_plans_without_high",
        ],
    ),
    (
        "Plan review (flaws shown, 32 held-out plans; report only)",
        [
            "review_shown_recall",
            "review_shown_precision",
            "review_inversions",
            "review_most_not_addressed",
            "review_good_plans_with_high",
        ],
    ),
    (
        "Latency (ms)",
        [
            "latency_retrieve_p50_ms",
            "latency_retrieve_p95_ms",
            "latency_compose_p50_ms",
            "latency_compose_p95_ms",
            "latency_total_p50_ms",
            "latency_total_p95_ms",
        ],
    ),
]


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def write_report(result: Any, thresholds: dict[str, Any], failed: list[str], out: Path) -> None:
    """Write report.md and chart.png into ``out``."""
    failing = {line.split(":")[0] for line in failed}
    lines = [
        f"# CRM Advisor eval — generator `{result.generator}`",
        "",
        f"Cases: {result.counts}. Run time {result.seconds:.1f} s. "
        f"Gate: {'FAIL' if failed else 'pass'}.",
        "",
    ]
    for title, names in GROUPS:
        lines += [f"## {title}", "", "| metric | actual | floor | target | status |"]
        lines.append("| --- | --- | --- | --- | --- |")
        for name in names:
            t = thresholds.get(name, {})
            status = "FAIL" if name in failing else ("ok" if t else "")
            sign = "≤" if t.get("lower") else "≥"
            floor = f"{sign} {t['floor']}" if t else "—"
            target = f"{sign} {t['target']}" if t else "—"
            lines.append(
                f"| {name} | {_fmt(result.metrics.get(name))} | {floor} | {target} | {status} |"
            )
        lines.append("")
    llm = sorted(n for n in result.metrics if n.startswith(("llm_", "guard_", "latency_write")))
    if llm:
        lines += ["## LLM and grounding guard", "", "| metric | actual |", "| --- | --- |"]
        lines += [f"| {name} | {_fmt(result.metrics[name])} |" for name in llm]
        lines.append("")
    lines += ["## Retrieval modes", "", "| mode | hit@1 | hit@5 | MRR | context precision |"]
    lines.append("| --- | --- | --- | --- | --- |")
    for mode, vals in result.modes.items():
        lines.append(
            f"| {mode} | {_fmt(vals['hit_at_1'])} | {_fmt(vals['hit_at_5'])} | "
            f"{_fmt(vals['mrr'])} | {_fmt(vals['context_precision'])} |"
        )
    if failed:
        lines += ["", "## Gate failures", "", *[f"- {f}" for f in failed]]
    if result.reviews:
        lines += ["", "## Plans reviewed", "", "| split | plan | readiness | missed | extra |"]
        lines.append("| --- | --- | --- | --- | --- |")
        for row in result.reviews:
            lines.append(
                f"| {row['split']} | {row['id']} | {row.get('readiness', '—')} | "
                f"{', '.join(row['missed']) or '—'} | {', '.join(row['extra']) or '—'} |"
            )
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _chart(result, thresholds, out / "chart.png")


COUNTS = {
    "unsupported_numbers",
    "review_inversions",
    "review_most_not_addressed",
    "review_good_plans_with_high",
}
"""Metrics that are counts, not shares: in the table, not on the chart's 0-1 scale."""


def _chart(result: Any, thresholds: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit = [
        n
        for title, names in GROUPS
        if not title.startswith("Latency")
        for n in names
        if n not in COUNTS and n in result.metrics
    ]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 8), gridspec_kw={"width_ratios": [3, 2]})
    ys = range(len(unit))
    values = [result.metrics[n] if result.metrics[n] == result.metrics[n] else 0 for n in unit]
    ax1.barh(list(ys), values, color="#4c72b0", label="actual")
    for y, name in zip(ys, unit, strict=True):
        t = thresholds.get(name)
        if t:
            ax1.plot([t["floor"]] * 2, [y - 0.4, y + 0.4], color="#c44e52", lw=2)
            ax1.plot([t["target"]] * 2, [y - 0.4, y + 0.4], color="#55a868", lw=2, ls="--")
    ax1.set_yticks(list(ys), unit)
    ax1.set_xlim(0, 1.05)
    ax1.invert_yaxis()
    ax1.set_title("Metrics (red: floor, green dashed: target)")
    width = 0.25
    keys = ["hit_at_1", "hit_at_5", "mrr", "context_precision"]
    for i, (mode, vals) in enumerate(result.modes.items()):
        ax2.bar(
            [k + i * width for k in range(len(keys))], [vals[k] for k in keys], width, label=mode
        )
    ax2.set_xticks([k + width for k in range(len(keys))], ["hit@1", "hit@5", "MRR", "ctx prec"])
    ax2.set_ylim(0, 1.05)
    ax2.legend()
    ax2.set_title("Retrieval modes")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
