"""A plan review as text: red flags, then open questions, then strengths, then the goal.

The same three groups, in the same order, are what the page and Slack show; they read the
``Review`` model, and this text is what the conversation stores for follow-ups.
"""

from __future__ import annotations

from advisor.contract import Answer, Citation, Finding, Review, Strength


def summarise(
    findings: list[Finding],
    strengths: list[Strength],
    readiness: int,
    verdict: str,
    silent: int = 0,
) -> str:
    """A short plain summary: the score, the red flags, what to fix first, what is sound.

    ``silent`` is how many of the 12 areas the plan says nothing about.
    """
    flags = [f for f in findings if f.basis == "shown"]
    questions = [f for f in findings if f.basis != "shown"]
    parts = [f"Readiness {readiness}/100: {verdict}."]
    if flags:
        first = _lower_first(flags[0].title)
        parts.append(f"{_count(len(flags), 'red flag')}; fix first: {first}.")
    elif not strengths:
        parts.append("The plan says nothing the review can read about any of the 12 areas.")
    else:
        parts.append("No red flags: the plan shows none of the 12 failure patterns.")
    if questions:
        parts.append(f"{_count(len(questions), 'open question')} to settle.")
    if silent:
        parts.append(f"{_count(silent, 'area')} of 12 not covered.")
    if strengths:
        titles = [s.title for s in strengths[:4]]
        if len(strengths) > 4:
            titles[-1] += f" (and {len(strengths) - 4} more)"
        parts.append(f"Already sound: {_join(titles)}.")
    return " ".join(parts)


def _lower_first(title: str) -> str:
    """A title inside a sentence: "Software before strategy" → "software before strategy",
    but an acronym stays as it is ("IT-only ownership")."""
    return title if title[:2].isupper() else title[:1].lower() + title[1:]


def render_review(review: Review) -> str:
    """The review as plain text, each corpus sentence followed by its [n] citation."""
    lines = [f"Plan review: readiness {review.readiness}/100 ({review.verdict})", review.summary]
    if review.narrative:
        lines += ["", f"In brief ({review.narrative_by}): {review.narrative}"]
    flags, questions = review.red_flags, review.open_questions
    if flags:
        lines += ["", "Red flags"]
    for i, f in enumerate(flags, start=1):
        lines += [f"{i}. {f.title} ({f.severity})"]
        lines += [f"   In your plan: “{e}”" for e in f.evidence]
        lines += [f"   Why it matters: {f.why}", f"   What to do: {f.fix}"]
    if questions:
        lines += ["", "Open questions (the plan does not say)"]
    for i, f in enumerate(questions, start=1):
        lines += [f"{i}. {f.question} ({f.title})", f"   Why it matters: {f.why}"]
        lines += [f"   What to do: {f.fix}"]
    if review.strengths:
        lines += ["", "Strengths"]
        lines += [f"- {s.title}: “{s.evidence[0]}”" for s in review.strengths if s.evidence]
    if review.goal_rewrite:
        g = review.goal_rewrite
        lines += ["", f"Your headline goal, restated: {g.rewrite}", f"   (was: “{g.original}”)"]
        lines += [f"   To fill in: {'; '.join(g.fill_in)}."] if g.fill_in else []
    return "\n".join(lines)


def review_document(review: Review) -> str:
    """The review as a plain-text document: its text, then the numbered sources it cites."""
    return "\n".join([review.text, *source_lines(review.citations)])


def answer_document(answer: Answer) -> str:
    """The answer as a plain-text document: its text, then the numbered sources it cites."""
    return "\n".join([answer.answer, *source_lines(answer.citations)])


def source_lines(citations: list[Citation]) -> list[str]:
    """A "Sources:" list, one line per citation: [n] title — section (author…) [kind]."""
    lines: list[str] = []
    if citations:
        lines += ["", "Sources:"]
        for c in citations:
            who = ", ".join(x for x in (c.author, c.publication, c.date) if x)
            label = {"note": "advice note", "answer": "direct answer"}.get(c.kind, "article")
            part = f" — {c.section}" if c.section else ""
            lines.append(f"  [{c.n}] {c.title}{part}{f' ({who})' if who else ''} [{label}]")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
