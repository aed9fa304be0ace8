"""A fake Slack Web API on loopback that records every call and answers like Slack."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER = "UBOT"
TEAM = "T1"
# Slack's streaming methods and their required arguments (docs.slack.dev/reference/methods).
STREAM_METHODS = {
    "chat.startStream": ("channel", "thread_ts"),
    "chat.appendStream": ("channel", "ts", "markdown_text"),
    "chat.stopStream": ("channel", "ts"),
}
# The assistant-pane methods and their required arguments (api.slack.com/methods).
ASSISTANT_METHODS = {
    "assistant.threads.setStatus": ("channel_id", "thread_ts", "status"),
    "assistant.threads.setSuggestedPrompts": ("channel_id", "thread_ts", "prompts"),
    "assistant.threads.setTitle": ("channel_id", "thread_ts", "title"),
}
# Views, permalinks and the two-step file upload, with their required arguments.
OTHER_METHODS = {
    "views.publish": ("user_id", "view"),
    "views.open": ("trigger_id", "view"),
    "chat.getPermalink": ("channel", "message_ts"),
    "files.getUploadURLExternal": ("filename", "length"),
    "files.completeUploadExternal": ("files",),
}


class FakeSlack:
    """Serves /api/<method> and /respond/<id> (response_url); ``script`` queues odd replies."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        # method -> queued (status, body) or (status, body, headers) replies, used first
        self.script: dict[str, list[tuple[Any, ...]]] = {}
        # Off by default, as in a workspace without Slack's AI-app streaming: chat.startStream
        # then answers as Slack does for an unknown method, and the bot falls back.
        self.streaming = False
        self.socket_url = ""  # what apps.connections.open answers, for a Socket Mode test
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.path.startswith(
                    "/upload/"
                ):  # a file's bytes, as files.slack.com takes them
                    args = {"content": raw}
                elif "json" in (self.headers.get("Content-Type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = dict(parse_qsl(raw))
                status, body, *extra = fake._reply(self.path, args)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                ctype = "text/plain" if isinstance(body, bytes) else "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the fake Web API, for ADVISOR_SLACK_API_URL."""
        return f"http://127.0.0.1:{self.server.server_port}/api/"

    def response_url(self, name: str) -> str:
        """A response_url that lands here."""
        return f"http://127.0.0.1:{self.server.server_port}/respond/{name}"

    def _reply(self, path: str, args: dict[str, Any]) -> tuple[Any, ...]:
        method = path.rsplit("/", 1)[-1]
        with self._lock:
            self.calls.append(
                {"path": path, "method": method, "args": args, "at": time.monotonic()}
            )
            queued = self.script.get(method)
            if queued:
                return queued.pop(0)
        if path.startswith("/respond/"):
            return 200, b"ok"
        if method == "auth.test":
            return 200, {"ok": True, "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B1"}
        if method == "chat.postMessage":
            ts = f"1800000000.{next(self._ts):06d}"
            channel = str(args.get("channel", ""))
            # A message to a user's id goes to the app's DM with them, which the reply names.
            channel = "D" + channel[1:] if channel.startswith(("U", "W")) else channel
            return 200, {"ok": True, "channel": channel, "ts": ts}
        if path.startswith("/upload/"):
            return 200, f"OK - {len(args['content'].encode())}".encode()
        if method in OTHER_METHODS:
            missing = [k for k in OTHER_METHODS[method] if not args.get(k)]
            if missing:
                return 200, {"ok": False, "error": "invalid_arguments", "missing": missing}
            return 200, self._other(method, args)
        if method == "apps.connections.open" and self.socket_url:
            return 200, {"ok": True, "url": self.socket_url}
        if method in ("chat.update", "chat.delete", "reactions.add", "chat.postEphemeral"):
            return 200, {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method in STREAM_METHODS and self.streaming:
            missing = [k for k in STREAM_METHODS[method] if not args.get(k)]
            if missing:
                return 200, {"ok": False, "error": "invalid_arguments", "missing": missing}
            if method == "chat.startStream":
                ts = f"1800000000.{next(self._ts):06d}"
                return 200, {"ok": True, "channel": args.get("channel"), "ts": ts}
            return 200, {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method in ASSISTANT_METHODS:
            missing = [k for k in ASSISTANT_METHODS[method] if not args.get(k)]
            if missing:  # as Slack answers a call that lacks a required argument
                return 200, {"ok": False, "error": "invalid_arguments", "missing": missing}
            return 200, {"ok": True}
        return 200, {"ok": False, "error": "unknown_method"}

    def _other(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        n = next(self._ts)
        if method in ("views.publish", "views.open"):
            view = json.loads(args["view"]) if isinstance(args["view"], str) else args["view"]
            return {"ok": True, "view": {**view, "id": f"V{n:06d}", "hash": f"h{n}"}}
        if method == "chat.getPermalink":
            ts = str(args["message_ts"]).replace(".", "")
            link = f"https://fake.slack.com/archives/{args['channel']}/p{ts}"
            return {"ok": True, "channel": args["channel"], "permalink": link}
        if method == "files.getUploadURLExternal":
            port = self.server.server_port
            return {
                "ok": True,
                "upload_url": f"http://127.0.0.1:{port}/upload/F{n:06d}",
                "file_id": f"F{n:06d}",
            }
        files = json.loads(args["files"])  # files.completeUploadExternal
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def of(self, method: str) -> list[dict[str, Any]]:
        """The recorded calls of one Web API method (or 'respond' for response_url posts)."""
        with self._lock:
            if method in ("respond", "upload"):
                return [c for c in self.calls if c["path"].startswith(f"/{method}/")]
            return [c for c in self.calls if c["path"] == f"/api/{method}"]

    def wait_for(self, check: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Poll until check() is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out; calls so far: {[c['path'] for c in self.calls]}")

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def signed_headers(
    secret: str, body: str, content_type: str, ts: int | None = None
) -> dict[str, str]:
    """Headers of a request signed the way Slack signs them."""
    stamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
