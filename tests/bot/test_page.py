"""The chat page as served: its files, headers and Content-Security-Policy."""

from __future__ import annotations

import re

import httpx

from bot.app import STATIC
from tests.bot.conftest import Serve, get


def test_page_is_served_with_a_strict_csp(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for asset in ("static/app.js", "static/app.css"):
        r = client.get("/" + asset)
        assert r.status_code == 200 and "content-security-policy" in r.headers
        assert asset in page.text
    assert client.get("/embed.js").headers["content-type"].startswith("text/javascript")


def test_embed_origins_may_frame_the_page(serve: Serve) -> None:
    with serve(embed_origins=["https://intranet.example"]) as url:
        csp = get(url).headers["content-security-policy"]
    assert "frame-ancestors 'self' https://intranet.example" in csp


def test_page_has_no_inline_script_or_html_injection_sinks() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline scripts break the CSP"
    assert "style=" not in html
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


def test_api_responses_carry_no_page_csp(client: httpx.Client) -> None:
    r = client.get("/healthz")
    assert "content-security-policy" not in r.headers
    assert r.headers["x-request-id"]
