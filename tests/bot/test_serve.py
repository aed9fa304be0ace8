"""`advisor serve` as a user runs it, and the README's curl examples against it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from advisor.config import PROJECT_ROOT
from tests.bot.conftest import get


def readme_curls() -> list[str]:
    """The curl commands of the README's HTTP API section, continuation lines joined."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## HTTP API", 1)[1].split("\n## ", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", section)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("curl ")]


@dataclass
class Served:
    """A running `advisor serve`: its URL, port, process and the file its output goes to."""

    base: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def serving(index_dir: Path, tmp_path: Path, *args: str, within: float = 180) -> Iterator[Served]:
    """`advisor serve` on a free port over the shared index, ready; stopped with SIGTERM
    after (the caller may stop it first and check how it ended)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "ADVISOR_DATA_DIR": str(index_dir),
        "ADVISOR_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }
    cmd = [sys.executable, "-m", "advisor.cli", "serve", "--port", str(port), *args]
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
        served = Served(f"http://127.0.0.1:{port}", port, process, log)
        try:
            deadline = time.monotonic() + within
            while True:
                assert process.poll() is None, log.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "advisor serve never became ready"
                try:
                    if get(f"{served.base}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            yield served
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    raise


def test_serve_answers_the_readme_examples(index_dir: Path, tmp_path: Path) -> None:
    with serving(index_dir, tmp_path) as served:
        base, port, server = served.base, served.port, served.process
        curls = readme_curls()
        assert len(curls) >= 7
        cid = ""
        for command in curls:
            command = command.replace("localhost:8000", f"127.0.0.1:{port}")
            command = re.sub(r"<id[^>]*>", cid, command)
            done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, (command, done.stderr)
            out = done.stdout
            assert "/problems/" not in out, (command, out)
            if "/v1/ask/stream" in command:
                assert out.startswith("event: citations") and "event: answer" in out
                continue
            body = json.loads(out)
            if command.endswith("""{"question": "Why is our CRM plan too broad?"}'"""):
                assert body["answered"] and body["citations"]
                cid = body["conversation_id"]
        turns = get(f"{base}/v1/conversations/{cid}").json()["turns"]
        assert len(turns) == 2 and turns[0]["feedback"]["rating"] == "up"
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the signal, as a Unix server should.
    assert server.returncode in (0, -signal.SIGTERM)
    assert "Finished server process" in served.log.read_text(encoding="utf-8")


def test_a_metrics_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(blocker / "metrics")}
    done = subprocess.run(
        [sys.executable, "-m", "advisor.cli", "serve", "--port", "0", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "PROMETHEUS_MULTIPROC_DIR" in done.stderr and "Traceback" not in done.stderr


def test_the_metrics_folder_loses_only_metric_files_and_takes_one_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click import ClickException

    from bot.cli import _metrics_folder

    folder = tmp_path / "shared"
    folder.mkdir()
    for name in ("counter_11.db", "gauge_mostrecent_12.db", "histogram_11.db", "conv.db", "a.txt"):
        (folder / name).write_text("x", encoding="utf-8")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    with _metrics_folder(True):
        left = sorted(p.name for p in folder.iterdir())
        assert left == ["a.txt", "advisor-serve.lock", "conv.db"]
        with pytest.raises(ClickException, match="another `advisor serve`"), _metrics_folder(True):
            pass
    assert (folder / "conv.db").exists()  # an operator's folder stays, with what it held


def test_each_worker_logs_its_requests(index_dir: Path, tmp_path: Path) -> None:
    # Spawned workers are fresh interpreters: their log lines must reach stderr as the
    # single-process server's do.
    with serving(index_dir, tmp_path, "--workers", "2") as served:
        asked = httpx.post(f"{served.base}/v1/ask", json={"question": "Why do CRM projects fail?"},
                           timeout=60)  # fmt: skip
        assert asked.status_code == 200
        time.sleep(0.5)
        served.process.send_signal(signal.SIGINT)
        served.process.wait(timeout=60)
    assert "INFO:advisor.http:POST /v1/ask 200" in served.log.read_text(encoding="utf-8")
