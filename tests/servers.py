"""Real servers on loopback for the scale-out tests: a throwaway PostgreSQL, a Chroma server."""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from evals.harness import stop_process

PG_USER = "advisor"
PG_DATABASE = "advisor"


class ServerUnavailable(RuntimeError):
    """The software a server needs is not installed here."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bindir() -> Path:
    """The folder holding initdb and pg_ctl, or ServerUnavailable naming `make postgres`."""
    candidates: list[str] = []
    if pg_config := shutil.which("pg_config"):
        # libpq-dev alone installs pg_config, so its bindir may lack the server: check it.
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if done.returncode == 0:
            candidates.append(done.stdout.strip())
    # Debian keeps the server off PATH; the newest installed major version first.
    by_version = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(v) if (v := Path(p).parent.name).isdigit() else 0,
        reverse=True,
    )
    candidates += by_version
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).resolve().parent))
    for folder in map(Path, candidates):
        if all(os.access(folder / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise ServerUnavailable(
        "PostgreSQL is not installed (no initdb and pg_ctl found): run `make postgres`"
    )


def _as_postgres(command: list[str]) -> list[str]:
    # The server refuses to run as root; as root, run it as the `postgres` user instead.
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise ServerUnavailable("running PostgreSQL as root needs `runuser` (util-linux)")
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str], cwd: Path, what: str) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr or done.stdout}")


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway cluster on a free loopback port; yield the `advisor` database's URL."""
    import psycopg

    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="advisor-pg-"))
    data, log = root / "data", root / "server.log"
    try:
        if os.geteuid() == 0:
            try:
                shutil.chown(root, "postgres", "postgres")
            except LookupError as exc:
                raise ServerUnavailable(
                    "PostgreSQL is not installed (no `postgres` user to run it as): "
                    "run `make postgres`"
                ) from exc
        # Trust on loopback is fine for a cluster that lives as long as a test session.
        _run(
            _as_postgres([
                str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            ]),
            root,
            "initdb",
        )  # fmt: skip
        port = _start(bindir, root, data, log)
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
            ) as conn:
                # The app's role is no superuser, as in production; CREATEDB for per-test dbs.
                conn.execute(f"CREATE ROLE {PG_USER} LOGIN CREATEDB")
                conn.execute(f"CREATE DATABASE {PG_DATABASE} OWNER {PG_USER}")
            yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}"
        finally:
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"]),
                cwd=root,
                capture_output=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def libpq_url(url: str) -> str:
    """A SQLAlchemy postgresql+psycopg URL as the plain postgresql:// URL psycopg accepts."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """A new, empty database on the server at ``url``; yield its URL, drop it afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"test_{uuid.uuid4().hex}"
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE ends whatever connections the user left open (PostgreSQL 13+).
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(bindir: Path, root: Path, data: Path, log: Path) -> int:
    """Start the server on a free port (a few tries: the port may be taken meanwhile)."""
    for _ in range(3):
        port = _free_port()
        options = " ".join([
            "-c listen_addresses=127.0.0.1", f"-p {port}",
            f"-c unix_socket_directories={shlex.quote(str(root))}",
            "-c max_connections=200", "-c fsync=off", "-c synchronous_commit=off",
            "-c full_page_writes=off",
        ])  # fmt: skip
        done = subprocess.run(
            _as_postgres([
                str(bindir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w",
                "-t", "60", "-o", options,
            ]),
            cwd=root,
            capture_output=True,
            text=True,
        )  # fmt: skip
        if done.returncode == 0 and _accepts_connections(port):
            return port
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else done.stderr
        if "could not bind" not in tail and "already in use" not in tail:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr}\n{tail}")
    raise RuntimeError("PostgreSQL found no free port in 3 tries")


def _accepts_connections(port: int) -> bool:
    import psycopg

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2
            ):
                return True
        except psycopg.OperationalError:
            time.sleep(0.1)
    return False


def chroma_executable() -> Path:
    """The `chroma` command of the interpreter running the tests."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.is_file():
        return beside
    found = shutil.which("chroma")
    if found is None:
        raise ServerUnavailable("Chroma is not installed (no `chroma` command): run `make venv`")
    return Path(found)


def chroma_env() -> dict[str, str]:
    """The environment for `chroma run`, with Chroma's anonymized telemetry off."""
    # Traced with strace: the 1.5.9 server then makes no connection beyond its own socket.
    return {**os.environ, "ANONYMIZED_TELEMETRY": "False"}


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """`chroma run` on a free loopback port over ``path``; yield its base URL."""
    path.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    command = [
        str(chroma_executable()), "run", "--path", str(path),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    # A file, not a pipe, so a chatty server never blocks on a full pipe.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=chroma_env())
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"the Chroma server exited: {tail}")
                try:
                    if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the Chroma server did not start within 60 s")
                time.sleep(0.1)
            yield url
        finally:
            stop_process(proc)
