"""`advisor serve`: the HTTP API and chat page under uvicorn (registered as a CLI plugin)."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--log-level", default="info", show_default=True, help="uvicorn log level.")
def serve(host: str, port: int, log_level: str) -> None:
    """Serve the HTTP API, the chat page (/) and the API docs (/docs)."""
    import logging

    import uvicorn

    from advisor.config import get_settings
    from bot.app import create_app

    logging.getLogger("advisor").setLevel(log_level.upper())
    app = create_app(get_settings())
    click.echo(f"CRM Advisor on http://{host}:{port}/  (API docs: /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


@click.command()
@click.option("--socket", is_flag=True, help="Connect out over Socket Mode (no public URL).")
def slack(socket: bool) -> None:
    """Run the Slack bot over Socket Mode (HTTP mode is served by `advisor serve`)."""
    from advisor.chain import Advisor
    from advisor.config import get_settings
    from advisor.errors import AdvisorError

    settings = get_settings()
    if not socket:
        raise click.UsageError(
            "HTTP mode needs no separate process: `advisor serve` answers Slack at "
            "/slack/events. Use `advisor slack --socket` for Socket Mode."
        )
    if not settings.slack_app_token:
        raise click.UsageError("Socket Mode needs ADVISOR_SLACK_APP_TOKEN (xapp-…).")
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.slack import build_slack_app

    advisor = Advisor(settings)
    try:
        advisor.warm()
        app = build_slack_app(settings, advisor)
    except AdvisorError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("CRM Advisor connected to Slack over Socket Mode; Ctrl-C to stop.", err=True)
    SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
