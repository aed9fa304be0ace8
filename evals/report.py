"""Eval report writers: Markdown table and a PNG chart of metrics against thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ASK_METRICS = (
    "lead_accuracy",
    "wrong_stance",
    "right_stance",
    "article_hit_at_5",
    "articles_cited",
    "key_point_coverage",
    "context_precision",
    "false_refusal",
    "question_type_accuracy",
    "smalltalk_handled",
    "junk_handled",
    "other_language_handled",
    "follow_up_after_reply",
    "kept_mid_thread",
    "uncovered_handled",
    "questions",
)
QTYPES = ("yes_no", "choice", "who", "how_many", "definition", "why", "how_to", "list")
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
        "Plan review: cross-validated on the training sentences (5 folds)",
        ["review_cv_precision", "review_cv_recall"],
    ),
    (
        "Plan review: training plans, each author read by a model trained without it",
        ["review_authors_recall", "review_authors_precision", "review_authors_plans"],
    ),
    *[
        (
            f"Plan review: {name} plans",
            [
                f"review_{name}_recall",
                f"review_{name}_precision",
                f"review_{name}_inversions",
                f"review_{name}_strength_precision",
                f"review_{name}_most_open_questions",
                f"review_{name}_good_plans_with_high",
                f"review_{name}_plans",
            ],
        )
        for name in ("dev", "heldout")
    ],
    *[
        (
            f"Answers that answer: {name} questions (evals/questions/{name}.yaml)",
            [f"ask_{name}_{metric}" for metric in ASK_METRICS],
        )
        for name in ("dev", "heldout")
    ],
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
    if any(k.startswith("ask_") for k in result.metrics):
        lines += ["", *_qtype_table(result.metrics)]
    if result.review_patterns:
        lines += ["", *_pattern_table(result.review_patterns)]
    if result.reviews:
        lines += ["", "## Plans reviewed", ""]
        lines += ["| set | plan | readiness | missed | extra | called a strength |"]
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for row in result.reviews:
            lines.append(
                f"| {row['split']} | {row['id']} | {row.get('readiness', '—')} | "
                f"{', '.join(row['missed']) or '—'} | {', '.join(row['extra']) or '—'} | "
                f"{', '.join(row.get('inverted', [])) or '—'} |"
            )
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _chart(result, thresholds, out / "chart.png")


COUNTS = {"unsupported_numbers", "ask_dev_questions", "ask_heldout_questions"} | {
    f"review_{name}_{metric}"
    for name in ("dev", "heldout")
    for metric in ("inversions", "most_open_questions", "good_plans_with_high", "plans")
}
"""Metrics that are counts, not shares: in the table, not on the chart's 0-1 scale."""


def _qtype_table(metrics: dict[str, float]) -> list[str]:
    """Per question type, dev beside held-out: lead accuracy, coverage, refusals, hit@5."""
    cols = ("lead_accuracy", "key_point_coverage", "false_refusal", "article_hit_at_5")
    head = " | ".join(f"{c} dev | {c} held-out" for c in cols)
    lines = ["## Answers per question type", "", f"| type | {head} |"]
    lines.append("| --- |" + " --- |" * (2 * len(cols)))
    for qtype in QTYPES:
        cells = [
            _fmt(metrics.get(f"ask_{split}_{c}:{qtype}", float("nan")))
            for c in cols
            for split in ("dev", "heldout")
        ]
        lines.append(f"| {qtype} | " + " | ".join(cells) + " |")
    return lines


def _qtype_chart(ax: Any, metrics: dict[str, float]) -> None:
    """Lead accuracy (direct types) and key-point coverage per question type, both splits."""
    height = 0.2
    for i, (split, metric) in enumerate(
        (s, c) for c in ("lead_accuracy", "key_point_coverage") for s in ("dev", "heldout")
    ):
        values = [metrics.get(f"ask_{split}_{metric}:{q}", 0.0) for q in QTYPES]
        values = [v if v == v else 0.0 for v in values]
        ax.barh([y + i * height for y in range(len(QTYPES))], values, height,
                label=f"{metric.replace('_', ' ')} ({split})")  # fmt: skip
    ax.set_yticks([y + 1.5 * height for y in range(len(QTYPES))], QTYPES)
    ax.set_xlim(0, 1.05)
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title("Answers per question type")


def _pattern_table(patterns: dict[str, Any]) -> list[str]:
    """Per pattern: precision and recall of flaws in each set, and the held-out confusion."""
    sets = ("cv", "dev", "heldout")
    lines = [
        "## Plan review per pattern",
        "",
        "Precision and recall of *shows the flaw*: cv per training sentence (5 folds), dev and "
        "held-out per plan. The held-out confusion counts plans by truth (none / flaw / "
        "strength) and verdict (not addressed / shown / addressed), row by row.",
        "",
        "| pattern | " + " | ".join(f"{s} P | {s} R" for s in sets) + " | held-out confusion |",
        "| --- " * (2 + 2 * len(sets)) + "|",
    ]
    for pattern, by_set in patterns.items():
        cells = [f"{_fmt(by_set[s]['precision'])} | {_fmt(by_set[s]['recall'])}" for s in sets]
        matrix = " / ".join(",".join(str(n) for n in row) for row in by_set["heldout"]["confusion"])
        lines.append(f"| {pattern} | " + " | ".join(cells) + f" | {matrix} |")
    return lines


def _pattern_chart(ax: Any, patterns: dict[str, Any]) -> None:
    """Recall of flaws per pattern: cross-validated, dev and held-out bars side by side."""
    if not patterns:
        ax.set_axis_off()
        return
    names, height = list(patterns), 0.27
    for i, (label, color) in enumerate((("cv", "#8172b2"), ("dev", "#4c72b0"),
                                        ("heldout", "#dd8452"))):  # fmt: skip
        values = [patterns[p][label]["recall"] for p in names]
        values = [v if v == v else 0.0 for v in values]  # NaN (no such flaw planted) as 0
        ax.barh([y + i * height for y in range(len(names))], values, height, label=label,
                color=color)  # fmt: skip
    ax.set_yticks([y + height for y in range(len(names))], names)
    ax.set_xlim(0, 1.05)
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    ax.set_title("Plan review: recall of flaws per pattern")


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
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(
        1, 4, figsize=(25, 10), gridspec_kw={"width_ratios": [3, 2, 3, 3]}
    )
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
    _pattern_chart(ax3, result.review_patterns)
    _qtype_chart(ax4, result.metrics)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
