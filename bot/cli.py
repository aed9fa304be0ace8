"""`advisor serve`: the HTTP API and chat page under uvicorn (registered as a CLI plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug", "trace"]),
    help="Log level of uvicorn and the advisor.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port; share the index and store between them too.",
)
def serve(host: str, port: int, log_level: str, workers: int) -> None:
    """Serve the HTTP API, the chat page (/) and the API docs (/docs)."""
    import os

    import uvicorn

    from bot.settings import get_door_settings

    # Workers are fresh processes that build their app from the environment, so the
    # log level travels there, and settings errors surface here, once, before any start.
    os.environ["ADVISOR_LOG_LEVEL"] = "DEBUG" if log_level == "trace" else log_level.upper()
    get_door_settings.cache_clear()
    settings = get_door_settings()
    if workers > 1 and settings.rate_limit and settings.rate_store == "memory":
        click.echo(
            f"Note: with ADVISOR_RATE_STORE=memory each of the {workers} workers counts "
            "requests on its own; set it to database for one limit across them.",
            err=True,
        )
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR", "x").strip():
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]  # set but empty: as if unset
    shared = workers > 1 or "PROMETHEUS_MULTIPROC_DIR" in os.environ
    with _metrics_folder(shared and settings.metrics == "on"):
        click.echo(f"CRM Advisor on http://{host}:{port}/  (API docs: /docs)", err=True)
        uvicorn.run(
            "bot.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=False,
        )


# prometheus_client's own files in a multiprocess folder: only these are ever removed.
METRIC_FILES = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")


@contextmanager
def _metrics_folder(shared: bool) -> Iterator[None]:
    """With several workers (or the folder set), one folder of metric files they all
    write (``prometheus_client``'s multiprocess mode, switched on by
    ``PROMETHEUS_MULTIPROC_DIR`` in the environment the workers inherit), so one scrape
    reports them all. A folder the operator set is used, its metric files from an earlier
    run removed first, as the library requires (nothing else in it is touched); else a
    temporary one, removed at exit. A lock file keeps a second ``serve`` out of a folder in
    use, whose files it would otherwise remove under the first one's workers."""
    import fcntl
    import os
    import shutil
    import tempfile
    from pathlib import Path

    if not shared:
        yield
        return
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    try:
        folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="advisor-metrics-"))
        folder.mkdir(parents=True, exist_ok=True)
        lock = (folder / "advisor-serve.lock").open("w")
    except OSError as exc:
        where = exc.filename or given or "a temporary folder"
        raise click.ClickException(
            f"cannot use {where} for the workers' metrics (PROMETHEUS_MULTIPROC_DIR): "
            f"{exc.strerror or exc}"
        ) from exc
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise click.ClickException(
                f"another `advisor serve` is using {folder} for its metrics "
                "(PROMETHEUS_MULTIPROC_DIR): give each server its own folder"
            ) from exc
        try:
            for stale in (f for pattern in METRIC_FILES for f in folder.glob(pattern)):
                stale.unlink()
        except OSError as exc:
            raise click.ClickException(
                f"cannot remove {exc.filename} from the workers' metrics folder "
                f"(PROMETHEUS_MULTIPROC_DIR): {exc.strerror or exc}"
            ) from exc
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        yield
    finally:
        lock.close()
        if not given:
            shutil.rmtree(folder, ignore_errors=True)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


@click.command()
@click.option("--socket", is_flag=True, help="Connect out over Socket Mode (no public URL).")
def slack(socket: bool) -> None:
    """Run the Slack bot over Socket Mode (HTTP mode is served by `advisor serve`)."""
    from advisor import Advisor, AdvisorError, get_settings
    from bot.settings import get_door_settings
    from bot.state import SharedState

    settings = get_door_settings()
    if not socket:
        raise click.UsageError(
            "HTTP mode needs no separate process: `advisor serve` answers Slack at "
            "/slack/events. Use `advisor slack --socket` for Socket Mode."
        )
    if not settings.slack_app_token:
        raise click.UsageError("Socket Mode needs ADVISOR_SLACK_APP_TOKEN (xapp-…).")
    from bot.slack import build_slack_app, socket_mode_handler

    core = get_settings()
    advisor = Advisor(core)
    try:
        advisor.warm()
        app = build_slack_app(settings, advisor, SharedState(core.resolved_database_url))
        handler = socket_mode_handler(settings, app)
    except AdvisorError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("CRM Advisor connected to Slack over Socket Mode; Ctrl-C to stop.", err=True)
    handler.start()


@click.command()
def mcp() -> None:
    """Serve the MCP server over stdio, for an MCP host that launches the advisor.

    stdout carries the protocol, so everything else (the warm-up's notices, errors) goes to
    stderr. The index and model load in the background; a call before they are ready waits
    for them, and a missing index is a tool error naming `advisor ingest`.
    """
    import logging
    import sys
    import threading

    from advisor import Advisor, AdvisorError, get_settings
    from bot.mcp_server import build_mcp

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    advisor = Advisor(get_settings())

    def warm() -> None:
        try:
            advisor.warm()
        except AdvisorError as exc:
            click.echo(f"CRM Advisor is not ready: {exc}", err=True)

    threading.Thread(target=warm, name="advisor-warm", daemon=True).start()
    build_mcp(advisor).run("stdio")
