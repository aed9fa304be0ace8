"""Every common client reads the 413 of an oversized body, not a connection reset.

Python's urllib sends its whole body before it reads the answer; a server that answers and
closes while it is still sending gives it ECONNRESET instead of the problem JSON.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest

from advisor import Advisor
from tests.bot.conftest import Serve

SIZES_MB = (2, 10, 50)


def _body(mb: int) -> bytes:
    return b'{"question": "' + b"a" * (mb * 1024 * 1024) + b'"}'


def _is_problem(status: int, text: bytes) -> None:
    assert status == 413
    assert json.loads(text)["type"] == "/problems/body-too-large"


@pytest.mark.parametrize("mb", SIZES_MB)
def test_urllib_reads_the_413(base_url: str, mb: int) -> None:
    request = urllib.request.Request(
        f"{base_url}/v1/ask", data=_body(mb), headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=60)
    _is_problem(caught.value.code, caught.value.read())


@pytest.mark.parametrize("mb", SIZES_MB)
def test_httpx_reads_the_413(base_url: str, mb: int) -> None:
    r = httpx.post(f"{base_url}/v1/ask", content=_body(mb), timeout=60,
                   headers={"Content-Type": "application/json"})  # fmt: skip
    _is_problem(r.status_code, r.content)


@pytest.mark.parametrize("mb", SIZES_MB)
def test_curl_reads_the_413(base_url: str, mb: int, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is needed for this test (Debian: apt-get install curl)"
    body = tmp_path / "body.json"
    body.write_bytes(_body(mb))
    done = subprocess.run(
        [curl, "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", "Content-Type: application/json",
         "--data-binary", f"@{body}", f"{base_url}/v1/ask"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text, _, code = done.stdout.rpartition(b"\n")
    _is_problem(int(code), text)


def test_a_trickling_client_is_answered_after_the_drain_time(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import time
    from urllib.parse import urlsplit

    from bot import middleware

    monkeypatch.setattr(middleware, "DRAIN_SECONDS", 2.0)
    host = urlsplit(base_url)
    started = time.monotonic()
    with socket.create_connection((host.hostname, host.port), timeout=30) as sock:
        head = (
            "POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 60000000\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"question": "')  # and then nothing more
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")
    assert time.monotonic() - started < 20  # cut off after the drain time, not held open


def test_a_trickling_body_gets_408_and_a_prompt_one_is_answered(
    serve: Serve, advisor: Advisor
) -> None:
    # A slowloris client: headers promise 200 bytes, then 10 arrive and nothing more.
    with serve(advisor=advisor, body_timeout_s=1.0) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            head = (
                "POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 200\r\n\r\n"
            )
            sock.sendall(head.encode() + b'{"questio')
            started = time.monotonic()
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
            waited = time.monotonic() - started
        status, _, rest = reply.partition(b"\r\n")
        assert b" 408 " in status, reply[:300]
        assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["type"] == "/problems/body-too-slow"
        assert 0.5 < waited < 20
        # A whole body sent at once is untouched by the deadline.
        r = httpx.post(f"{url}/v1/ask", json={"question": "Why do CRM projects fail?"}, timeout=60)
        assert r.status_code == 200, r.text


def _raw(url: str, head: str, body: bytes, wait: float = 20) -> tuple[bytes, bool]:
    """Send ``head`` and ``body`` on a fresh connection and send nothing more: the reply's
    bytes, and whether the server closed the connection within ``wait`` seconds."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.encode() + body)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except TimeoutError:
            return reply, False
    return reply, True


def test_a_reply_before_the_body_is_read_closes_the_connection(base_url: str) -> None:
    # A 404 for a path with a promised body that never comes: no keep-alive to trickle into.
    head = "POST /v1/nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    reply, closed = _raw(base_url, head + "Content-Length: 5000\r\n\r\n", b'{"a":')
    assert reply.startswith(b"HTTP/1.1 404"), reply[:200]
    assert b"connection: close" in reply.lower() and closed


def test_an_upload_without_the_admin_key_is_refused_before_its_body(
    serve: Serve, advisor: Advisor
) -> None:
    with serve(advisor=advisor, admin_keys="the-admin-key") as url:
        head = (
            "POST /v1/documents HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            "Authorization: Bearer a-user-key\r\nExpect: 100-continue\r\n"
            f"Content-Length: {40 * 1024 * 1024}\r\n\r\n"
        )
        started = time.monotonic()
        reply, closed = _raw(url, head, b"")
        assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
        assert b"/problems/invalid-admin-key" in reply and closed
        assert time.monotonic() - started < 10  # not after the upload's long deadline
