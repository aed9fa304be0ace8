"""Security: API keys never logged and compared in constant time; the rest is tested where the
code lives (see RELIABILITY.md for the map)."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot import middleware
from bot.middleware import ApiGate
from bot.settings import DoorSettings
from evals.harness import free_port

GOOD = "sk-good-7f3a9c51e2"
WRONG = "sk-wrong-0b8d4e6a13"


def test_api_keys_never_reach_the_logs(index_dir: Path, tmp_path: Path) -> None:
    """A real server at debug level: neither a good nor a wrong key appears in its output."""
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "ADVISOR_DATA_DIR": str(index_dir),
        "ADVISOR_DATABASE_URL": f"sqlite:///{tmp_path / 'conv.db'}",
        "ADVISOR_API_KEYS": f"{GOOD},sk-other-key",
    }
    cmd = [sys.executable, "-m", "advisor.cli", "serve", "--port", str(port)]
    with open(log, "w") as out:
        server = subprocess.Popen(
            [*cmd, "--log-level", "debug"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            time.sleep(0.2)
        good = {"Authorization": f"Bearer {GOOD}"}
        wrong = {"Authorization": f"Bearer {WRONG}"}
        assert (
            httpx.post(
                f"{url}/v1/ask", json={"question": "Who owns CRM?"}, headers=good, timeout=60
            ).status_code
            == 200
        )
        refused = httpx.get(f"{url}/v1/sources", headers=wrong, timeout=60)
        assert refused.status_code == 401 and WRONG not in refused.text
        assert (
            httpx.post(f"{url}/v1/ask", json={"question": ""}, headers=good, timeout=60).status_code
            == 422
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = log.read_text()
    assert "/v1/ask" in output, "the server logged nothing, so the check below proves nothing"
    assert GOOD not in output and WRONG not in output
    assert GOOD not in repr(DoorSettings(api_keys=[SecretStr(GOOD)]))


@pytest.mark.parametrize("given", [GOOD, "sk-other-key", WRONG, "x"])
def test_every_key_is_compared_whatever_is_sent(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """The check compares fixed-size digests with every configured key, with no early exit."""
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(middleware.hmac, "compare_digest", spy)
    gate = ApiGate(lambda *a: None, keys=[GOOD, "sk-other-key", "third"], per_minute=0, burst=1)  # type: ignore[arg-type, return-value]
    scope = {
        "type": "http",
        "path": "/v1/sources",
        "headers": [(b"authorization", f"Bearer {given}".encode())],
    }
    _, refusal = gate._identify(scope)
    assert compared == [(32, 32)] * 3
    assert (refusal is None) == (given in (GOOD, "sk-other-key"))
