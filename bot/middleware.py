"""ASGI middleware: API keys, per-key rate limits, body limits and response headers.

Written as plain ASGI so that a request is refused before its body is read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advisor import AdvisorError
from bot.problems import problem

log = logging.getLogger("advisor.http")

API_PREFIX = "/v1/"
MCP_PATH = "/mcp"  # the MCP server's streamable HTTP endpoint (bot.mcp_server), keyed as /v1


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def bearer_token(authorization: str) -> str:
    """The credential of an ``Authorization: Bearer <token>`` header (the scheme in any
    case, RFC 9110), or "" when the header is missing, empty or of another scheme."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def key_digests(keys: list[str]) -> list[bytes]:
    """The SHA-256 digests of the keys: only these are kept, never the keys."""
    return [hashlib.sha256(k.encode()).digest() for k in keys]


def matching_digest(token: str, digests: list[bytes]) -> bytes | None:
    """The token's digest when it is one of ``digests``, else None; every digest is compared
    (``hmac.compare_digest``, no early exit), so the time taken does not tell which key."""
    digest = hashlib.sha256(token.encode()).digest()
    matched = False
    for known in digests:
        matched |= hmac.compare_digest(digest, known)
    return digest if matched else None


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the {limit}-byte limit")


class BodyTooSlow(HTTPException):
    """Raised from ``receive`` when the body has not all arrived by its deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} seconds")


# An upload is a file of up to ADVISOR_MAX_DOCUMENT_MB: it gets this many times as long.
UPLOAD_TIME_FACTOR = 10


# A client such as Python's urllib sends its whole body before it reads any answer; if
# the server answers 413 and closes while it is still sending, it sees a connection reset
# instead. So the rest of an oversized body is read and thrown away, up to this much (a
# client that asked "Expect: 100-continue" is answered at once instead: it has not sent).
DRAIN_MAX_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 10.0  # ... and for at most this long: a trickling client is cut off


async def _drain(receive: Receive, budget: int = DRAIN_MAX_BYTES) -> None:
    """Read and discard the request body until it ends, the client leaves or ``budget``
    bytes have been read or ``DRAIN_SECONDS`` have passed (then the server closes the
    connection, as before)."""
    with anyio.move_on_after(DRAIN_SECONDS):
        while budget > 0:
            message = await receive()
            if message["type"] != "http.request":
                return
            budget -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return


class RequestGuard:
    """Refuses oversized bodies (413), non-JSON bodies on the API (415) and bodies that
    trickle in (408): a client that opens a request and sends its body a byte at a time
    (slowloris) would otherwise hold a connection and a worker's attention for ever.
    ``body_seconds`` counts from the request's arrival to the body's last byte."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        upload_path: str = "",
        upload_bytes: int = 0,
        body_seconds: float = 30.0,
        upload_refusal: Callable[[str], tuple[str, str, str] | None] | None = None,
    ) -> None:
        self.app = app
        self.limit = max_body_bytes
        self.body_seconds = body_seconds
        # (slug, detail, challenge) when an upload's Authorization header does not open the
        # upload route: refused before its body, which may be as large as a document.
        self.upload_refusal = upload_refusal
        # Document uploads are multipart and as large as ADVISOR_MAX_DOCUMENT_MB allows.
        self.upload_path, self.upload_limit = upload_path, upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        upload = bool(self.upload_path) and path == self.upload_path
        body = _Body(scope, receive, send, self.upload_limit if upload else self.limit)
        refusal = self._refusal(scope, upload, body)
        if refusal is not None:
            await refusal(scope, receive, body.send)
            return
        body.deadline(self.body_seconds * (UPLOAD_TIME_FACTOR if upload else 1))
        await self.app(scope, body.receive, body.send)

    def _refusal(self, scope: Scope, upload: bool, body: _Body) -> ASGIApp | None:
        """The problem to answer before the body is read, if any: an upload without the
        admin key, a declared length over the limit, or the wrong media type."""
        path, length = scope["path"], body.length
        refused = None
        if upload and self.upload_refusal is not None:
            refused = self.upload_refusal(_header(scope, b"authorization"))
        if refused is not None:
            slug, detail, challenge = refused
            headers = {"WWW-Authenticate": challenge}
            # Drained first, as for a 413, so that every client reads the refusal.
            return body.drained(problem(slug, detail, instance=path, headers=headers))
        if length.isdigit() and int(length) > body.limit:
            detail = str(BodyTooLarge(body.limit).detail)
            return body.drained(problem("body-too-large", detail, instance=path))
        ctype = _header(scope, b"content-type").split(";")[0].strip().lower()
        wanted = "multipart/form-data" if upload else "application/json"
        if path.startswith(API_PREFIX) and body.expected and ctype != wanted:
            sent = f"not {ctype}" if ctype else "with a Content-Type header"
            detail = f"send the body as {wanted}, {sent}"
            return problem("unsupported-media-type", detail, instance=path)
        return None


class _Body:
    """One request's body as the app reads it: counted against ``limit`` (413), due by a
    deadline (408), and a reply sent before it was all read closes the connection (else
    the server keeps reading what a trickling client sends, for ever)."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        self.scope, self._receive, self._send, self.limit = scope, receive, send, limit
        self.length = _header(scope, b"content-length")
        # Only a body has a media type; a bodiless wrong-method call is left to routing (405).
        self.expected = self.length not in ("", "0") or bool(_header(scope, b"transfer-encoding"))
        self.complete, self.seen = not self.expected, 0
        self.allowed, self.due = math.inf, math.inf

    def deadline(self, seconds: float) -> None:
        """The whole body must be in ``seconds`` from now."""
        self.allowed, self.due = seconds, time.monotonic() + seconds

    def drained(self, reply: ASGIApp) -> ASGIApp:
        """``reply``, after reading and discarding what the client sends of the body (unless
        it asked ``Expect: 100-continue`` and so has not sent it)."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            small = not self.length.isdigit() or int(self.length) <= DRAIN_MAX_BYTES
            if self.expected and small and not _header(scope, b"expect"):
                await _drain(receive)
            await reply(scope, receive, send)

        return app

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self.complete:
            headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self._send(message)

    async def receive(self) -> Message:
        if self.complete:  # later reads wait for a disconnect (streamed replies): no deadline
            return await self._receive()
        try:
            with anyio.fail_after(max(0.0, self.due - time.monotonic())):
                message = await self._receive()
        except TimeoutError:
            where = f"{self.scope['method']} {self.scope['path']}"
            log.warning("%s: body not in after %gs", where, self.allowed)
            raise BodyTooSlow(self.allowed) from None
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self.seen > self.limit:
                if message.get("more_body", False):
                    await _drain(self._receive, DRAIN_MAX_BYTES - self.seen)
                raise BodyTooLarge(self.limit)
        return message


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class ApiGate:
    """Bearer-key check and a token-bucket rate limit per key, on /v1/* only."""

    def __init__(
        self,
        app: ASGIApp,
        keys: list[str],
        per_minute: int,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        shared: Callable[[str, float, float], float] | None = None,
        admin_prefix: str = "",
    ) -> None:
        self.app = app
        self.admin_prefix = admin_prefix  # behind the admin keys instead (bot.documents)
        # A shared pacer (the store) counts for every worker; otherwise this process counts.
        self.shared = shared
        # Only digests are kept, and compared in constant time.
        self.digests = key_digests(keys)
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.buckets: dict[str, _Bucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        admin = bool(self.admin_prefix) and path.startswith(self.admin_prefix)
        keyed = path.startswith(API_PREFIX) or path == MCP_PATH or path.startswith(f"{MCP_PATH}/")
        if scope["type"] != "http" or not keyed or admin:
            await self.app(scope, receive, send)
            return
        who, refusal = self._identify(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if self.shared is not None and self.rate > 0:
            try:
                wait = await anyio.to_thread.run_sync(self.shared, who, self.rate, self.burst)
            except AdvisorError as exc:  # the store is down: say so, as any other route would
                log.error("%s %s failed: %s", scope["method"], scope["path"], exc)
                await problem(exc.code, str(exc), instance=scope["path"])(scope, receive, send)
                return
        else:
            wait = self._take(who)
        scope.setdefault("state", {})["caller"] = who  # for doors that keep per-caller state
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            await problem(
                "rate-limited",
                f"this key is over {self.rate * 60:g} requests a minute; retry in {seconds}s",
                instance=scope["path"],
                headers={"Retry-After": str(seconds)},
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _identify(self, scope: Scope) -> tuple[str, Callable[..., Awaitable[None]] | None]:
        if not self.digests:
            client = scope.get("client") or ("unknown", 0)
            return f"addr:{client[0]}", None
        token = bearer_token(_header(scope, b"authorization"))
        challenge = {"WWW-Authenticate": 'Bearer realm="crm-advisor"'}
        if not token:
            return "", problem(
                "missing-api-key",
                "send `Authorization: Bearer <key>`",
                instance=scope["path"],
                headers=challenge,
            )
        digest = matching_digest(token, self.digests)
        if digest is None:
            challenge["WWW-Authenticate"] += ', error="invalid_token"'
            return "", problem(
                "invalid-api-key",
                "the API key is not recognised",
                instance=scope["path"],
                headers=challenge,
            )
        return f"key:{digest.hex()[:16]}", None

    def _take(self, who: str) -> float:
        """Take a token for ``who``; return 0, or the seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        bucket = self.buckets.get(who)
        if bucket is None:
            if len(self.buckets) > 10_000:
                self._forget_idle(now)
            bucket = self.buckets[who] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full = self.burst / self.rate
        for who in [w for w, b in self.buckets.items() if now - b.stamp > full]:
            del self.buckets[who]


_worker: tuple[int, bytes] = (0, b"")


def worker_id() -> bytes:
    """An opaque token for this process, so a client or test can tell workers apart."""
    global _worker
    if _worker[0] != os.getpid():  # a forked worker gets its own, not its parent's
        _worker = (os.getpid(), f"w-{uuid.uuid4().hex[:8]}".encode())
    return _worker[1]


class ResponseHeaders:
    """Request and worker ids, an access log line, and security headers (CSP on the page)."""

    def __init__(self, app: ASGIApp, csp: str, page_paths: tuple[str, ...]) -> None:
        self.app = app
        self.csp = csp
        self.page_paths = page_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        rid = given if given.isascii() and 0 < len(given) <= 64 else uuid.uuid4().hex
        path = scope["path"]
        is_page = path == "/" or path.startswith(self.page_paths)
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                headers.append((b"x-served-by", worker_id()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if is_page:
                    headers.append((b"content-security-policy", self.csp.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            log.info(
                "%s %s %s %.1fms id=%s",
                scope["method"],
                path,
                status,
                (time.perf_counter() - started) * 1000,
                rid,
            )
