"""The Slack front door: a bolt-python app on the shared Advisor (mentions, DMs, threads, /crm).

Bolt acknowledges each request before the listener runs (``process_before_response`` is
off), so Slack hears back within its 3 seconds while the answer is prepared.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from starlette.concurrency import run_in_threadpool

from advisor import Advisor, AdvisorError, Answer, ConfigError, InvalidInputError, StreamEvent
from bot import slack_blocks as ui
from bot.settings import DoorSettings
from bot.slack_assistant import Pane
from bot.slack_home import Home, conversation_id
from bot.slack_stream import Refusals, StreamFailed, StreamRefused, channel_type, stream_answer
from bot.state import SharedState

__all__ = [
    "Listeners",
    "build_slack_app",
    "conversation_id",
    "mount_slack",
    "socket_mode_handler",
    "web_client",
]
log = logging.getLogger("advisor.slack")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def web_client(settings: DoorSettings) -> WebClient:
    """A Web API client that retries connection errors, 429s and 5xx with backoff."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=3),
        ],
    )


def build_slack_app(settings: DoorSettings, advisor: Advisor, shared: SharedState) -> App:
    """The bolt App with every listener registered; ``shared`` dedupes Slack's retries."""
    if not (settings.slack_bot_token and settings.slack_signing_secret):
        raise ConfigError("set ADVISOR_SLACK_BOT_TOKEN and ADVISOR_SLACK_SIGNING_SECRET")
    app = App(
        client=web_client(settings),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        token_verification_enabled=False,  # no network call at start-up
        raise_error_for_unhandled_request=False,
    )
    Listeners(advisor, shared, update_interval=settings.slack_update_interval).register(app)
    return app


def socket_mode_handler(settings: DoorSettings, app: App) -> SocketModeHandler:
    """The app's listeners reached over a Socket Mode WebSocket instead of HTTP.

    ``connect()`` returns at once; ``start()`` blocks. ConfigError without an app token.
    """
    if not settings.slack_app_token:
        raise ConfigError("Socket Mode needs ADVISOR_SLACK_APP_TOKEN (xapp-…)")
    return SocketModeHandler(app, settings.slack_app_token.get_secret_value())


class Listeners:
    """Slack listeners: each parses the event, calls the advisor, and formats the reply."""

    def __init__(self, advisor: Advisor, shared: SharedState, update_interval: float = 1.2) -> None:
        self.advisor = advisor
        self.shared = shared
        self.update_interval = update_interval
        self.refusals = Refusals()  # where Slack refused native streaming, for a while

    def register(self, app: App) -> None:
        """Attach every listener to the app."""
        app.assistant(Pane(self).assistant())  # pane threads; other events pass through
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.command("/crm")(self.on_command)
        app.action(re.compile(r"^feedback_(up|down)$"))(self.on_feedback)
        app.action("share_answer")(self.on_share)
        app.shortcut("review_plan")(self.on_review_shortcut)
        Home(self.advisor, self.shared).register(app)  # Home tab, review modal, review file
        app.error(self.on_error)

    # -- events ------------------------------------------------------------------------
    def on_mention(
        self, body: dict[str, Any], event: dict[str, Any], client: WebClient, context: Any
    ) -> None:
        """An @mention: answer in the thread it belongs to (or start one)."""
        thread_ts = event.get("thread_ts") or event["ts"]
        self.answer_event(body, event, client, thread_ts, bot_user=context.bot_user_id or "")

    def on_message(
        self, body: dict[str, Any], event: dict[str, Any], client: WebClient, context: Any
    ) -> None:
        """A DM, or a reply in a thread the advisor is already part of."""
        if event.get("subtype") or event.get("bot_id"):
            return  # edits, deletions, joins and bots' own messages are not questions
        text, me = event.get("text", ""), context.bot_user_id or ""
        if event.get("channel_type") == "im":
            self.answer_event(body, event, client, event.get("thread_ts"), bot_user=me)
        elif event.get("thread_ts") and "?" in text and not _MENTION.search(text):
            # Mentions arrive as app_mention. Unmentioned replies are answered only when they
            # ask something, so people can still talk among themselves in the thread.
            cid = conversation_id(body.get("team_id", ""), event["channel"], event["thread_ts"])
            if self.advisor.store.exists(cid):
                self.answer_event(body, event, client, event["thread_ts"], bot_user=me)

    def answer_event(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        client: WebClient,
        thread_ts: str | None,
        review: bool = False,
        bot_user: str = "",
    ) -> None:
        """Answer (or, with ``review`` or a "review: …" message, review) one message event.

        ``bot_user`` is the app's own user id, whose mentions are dropped from the question.
        """
        # Slack resends an event it thinks we missed; answer each event id once.
        if not self.shared.claim(f"slack-event:{body.get('event_id') or event['ts']}"):
            return
        channel, team = event["channel"], body.get("team_id", "")
        question = ui.incoming_question(event.get("text", ""), bot_user)
        cid = conversation_id(team, channel, thread_ts or "dm")
        reviewing = review or ui.asks_for_review(question)

        def make_events() -> Iterator[StreamEvent]:
            return iter(self.advisor.stream(question, cid, start=True))

        streams = bool(thread_ts) and not self.refusals.refused((team, channel_type(event)))
        if not reviewing and streams and self._stream_natively(client, make_events, event, team):
            return
        placeholder = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=ui.WORKING)
        try:
            if reviewing:
                plan = question if review else ui.review_text(question)
                reviewed = self.advisor.review(plan, cid, start=True)
                text, blocks = ui.review_fallback(reviewed), ui.review_blocks(reviewed)
            else:
                answer = self._stream_into(client, channel, placeholder["ts"], make_events())
                text, blocks = ui.fallback_text(answer), ui.answer_blocks(answer)
            client.chat_update(channel=channel, ts=placeholder["ts"], text=text, blocks=blocks)
        except InvalidInputError as exc:
            client.chat_update(channel=channel, ts=placeholder["ts"], text=_input_help(exc))
        except Exception:
            log.exception("could not answer Slack event in %s", channel)
            self._say_sorry(client, channel, thread_ts, placeholder["ts"])

    def _stream_natively(
        self,
        client: WebClient,
        make_events: Callable[[], Iterator[StreamEvent]],
        event: dict[str, Any],
        team: str,
    ) -> bool:
        """Stream the answer with Slack's stream methods; False when they are refused here.

        A stream that cannot finish (a failed call, an answer the guard withdrew, a question
        the advisor refused) is replaced by one message: the whole answer, or what went wrong.
        """
        channel, user = event["channel"], event.get("user", "")
        thread_ts = event.get("thread_ts") or event["ts"]
        try:
            stream_answer(
                client, make_events, channel=channel, thread_ts=thread_ts, team=team, user=user
            )
        except StreamRefused as exc:
            self.refusals.remember((team, channel_type(event)), str(exc))
            return False
        except StreamFailed as exc:
            with contextlib.suppress(SlackApiError):
                client.chat_delete(channel=channel, ts=exc.ts)
            if exc.error is not None:
                if not isinstance(exc.error, InvalidInputError):
                    log.error("could not answer Slack event in %s", channel, exc_info=exc.error)
                text = (
                    _input_help(exc.error)
                    if isinstance(exc.error, InvalidInputError)
                    else ui.FAILED
                )
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
                return True
            answer = exc.answer or _last_answer(exc.events or iter(()))
            client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=ui.fallback_text(answer),
                blocks=ui.answer_blocks(answer),
            )
        return True

    def _stream_into(
        self, client: WebClient, channel: str, ts: str, events: Iterator[StreamEvent]
    ) -> Answer:
        """Answer, editing the placeholder as text arrives, at most once per interval."""
        interval = self.update_interval
        text, last, answer = "", time.monotonic(), None
        for event in events:
            if event.kind == "reset":
                text = ""
            elif event.kind == "delta":
                text += event.text
                # chat.update is rate-limited per message; intermediate edits can wait.
                if time.monotonic() - last >= interval:
                    client.chat_update(channel=channel, ts=ts, text=ui.streaming_text(text))
                    last = time.monotonic()
            elif event.kind == "answer":
                answer = event.answer
        assert answer is not None  # the stream always ends with its answer
        return answer

    def _say_sorry(
        self, client: WebClient, channel: str, thread_ts: str | None, placeholder_ts: str
    ) -> None:
        try:
            client.chat_update(channel=channel, ts=placeholder_ts, text=ui.FAILED)
        except SlackApiError:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=ui.FAILED)

    # -- /crm ----------------------------------------------------------------------------
    def on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """`/crm <question>`, `/crm sources`, `/crm help`; answers are private until shared."""
        ack()
        text = command.get("text", "").strip()
        word = text.split(" ", 1)[0].lower()
        try:
            if word in ("", "help"):
                respond(response_type="ephemeral", text=ui.HELP, blocks=[ui.section(ui.HELP)])
            elif word == "review":
                review = self.advisor.review(ui.plain_text(ui.review_text(text)))
                respond(
                    response_type="ephemeral",
                    text=ui.review_fallback(review),
                    blocks=ui.review_blocks(review, shareable=True),
                )
            elif word == "sources" and text.lower() == "sources":
                respond(
                    response_type="ephemeral",
                    text="The documents I answer from",
                    blocks=ui.sources_blocks(self.advisor.sources()),
                )
            else:
                answer = self.advisor.ask(text)
                respond(
                    response_type="ephemeral",
                    text=ui.fallback_text(answer),
                    blocks=ui.answer_blocks(answer, shareable=True),
                )
        except InvalidInputError as exc:
            respond(response_type="ephemeral", text=_input_help(exc))
        except AdvisorError:
            log.exception("could not answer /crm")
            respond(response_type="ephemeral", text=ui.FAILED)

    # -- buttons -------------------------------------------------------------------------
    def on_feedback(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        """Store a 👍/👎 in the same store the HTTP API uses."""
        ack()
        cid, turn = ui.unpack_ref(action["value"])
        rating = "up" if action["action_id"] == "feedback_up" else "down"
        self.advisor.feedback(cid, turn, rating)
        respond(response_type="ephemeral", replace_original=False, text="Thanks for the feedback.")

    def on_share(
        self,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Any,
    ) -> None:
        """Post a private /crm answer to the channel, and remove the private copy."""
        ack()
        cid, turn = ui.unpack_ref(action["value"])
        shared = next(t for t in self.advisor.conversation(cid) if t.turn == turn)
        user = body.get("user", {}).get("id", "")
        by = {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Shared by <@{user}> via /crm"}],
        }
        channel = body["channel"]["id"]
        if shared.review is None:
            text, blocks = ui.fallback_text(shared.answer), ui.answer_blocks(shared.answer)
            client.chat_postMessage(channel=channel, text=text, blocks=[*blocks, by])
        else:
            posted = client.chat_postMessage(
                channel=channel,
                text=ui.review_fallback(shared.review),
                blocks=[*ui.review_blocks(shared.review), by],
            )
            # Replies in the shared review's thread then discuss that review.
            thread = conversation_id(body.get("team", {}).get("id", ""), channel, posted["ts"])
            self.advisor.share_review(cid, turn, into=thread)
        respond(delete_original=True)

    def on_review_shortcut(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        """The "Review this CRM plan" message shortcut: the review goes in the message's thread."""
        ack()
        message, channel = body.get("message", {}), body["channel"]["id"]
        thread_ts = message.get("thread_ts") or message["ts"]
        # Slack resends an interaction it thinks we missed; review each message once.
        if not self.shared.claim(f"slack-shortcut:{body.get('trigger_id')}"):
            return
        cid = conversation_id(body.get("team", {}).get("id", ""), channel, thread_ts)
        placeholder = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=ui.WORKING)
        try:
            review = self.advisor.review(ui.plain_text(message.get("text", "")), cid, start=True)
            client.chat_update(
                channel=channel,
                ts=placeholder["ts"],
                text=ui.review_fallback(review),
                blocks=ui.review_blocks(review),
            )
        except InvalidInputError as exc:
            client.chat_update(channel=channel, ts=placeholder["ts"], text=ui.plan_help(exc))
        except Exception:
            log.exception("could not review a Slack message in %s", channel)
            self._say_sorry(client, channel, thread_ts, placeholder["ts"])

    def on_error(self, error: Exception, body: dict[str, Any], respond: Any = None) -> None:
        """Last resort: log it, and tell the user plainly when there is a way to."""
        log.error("Slack listener failed: %s", error, exc_info=error)
        if respond is not None and body.get("response_url"):
            try:
                respond(response_type="ephemeral", replace_original=False, text=ui.FAILED)
            except Exception:
                log.exception("could not tell the user about the failure")


def _last_answer(events: Iterator[StreamEvent]) -> Answer:
    """The Answer that ends a partly read stream of events."""
    answer = None
    for event in events:
        answer = event.answer if event.kind == "answer" else answer
    assert answer is not None  # the stream always ends with its answer
    return answer


def _input_help(exc: InvalidInputError) -> str:
    if "plan" in exc.code:
        return ui.plan_help(exc)
    return f"I couldn't take that question: {exc}. Try `/crm help` for examples."


def mount_slack(app: FastAPI, bolt_app: App, path: str = "/slack/events") -> None:
    """Serve Slack's events, commands and interactions on the FastAPI app."""

    @app.post(path, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        stamp = request.headers.get("x-slack-request-timestamp", "")
        if not (stamp.isascii() and stamp.isdigit()):
            # Bolt would crash on int(stamp); an unsigned-looking request is simply refused.
            return JSONResponse({"error": "invalid request"}, status_code=401)
        body = await request.body()
        try:
            bolt_request = BoltRequest(
                body=body.decode("utf-8", errors="replace"),
                query=request.query_params,  # type: ignore[arg-type]
                headers=request.headers,  # type: ignore[arg-type]
            )
        except (ValueError, TypeError, AttributeError):  # bolt parses the body as it builds
            return JSONResponse({"error": "not a Slack request payload"}, status_code=400)
        # Verifying and acknowledging is quick, but not to be done on the event loop.
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)
