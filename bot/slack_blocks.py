"""Block Kit formatting of advisor results for Slack, within Slack's limits."""

from __future__ import annotations

import json
import re
from typing import Any

from slackify_markdown import slackify_markdown

from advisor import (
    ADVICE_HEADING,
    DIRECT_HEADING,
    EVIDENCE_HEADING,
    Answer,
    Citation,
    Review,
    SourceInfo,
)

MAX_TEXT = 3000  # characters in one section's text
MAX_BLOCKS = 50  # blocks in one message
SNIPPET = 220  # characters of a quoted passage in the sources block
Block = dict[str, Any]

WORKING = "Working on it… :hourglass_flowing_sand:"
FAILED = (
    "Sorry, I couldn't answer that just now. Please try again in a minute; "
    "if it keeps happening, tell the team that runs the CRM Advisor."
)
HELP = (
    "*CRM Advisor* answers questions on CRM strategy from a curated set of articles and "
    "best-practice notes, and cites every claim.\n"
    "• `/crm <question>`: ask privately, then share the answer in the channel if you like\n"
    "• `/crm review <plan>`: paste a CRM plan and I check it against 12 failure patterns\n"
    "• On any message: ⋯ → *Review this CRM plan* reviews it in a thread\n"
    "• `/crm sources`: the documents I answer from\n"
    "• `/crm help`: this message\n"
    "• Mention me in a channel, or write to me directly; follow-ups in the thread continue "
    "the conversation.\n"
    "Try: `/crm Why is our CRM plan too broad?`"
)


# "review: <plan>" or "review this plan <plan>" in a mention, DM or /crm asks for a plan review.
_REVIEW = re.compile(r"(?is)^\s*review\b(?:\s+(?:this|my|our|the))?(?:\s+(?:crm\s+)?plan)?\s*:?\s*")

PANE_GREETING = "Hi! Ask me about CRM strategy, or paste a CRM plan for a review."
PANE_PROMPTS_TITLE = "Try one of these"
PANE_PROMPTS = [
    {"title": "Review my CRM plan", "message": "Review my CRM plan"},
    {"title": "Why do CRM projects fail?", "message": "Why do CRM projects fail?"},
    {"title": "Who should own the CRM project?", "message": "Who should own the CRM project?"},
    {
        "title": "How should we phase the rollout?",
        "message": "How should we phase a CRM rollout?",
    },
]
PANE_ASK_FOR_PLAN = (
    "Paste your CRM plan in your next message in this thread: its goals, scope, owner, "
    "budget and rollout, 12 words to 20,000 characters. I'll check it against 12 known "
    "failure patterns."
)
PANE_STATUS = "is reading the sources…"
SHORTENED = "_Shortened to fit Slack._"  # the last section of a review cut to fit


def plan_help(reason: object) -> str:
    """The one line that says why a text was not reviewed as a plan (from the input check)."""
    return f"I couldn't review that as a plan: {reason}."


def asks_for_review(text: str) -> bool:
    """True when the message asks for a plan review ("review: …", "review my CRM plan")."""
    return bool(_REVIEW.match(text))


def review_text(text: str) -> str:
    """The plan of a "review: <plan>" message (empty when only the request was sent)."""
    return _REVIEW.sub("", text, count=1).strip()


def pane_title(text: str, limit: int = 60) -> str:
    """An assistant thread's title: the first question, on one line, cut at a word."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line or "CRM question"
    return line[:limit].rsplit(" ", 1)[0] + "…"


def plain_text(text: str) -> str:
    """Slack message markup back to plain text: links, channels and entities unwrapped."""
    text = re.sub(r"<(?:https?|mailto):[^|>]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<((?:https?|mailto):[^>]*)>", r"\1", text)
    text = re.sub(r"<#[A-Z0-9]+\|([^>]*)>", r"#\1", text)
    text = re.sub(r"<!(here|channel|everyone)>", r"@\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_USER = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+(?:\|[^>]*)?>")


def incoming_question(text: str, bot_user: str = "") -> str:
    """A Slack message as the advisor's question, in plain words.

    The bot's own mention goes, and so do the mentions that open the message (addressing
    someone); any other person becomes "a colleague" and a channel "this channel", so that
    ids and channel names never reach the search. Links and entities are unwrapped.
    """
    text = text.strip()
    while (lead := _USER.match(text)) is not None:
        text = text[lead.end() :].lstrip(" ,:")
    text = _USER.sub(lambda m: "" if m[1] == bot_user else "a colleague", text)
    text = _CHANNEL.sub("this channel", text)
    return re.sub(r"[ \t]+", " ", plain_text(text)).strip()


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str) -> Block:
    """A mrkdwn section block, cut to Slack's limit."""
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


_TAG = re.compile(r"<([^<>]*)>")
_LINK = re.compile(r"(?:https?|mailto):[^\s|]+(?:\|[^|]*)?$")


def mrkdwn(markdown: str) -> str:
    """Markdown, as an LLM writes it, in Slack's mrkdwn: ``**bold**`` → ``*bold*``, headings
    in bold, ``- item`` → ``• item``, ``[text](url)`` → ``<url|text>``; ``&``, ``<`` and
    ``>`` escaped, so no text can ping a channel or fake a link.

    Parsed, not pattern-matched: slackify-markdown, on markdown-it-py's CommonMark parser.
    """
    text = re.sub(r"(?m)^(\s*)•\s+", r"\1• ", slackify_markdown(markdown))
    # The parser passes HTML-like spans through ("<!here>" reads as a declaration); Slack
    # would act on them, so only the links it wrote itself keep their brackets.
    text = _TAG.sub(lambda m: m[0] if _LINK.match(m[1]) else escape(m[0]), text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _answer_sections(answer_text: str) -> list[Block]:
    """The answer as sections: its headings in bold, its Markdown as mrkdwn, each under 3,000."""
    headings = (DIRECT_HEADING, EVIDENCE_HEADING, ADVICE_HEADING)
    markdown = "\n".join(
        f"**{line}**" if line in headings else line for line in answer_text.splitlines()
    )
    return _chunk([ln for ln in mrkdwn(markdown).splitlines() if ln.strip()])


def _chunk(lines: list[str]) -> list[Block]:
    """Lines packed into as few sections as Slack's 3,000-character limit allows."""
    blocks: list[Block] = []
    chunk = ""
    for line in lines:
        if chunk and len(chunk) + len(line) + 1 > MAX_TEXT:
            blocks.append(section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk.strip():
        blocks.append(section(chunk))
    return blocks


def _origin(c: Citation) -> str:
    if c.kind != "article":
        return f"CRM Advisor {'direct answer' if c.kind == 'answer' else 'advice note'}" + (
            f" — {c.section}" if c.section else ""
        )
    return ", ".join(x for x in (c.author, c.publication, c.date) if x) or "article"


def _snippet(quote: str) -> str:
    flat = " ".join(quote.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1].rsplit(" ", 1)[0] + "…"


def source_blocks(citations: list[Citation]) -> list[Block]:
    """A compact sources list: title, author or publication, and a quoted snippet."""
    if not citations:
        return []
    blocks: list[Block] = [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "*Sources*"}]}
    ]
    for c in citations:
        blocks.append(
            section(
                f"*[{c.n}] {escape(c.title)}*  _{escape(_origin(c))}_\n"
                f"> {escape(_snippet(c.quote))}"
            )
        )
    return blocks


def _ref(answer: Answer) -> str:
    return _ref_of(answer.conversation_id, answer.turn)


def feedback_block(answer: Answer) -> Block:
    """👍/👎 buttons whose value names the conversation and turn."""
    return feedback_block_for(answer.conversation_id, answer.turn)


def feedback_block_for(conversation_id: str, turn: int) -> Block:
    """👍/👎 buttons for any turn (an answer or a review)."""
    ref = _ref_of(conversation_id, turn)
    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            {
                "type": "button",
                "action_id": "feedback_up",
                "text": {"type": "plain_text", "text": "👍 Helpful", "emoji": True},
                "value": ref,
            },
            {
                "type": "button",
                "action_id": "feedback_down",
                "text": {"type": "plain_text", "text": "👎 Not helpful", "emoji": True},
                "value": ref,
            },
        ],
    }


def answer_blocks(answer: Answer, *, shareable: bool = False) -> list[Block]:
    """An answer as blocks: text with [n] markers, sources, feedback (and Share, if private)."""
    if answer.answered:
        blocks = _answer_sections(answer.answer)
    else:
        blocks = [section(":information_source: *My sources don't cover that.*")]
        blocks += _answer_sections(answer.answer)
    sources = source_blocks(answer.citations)
    origin = provenance(answer)
    if origin:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": origin}]})
    actions = [feedback_block(answer)]
    if shareable:
        actions[0]["elements"].append(
            {
                "type": "button",
                "action_id": "share_answer",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Share in channel"},
                "value": _ref(answer),
            }
        )
    room = MAX_BLOCKS - len(blocks) - len(actions)
    if len(sources) > room:
        sources = [*sources[: room - 1], section("_More sources were cited than fit here._")]
    return [*blocks, *sources, *actions]


def answer_footer_blocks(answer: Answer) -> list[Block]:
    """What follows a streamed answer's text: the provenance line, sources and feedback."""
    full = answer_blocks(answer)
    text = len(_answer_sections(answer.answer)) + (0 if answer.answered else 1)
    return full[text:]


def provenance(answer: Answer) -> str:
    """A context line on who wrote an LLM-backed answer and what the guard did, else ""."""
    if answer.fallback:
        why = escape(answer.fallback)
        return f"_Quoted from the sources: the AI-written answer was withdrawn ({why})._"
    guard = answer.guard
    if guard is None:
        return ""
    acts = [f"{guard.removed} unsupported sentence(s) removed"] if guard.removed else []
    acts += [f"{guard.flagged} unverified sentence(s) flagged"] if guard.flagged else []
    done = f" ({', '.join(acts)})" if acts else ""
    return (
        f"_Written by {escape(answer.generator)}; each sentence checked against its sources{done}._"
    )


def streaming_text(text: str) -> str:
    """The text of a reply still being written, as the placeholder shows it."""
    return escape(text[-3500:]) + " …"


def fallback_text(answer: Answer) -> str:
    """The plain text Slack shows in notifications."""
    first = next((ln for ln in answer.answer.splitlines() if ln.startswith("- ")), answer.answer)
    return first.removeprefix("- ")[:300]


def sources_blocks(sources: list[SourceInfo]) -> list[Block]:
    """The corpus documents, for `/crm sources`."""
    articles = [s for s in sources if s.kind == "article"]
    notes = [s for s in sources if s.kind == "note"]
    answers = [s for s in sources if s.kind == "answer"]
    lines = ["*Articles*"]
    for s in articles:
        who = ", ".join(x for x in (s.author, s.publication, s.date) if x)
        lines.append(f"• {escape(s.title)}" + (f" — {escape(who)}" if who else ""))
    lines.append("*Best-practice notes*")
    lines += [f"• {escape(s.title)}" for s in notes]
    if answers:
        lines.append(
            f"*Direct answers*: {len(answers)} short answers to managers' common questions"
        )
    return _chunk(lines)[:MAX_BLOCKS]


SEVERITY_ICON = {"high": ":red_circle:", "medium": ":large_orange_circle:", "low": ":white_circle:"}


def _ref_of(conversation_id: str, turn: int) -> str:
    return json.dumps({"c": conversation_id, "t": turn}, separators=(",", ":"))


def review_blocks(review: Review, *, shareable: bool = False) -> list[Block]:
    """A plan review as blocks: score and summary, red flags, open questions, strengths, goal
    rewrite, sources, buttons."""
    blocks: list[Block] = [
        section(
            f"*Plan review: readiness {review.readiness}/100 ({review.verdict})*\n"
            f"{escape(review.summary)}"
            + (f"\n_{escape(review.narrative)}_" if review.narrative else "")
        )
    ]
    if review.red_flags:
        blocks.append(section("*:triangular_flag_on_post: Red flags*"))
    for i, f in enumerate(review.red_flags, start=1):
        lines = [f"*{i}. {escape(f.title)}*  {SEVERITY_ICON[f.severity]} {f.severity}"]
        lines += [f"> {escape(e)}" for e in f.evidence]
        lines += [f"*Why:* {escape(f.why)}", f"*Fix:* {escape(f.fix)}"]
        blocks.append(section("\n".join(lines)))
    if review.open_questions:
        lines = ["*:grey_question: Open questions* (the plan does not say)"]
        for i, f in enumerate(review.open_questions, start=1):
            lines.append(f"{i}. *{escape(f.question)}* ({escape(f.title)})")
            lines.append(f"{escape(f.why)} *Fix:* {escape(f.fix)}")
        blocks += _chunk(lines)
    if review.strengths:
        lines = ["*:white_check_mark: Strengths*"]
        lines += [
            f"• *{escape(s.title)}*: “{escape(s.evidence[0])}”"
            for s in review.strengths
            if s.evidence
        ]
        blocks += _chunk(lines)
    if review.goal_rewrite:
        g = review.goal_rewrite
        blocks.append(
            section(
                f"*Your headline goal, restated*\n{escape(g.rewrite)}\n"
                f"_was: “{escape(g.original)}”_"
                + (f"\n_To fill in: {escape('; '.join(g.fill_in))}_" if g.fill_in else "")
            )
        )
    if review.citations:
        lines = ["*Sources*"]
        lines += [f"[{c.n}] {escape(c.title)} — _{escape(_origin(c))}_" for c in review.citations]
        blocks += _chunk(lines)
    actions = feedback_block_for(review.conversation_id, review.turn)
    if shareable:
        actions["elements"].append(
            {
                "type": "button",
                "action_id": "share_answer",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Share in channel"},
                "value": _ref_of(review.conversation_id, review.turn),
            }
        )
    return [
        *blocks[: MAX_BLOCKS - 2],
        *([section(SHORTENED)] if len(blocks) > MAX_BLOCKS - 2 else []),
        actions,
    ]


def review_fallback(review: Review) -> str:
    """The plain text Slack shows in notifications for a review."""
    return review.summary[:300]


def unpack_ref(value: str) -> tuple[str, int]:
    """The (conversation id, turn) a button's value names."""
    data = json.loads(value)
    return str(data["c"]), int(data["t"])
