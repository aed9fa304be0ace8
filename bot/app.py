"""The FastAPI app: the /v1 API, health checks, the chat page and the API docs, on one Advisor."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from advisor import Advisor, AdvisorError, Settings, get_settings
from bot import documents, openai_api, problems
from bot.api import health, router
from bot.mcp_mount import McpEndpoint
from bot.metrics import PATH as METRICS_PATH
from bot.metrics import Metrics, MetricsMiddleware
from bot.metrics import endpoint as metrics_endpoint
from bot.middleware import MCP_PATH, ApiGate, RequestGuard, ResponseHeaders
from bot.settings import DoorSettings, get_door_settings
from bot.state import SharedState

log = logging.getLogger("advisor.http")
MCP_HEADERS = ["Mcp-Protocol-Version", "Mcp-Session-Id", "Last-Event-ID"]  # a browser MCP host
STATIC = Path(__file__).parent / "static"
PAGE_PATHS = ("/static/", "/embed.js")


class Warmer:
    """Loads the model and index in the background so the server answers /healthz at once."""

    def __init__(self, advisor: Advisor, retry_after: float = 5.0) -> None:
        self.advisor = advisor
        self.retry_after = retry_after
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._failed_at = 0.0
        self._lock = threading.Lock()

    def start(self) -> None:
        """Begin loading, unless a load is under way."""
        with self._lock:
            if self._thread and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="advisor-warm", daemon=True)
            self._thread.start()

    def wait(self, timeout: float = 60.0) -> None:
        """Let a load under way finish, so no thread is inside the model at exit."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        try:
            self.advisor.warm()
            self.error = None
        except AdvisorError as exc:
            self.error, self._failed_at = str(exc), time.monotonic()
            log.warning("advisor not ready: %s", exc)

    def not_ready_reason(self) -> str | None:
        """None when ready; else why not (and a failed load is retried now and then)."""
        # Not ready until the whole warm-up is done: the model and index load first, but
        # embedding every quotable sentence takes seconds more, and questions sent in that
        # time would queue behind it.
        if self._thread and self._thread.is_alive():
            return "loading the embedding model and the index"
        if self.advisor.loaded:
            return None
        reason = self.error or "not loaded yet"
        if time.monotonic() - self._failed_at >= self.retry_after:
            self.start()  # an `advisor ingest` since the failure may have repaired it
        return reason


def app_from_env() -> FastAPI:
    """The app as configured by ADVISOR_* variables (uvicorn's factory for each worker)."""
    doors = get_door_settings()
    # A worker that `serve --workers N` spawned is a fresh interpreter: the CLI's logging
    # set-up did not run in it, so without this its request lines would go nowhere (and
    # the MCP SDK, imported later, would install a handler of its own).
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING)
    logging.getLogger("advisor").setLevel(doors.log_level)
    return create_app(get_settings(), doors=doors)


def content_security_policy(settings: DoorSettings) -> str:
    """The chat page's CSP: its own scripts, styles and API only; framing per settings."""
    ancestors = " ".join(["'self'", *settings.embed_origins])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )


def create_app(
    settings: Settings, advisor: Advisor | None = None, doors: DoorSettings | None = None
) -> FastAPI:
    """Build the app around one Advisor (built from the core settings when not given).

    ``doors`` are the front doors' settings (keys, limits, Slack), from the environment
    when not given. Slack event claims and a shared rate limit use the store's database.
    """
    advisor = advisor or Advisor(settings)
    doors = doors or get_door_settings()
    shared = SharedState(settings.resolved_database_url)
    warmer = Warmer(advisor)
    mcp = McpEndpoint(advisor, keyed=bool(doors.api_keys))  # /mcp, built on first request

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.running():
            warmer.start()
            yield
            warmer.wait()
            advisor.close()
            shared.close()

    app = FastAPI(
        title="CRM Advisor",
        version="1.0",
        summary="Answers on CRM strategy from a curated corpus; every claim cited.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.advisor = advisor
    app.state.settings = settings
    app.state.doors = doors
    app.state.warmer = warmer
    app.state.shared = shared
    problems.install(app)
    app.include_router(router)
    app.include_router(openai_api.router)
    # POST only: sessions are stateless, so there is no server stream to GET or session to
    # DELETE (a GET would hold a stream open for nothing); anything else is a 405.
    app.add_route(MCP_PATH, mcp, methods=["POST"], include_in_schema=False)
    documents.install(app, [k.get_secret_value() for k in doors.admin_keys])
    app.include_router(health)
    _mount_page(app)
    _mount_docs(app)
    if doors.slack_bot_token and doors.slack_signing_secret:
        from bot.slack import build_slack_app, mount_slack

        mount_slack(app, build_slack_app(doors, advisor, shared))

    _install_middleware(app, settings, doors, shared)
    if doors.metrics == "on":
        _install_metrics(app, doors, Metrics(advisor, shared))
    return app


def _install_metrics(app: FastAPI, doors: DoorSettings, metrics: Metrics) -> None:
    """``/metrics`` (open, or behind its key) and the middleware that times every request."""
    key = doors.metrics_key.get_secret_value() if doors.metrics_key else None
    # An API route, not a bare one: it puts itself in the scope, so the middleware labels
    # /metrics by its path instead of ``unmatched``.
    app.add_api_route(
        METRICS_PATH,
        metrics_endpoint(metrics, key),
        methods=["GET", "HEAD"],
        include_in_schema=False,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: times everything


def _install_middleware(
    app: FastAPI, settings: Settings, doors: DoorSettings, shared: SharedState
) -> None:
    """The gate (keys, rate), the request guard, CORS and the response headers."""
    # Added innermost first: the gate sees only requests the guard let through.
    app.add_middleware(
        ApiGate,
        keys=[k.get_secret_value() for k in doors.api_keys],
        per_minute=doors.rate_limit,
        burst=doors.rate_burst,
        shared=_shared_pacer(shared) if doors.rate_store == "database" else None,
        admin_prefix=documents.PREFIX,
    )
    # An upload may carry a file of the largest size allowed, plus its multipart framing.
    upload = int(settings.max_document_mb * 2**20) + 64 * 1024
    app.add_middleware(
        RequestGuard,
        max_body_bytes=doors.max_body_bytes,
        upload_path=documents.PREFIX,
        upload_bytes=upload,
        body_seconds=doors.body_timeout_s,
        upload_refusal=lambda authorization: _upload_refusal(app, authorization),
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=doors.cors_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID", *MCP_HEADERS],
        expose_headers=["Retry-After", "X-Request-ID", "X-Served-By", "Server-Timing"],
        max_age=600,
    )
    app.add_middleware(ResponseHeaders, csp=content_security_policy(doors), page_paths=PAGE_PATHS)


def _upload_refusal(app: FastAPI, authorization: str) -> tuple[str, str, str] | None:
    refusal = documents.admin_refusal(authorization, app.state.admin_digests)
    return None if refusal is None else (refusal.slug, str(refusal), documents.ADMIN_CHALLENGE)


def _shared_pacer(shared: SharedState) -> Callable[[str, float, float], float]:
    def pace(who: str, per_second: float, burst: float) -> float:
        return shared.pace(f"rate:{who}", per_second, burst)

    return pace


def _mount_page(app: FastAPI) -> None:
    index_html = (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        """The chat page."""
        return HTMLResponse(index_html, headers={"Cache-Control": "no-cache"})

    @app.get("/embed.js", include_in_schema=False)
    def embed_script() -> FileResponse:
        """A script tag that adds the chat page to any intranet page as a floating panel."""
        return FileResponse(STATIC / "embed.js", media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _mount_docs(app: FastAPI) -> None:
    # Swagger UI from a package, not a CDN: intranets are often offline.
    assets = Path(str(resources.files("fastapi_offline") / "static"))
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """Interactive API documentation."""
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title="CRM Advisor API",
            swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs-assets/favicon.png",
        )
