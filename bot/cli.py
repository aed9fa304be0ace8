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
