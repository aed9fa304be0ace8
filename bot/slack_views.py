"""Block Kit for Slack's surfaces beyond messages: the App Home tab and the plan-review modal.

Kept apart from ``slack_blocks`` (answers and reviews as messages), as bolt-python's
templates keep each surface's blocks in a module of its own.
"""

from __future__ import annotations

import json
from typing import Any

from advisor import ConversationSummary, Review, review_document
from bot.slack_blocks import MAX_TEXT, PANE_PROMPTS, SHORTENED, Block, escape, section

OPEN_REVIEW = "open_review_modal"  # action id of every "Review a CRM plan" button
REVIEW_MODAL = "review_plan_modal"  # callback id of the modal's view submission
PLAN_BLOCK, PLAN_INPUT = "plan", "plan_text"
REVIEW_FILE = "review_as_file"  # action id of the "Full review as a file" button
# Slack caps a plain-text input at 3,000 characters; a longer plan goes in a DM or the pane.
MODAL_MAX_CHARS = 3000
MODAL_MIN_CHARS = 40
# A review longer than this as text, or cut to fit a message, is offered as a file too.
LONG_REVIEW_CHARS = 2500
FILE_NAME = "crm-plan-review.txt"

REVIEW_BUTTON_TEXT = "Review a CRM plan"
HOME_INTRO = (
    "I answer questions on CRM strategy from a curated set of articles and best-practice "
    "notes, citing every claim, and I review CRM plans against 12 known failure patterns."
)
HOME_WAYS = (
    "*Ways to ask*\n"
    "• The assistant pane: open it from the top bar, and follow-ups stay in its thread\n"
    "• A direct message to me, here in *Messages*\n"
    "• Mention me in a channel; replies in that thread continue the conversation\n"
    "• `/crm <question>` answers privately, with a button to share\n"
    "• On any message: ⋯ → *Review this CRM plan*"
)
HOME_NO_HISTORY = "_None yet. Ask me something in a DM or the assistant pane._"
MODAL_HINT = (
    f"Goals, scope, owner, budget and rollout: at least a few sentences, up to "
    f"{MODAL_MAX_CHARS:,} characters (Slack's limit for one field). For a longer plan, DM it "
    "to me starting with “review:”. The review comes to your DM with me."
)
REVIEW_COMING = "Reviewing your plan… :hourglass_flowing_sand:"


def review_button(*, primary: bool = True) -> Block:
    """The button that opens the plan-review modal (App Home, the pane)."""
    button: Block = {
        "type": "button",
        "action_id": OPEN_REVIEW,
        "text": {"type": "plain_text", "text": REVIEW_BUTTON_TEXT},
    }
    return {**button, "style": "primary"} if primary else button


def home_view(recent: list[tuple[ConversationSummary, str]]) -> dict[str, Any]:
    """The App Home tab: what the advisor does, examples, recent conversations, the button.

    ``recent`` pairs each of the user's conversations with a link to its thread.
    """
    examples = "\n".join(f"• {escape(p['message'])}" for p in PANE_PROMPTS[1:])
    examples += "\n• Is our plan to roll out to all teams at once too ambitious?"
    history = [_history_line(s, link) for s, link in recent]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "CRM Advisor"}},
        section(HOME_INTRO),
        {"type": "actions", "block_id": "home_actions", "elements": [review_button()]},
        {"type": "divider"},
        section(f"*Example questions*\n{examples}"),
        section(HOME_WAYS),
        {"type": "divider"},
        section("*Your recent conversations*\n" + ("\n".join(history) or HOME_NO_HISTORY)),
    ]
    return {"type": "home", "blocks": blocks}


def _history_line(summary: ConversationSummary, link: str) -> str:
    title = " ".join(summary.title.split())
    title = title if len(title) <= 70 else title[:70].rsplit(" ", 1)[0] + "…"
    turns = f"{summary.turns} turn{'s' if summary.turns != 1 else ''}"
    # Slack renders <!date^…> in the reader's own time zone.
    when = f"<!date^{int(summary.updated)}^{{date_short_pretty}} {{time}}|recently>"
    label = escape(title or "Conversation").replace("|", "¦")
    return f"• <{link}|{label}> · {turns} · {when}"


def review_modal(private_metadata: str = "") -> dict[str, Any]:
    """The modal with one multiline input for a plan; submitted as ``REVIEW_MODAL``."""
    return {
        "type": "modal",
        "callback_id": REVIEW_MODAL,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": "Review a CRM plan"},
        "submit": {"type": "plain_text", "text": "Review"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": PLAN_BLOCK,
                "label": {"type": "plain_text", "text": "Your CRM plan"},
                "hint": {"type": "plain_text", "text": MODAL_HINT},
                "element": {
                    "type": "plain_text_input",
                    "action_id": PLAN_INPUT,
                    "multiline": True,
                    "min_length": MODAL_MIN_CHARS,
                    "max_length": MODAL_MAX_CHARS,
                    "placeholder": {
                        "type": "plain_text",
                        "text": "Paste the plan: goals, scope, owner, budget, rollout…",
                    },
                },
            }
        ],
    }


def submitted_plan(view: dict[str, Any]) -> str:
    """The plan text of a submitted review modal ('' when the field is missing or empty)."""
    values = view.get("state", {}).get("values", {})
    return str(values.get(PLAN_BLOCK, {}).get(PLAN_INPUT, {}).get("value") or "")


def is_long(review: Review, blocks: list[Block]) -> bool:
    """True when the review is worth offering as a file: long, or shortened to fit."""
    shortened = any(b.get("type") == "section" and b["text"]["text"] == SHORTENED for b in blocks)
    return shortened or len(review_document(review)) > LONG_REVIEW_CHARS


def with_file_button(blocks: list[Block], conversation_id: str, turn: int) -> list[Block]:
    """The review's blocks with a "Full review as a file" button beside its feedback."""
    button = {
        "type": "button",
        "action_id": REVIEW_FILE,
        "text": {"type": "plain_text", "text": "Full review as a file"},
        "value": json.dumps({"c": conversation_id, "t": turn}, separators=(",", ":")),
    }
    actions = next((b for b in reversed(blocks) if b.get("type") == "actions"), None)
    if actions is None or len(actions["elements"]) >= 25:  # Slack's cap per actions block
        return [*blocks, {"type": "actions", "elements": [button]}]
    actions["elements"].append(button)
    return blocks


def review_file_text(review: Review) -> str:
    """The whole review as the file's text: every finding, question, strength and source."""
    return review_document(review)


def plan_error(message: str) -> dict[str, Any]:
    """The view-submission reply that shows ``message`` under the plan field."""
    return {"response_action": "errors", "errors": {PLAN_BLOCK: message[: MAX_TEXT // 2]}}
