"""Slack's App Home tab and plan review in a modal, delivered to the manager's DM.

The Home tab lists what the advisor does, example questions, the manager's recent
conversations with it (from the conversation store) and a "Review a CRM plan" button. The
button opens a modal; a submitted plan is checked at once (so a bad one is answered under
its field, inside Slack's 3 seconds), then reviewed and posted to the manager's DM, where
replies in the review's thread discuss it. A long review also offers itself as a file.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from advisor import Advisor, ConversationSummary, InvalidInputError, clean_plan
from bot import slack_blocks as ui
from bot import slack_views as views
from bot.state import SharedState

log = logging.getLogger("advisor.slack")
RECENT = 5  # conversations listed on the Home tab


def conversation_id(team: str, channel: str, thread_ts: str) -> str:
    """One conversation per Slack thread: team + channel + thread_ts."""
    return f"slack:{team}:{channel}:{thread_ts}"


def thread_link(client: WebClient, summary: ConversationSummary) -> str:
    """A link to the conversation's thread (its permalink), or else to its channel."""
    _, team, channel, thread_ts = summary.conversation_id.split(":", 3)
    if thread_ts != "dm":
        try:
            return str(client.chat_getPermalink(channel=channel, message_ts=thread_ts)["permalink"])
        except SlackApiError as exc:  # deleted thread, or a channel the bot has left
            log.info("no permalink for %s: %s", summary.conversation_id, exc.response.get("error"))
    return "https://slack.com/app_redirect?" + urlencode({"channel": channel, "team": team})


class Home:
    """Listeners for the Home tab, the review modal and the "full review as a file" button."""

    def __init__(self, advisor: Advisor, shared: SharedState) -> None:
        self.advisor = advisor
        self.shared = shared

    def register(self, app: App) -> None:
        """Attach the Home tab's, the modal's and the file button's listeners."""
        app.event("app_home_opened")(self.on_home_opened)
        app.action(views.OPEN_REVIEW)(self.on_open_review)
        app.view(views.REVIEW_MODAL)(self.on_review_submitted)
        app.action(views.REVIEW_FILE)(self.on_review_file)

    def on_home_opened(
        self, body: dict[str, Any], event: dict[str, Any], client: WebClient
    ) -> None:
        """Publish the Home tab, with the manager's recent conversations in the app's DM."""
        if event.get("tab") != "home":
            return
        channel = event.get("channel", "")  # the app's DM with this user
        prefix = conversation_id(body.get("team_id", ""), channel, "")
        recent = self.advisor.store.recent(prefix, limit=RECENT) if channel else []
        links = [(summary, thread_link(client, summary)) for summary in recent]
        client.views_publish(user_id=event["user"], view=views.home_view(links))

    def on_open_review(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        """Any "Review a CRM plan" button: open the modal."""
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=views.review_modal())

    def on_review_submitted(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        """A submitted plan: refuse it under its field, or close the modal and review it."""
        try:
            plan = clean_plan(views.submitted_plan(view))
        except InvalidInputError as exc:
            ack(**views.plan_error(ui.plan_help(exc)))
            return
        ack()
        # A view is submitted once per id and hash; a resent submission is not reviewed again.
        if not self.shared.claim(f"slack-view:{view.get('id')}:{view.get('hash')}"):
            return
        team, user = body.get("team", {}).get("id", ""), body["user"]["id"]
        # Posting to the user's id lands in the app's DM with them; the reply names it.
        placeholder = client.chat_postMessage(channel=user, text=views.REVIEW_COMING)
        dm, ts = placeholder["channel"], placeholder["ts"]
        try:
            review = self.advisor.review(plan, conversation_id(team, dm, ts), start=True)
            blocks = ui.review_blocks(review)
            if views.is_long(review, blocks):
                blocks = views.with_file_button(blocks, review.conversation_id, review.turn)
            client.chat_update(channel=dm, ts=ts, text=ui.review_fallback(review), blocks=blocks)
        except InvalidInputError as exc:  # in the core's view, though it passed the check
            client.chat_update(channel=dm, ts=ts, text=ui.plan_help(exc))
        except Exception:
            log.exception("could not review a plan from the modal")
            client.chat_update(channel=dm, ts=ts, text=ui.FAILED)

    def on_review_file(
        self,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Any,
    ) -> None:
        """Upload the whole review as a text file into the review's thread."""
        ack()
        if not self.shared.claim(f"slack-file:{body.get('trigger_id')}"):
            return
        cid, turn = ui.unpack_ref(action["value"])
        review = next((t.review for t in self.advisor.conversation(cid) if t.turn == turn), None)
        message = body.get("message", {})
        if review is None:
            respond(response_type="ephemeral", replace_original=False, text=ui.FAILED)
            return
        try:
            client.files_upload_v2(
                channel=body["channel"]["id"],
                thread_ts=message.get("thread_ts") or message.get("ts"),
                content=views.review_file_text(review),
                filename=views.FILE_NAME,
                title="CRM plan review",
            )
        except SlackApiError as exc:  # e.g. an install without files:write
            log.warning("could not upload the review: %s", exc.response.get("error"))
            respond(
                response_type="ephemeral",
                replace_original=False,
                text="Sorry, I couldn't attach the review as a file here.",
            )
