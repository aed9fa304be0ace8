"""Restating a plan's headline goal in specific, measurable form, from the plan's own subject."""

from __future__ import annotations

import re

from advisor.contract import GoalRewrite
from advisor.review.plan import Plan, PlanSentence

# (what the goal is about, its subject, the direction, the metric, the unit, the measure)
_AREAS: list[tuple[str, str, str, str, str, str]] = [
    (r"churn|cancel\w*|laps\w+|attrition|defect\w*", "customer churn", "Reduce", "churn rate",
     "%", "the monthly churn report"),
    (r"retention|retain\w*|loyal\w*|renewal\w*|repeat", "customer retention", "Raise",
     "retention rate", " percentage points", "the monthly retention report"),
    (r"satisf\w+|happ\w+|delight\w*", "customer satisfaction", "Raise", "CSAT score",
     " points", "a post-contact satisfaction survey"),
    (r"complain\w*", "complaints", "Reduce", "complaints per 1,000 customers", "%",
     "the complaints log"),
    (r"follow[- ]?ups?|response|respond\w*|turnaround", "response time", "Cut",
     "median time to first response", "%", "CRM activity timestamps"),
    (r"cross[- ]?sell\w*|up[- ]?sell\w*|share of wallet", "cross-selling", "Raise",
     "products held per customer", "%", "the monthly sales report"),
    (r"conver\w+|enrol\w*|win rate|close rate", "conversion", "Raise", "conversion rate",
     " percentage points", "the CRM pipeline report"),
    (r"sales|revenue|pipeline|grow\w*|income|donations?|giving", "revenue", "Raise",
     "revenue from existing customers", "%", "the monthly sales report"),
    (r"service|support|resolution|enquir\w+|serve", "customer service", "Raise",
     "first-contact resolution rate", " percentage points", "the CRM case records"),
    (r"cost\w*|efficien\w+|productiv\w+", "cost to serve", "Reduce", "cost per customer contact",
     "%", "the finance cost-to-serve report"),
    (r"relationship\w*|experience|customer[- ]centric\w*|engag\w+|brand", "customer relationships",
     "Raise", "Net Promoter Score", " points", "a quarterly NPS survey"),
    (r"insight\w*|information|visibility|360|view|data", "customer insight", "Raise",
     "share of customer records complete and current", " percentage points",
     "a monthly data-quality report"),
]  # fmt: skip
_FILLER = frozenset(
    "a an the our all of to and better more greater improve improved improving enhance boost "
    "increase raise every each their its we will how world class best new".split()
)
_PILOT_GROUP = re.compile(
    r"(?i)\bpilot\w*\s+(?:\w+\s+){0,2}?(?:with|in|at|for|on)\s+(?P<g>(?:the\s+)?[\w'’&-]+"
    r"(?:\s+[\w'’&-]+){0,4}?)(?=\s+(?:for|before|over|from|during|until|then|first|to|with|and)\b"
    r"|[,.;:(]|$)"
)
# A deadline for the goal: "by Q3 2027", "within 18 months", "before December". A bare "in
# October" is when something happens (a demo, a go-live), not when the goal is due.
_TIMEFRAME = re.compile(
    r"(?i)\b(?:by|within|before)\s+(?:the\s+)?(?:end\s+of\s+)?(?:q[1-4](?:\s+20\d\d)?|20\d\d"
    r"|\d+\s+(?:months?|years?|quarters?)|(?:january|february|march|april|may|june|july|august"
    r"|september|october|november|december)(?:\s+20\d\d)?)\b|\bin\s+\d+\s+(?:months?|years?)\b"
)


def headline_goal(plan: Plan) -> PlanSentence:
    """The plan's headline goal: the first goal sentence, preferring a goals section."""
    goals = plan.with_cue("goal")
    in_section = [
        s for s in goals if re.search(r"(?i)goal|objective|vision|aim|purpose|why", s.section)
    ]
    return (in_section or goals or plan.sentences)[0]


def _subject(sentence: str, area: str) -> str:
    """The plan's own words for what the goal is about, else the area's name."""
    m = re.search(rf"(?i)((?:[\w'’-]+\s+){{0,2}})\b({area})", sentence)
    if not m:
        return ""
    words = [w for w in (m.group(1) + m.group(2)).split() if w.lower() not in _FILLER]
    return " ".join(words[-3:])


def rewrite_goal(plan: Plan, head: PlanSentence | None = None) -> GoalRewrite | None:
    """Restate the headline goal as: change metric for a group by N, by doing Y, measured by Z.

    ``head`` is the goal to restate (default: the plan's headline goal); None when the plan
    states no goal at all, since restating an unrelated first sentence helps nobody.
    """
    if head is None and not plan.with_cue("goal"):
        return None
    head = head or headline_goal(plan)
    texts = [head.text] + [s.text for s in plan.with_cue("goal")] + [plan.text]
    area = next(
        (a for t in texts for a in _AREAS if re.search(rf"(?i)\b({a[0]})", t)),
        (r"customer", "customer outcomes", "Improve", "one agreed customer KPI", "%",
         "a monthly KPI report"),
    )  # fmt: skip
    pattern, subject, verb, metric, unit, measure = area
    own = _subject(head.text, pattern) or subject
    group_match = _PILOT_GROUP.search(plan.text)
    group = group_match.group("g").strip() if group_match else "one customer group"
    # Only the goal's own sentences say when the goal is due.
    when_match = next((m for t in texts[:-1] if (m := _TIMEFRAME.search(t))), None)
    when = when_match.group(0) if when_match else "within 12 months"
    how = (
        f"by piloting with {group} first and fixing the causes the pilot finds"
        if group_match
        else "by starting with one team and the one customer problem that costs most"
    )
    fill = [
        "N: the target, set once the baseline is known",
        f"{metric}: a suggestion; use the measure your team already trusts",
    ]
    rewrite = (
        f"{verb} the {metric} for {group} by N{unit} from the baseline recorded in the first "
        f"quarter, {when}, {how}; measured by {measure} and reported monthly to the "
        "executive sponsor."
    )
    if not group_match:
        fill.append("one customer group: name the segment or team to start with")
    return GoalRewrite(
        original=head.text, rewrite=rewrite, subject=own, metric=metric, fill_in=fill
    )
