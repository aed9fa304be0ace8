"""deploy/ kept honest without Docker: settings, commands and flags checked against the code."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from sqlalchemy.engine import make_url

from advisor.cli import main
from advisor.config import PROJECT_ROOT, Settings
from bot.settings import DoorSettings
from tests.servers import chroma_env, chroma_executable

DEPLOY = PROJECT_ROOT / "deploy"
UNITS = DEPLOY / "systemd"
PREFIX = str(Settings.model_config.get("env_prefix", "")).upper()
INSTALL_BIN = "/opt/crm-advisor/.venv/bin/"


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def _service_env(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment; None is compose's pass-through from the host."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = [item.partition("=") for item in env]
        return {k: (v if sep else None) for k, sep, v in pairs}
    return {k: None if v is None else str(v) for k, v in env.items()}


def _interpolate(value: str) -> str:
    """Compose's ${NAME:-default}, as if NAME were unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, rest), continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#"):
            continue  # Docker drops comment lines, also inside a continuation
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip():
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in _dockerfile():
        if keyword == "ENV":
            env.update(tok.partition("=")[::2] for tok in shlex.split(rest) if "=" in tok)
    return env


def _dockerfile_cmd() -> list[str]:
    (cmd,) = [rest for keyword, rest in _dockerfile() if keyword == "CMD"]
    return list(json.loads(cmd))  # the exec form: no shell between Docker and advisor


def _unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's settings, every value of repeated keys kept, sections merged."""
    settings: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def _unit_env(name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in _unit(name).get("Environment", []):
        env.update(tok.partition("=")[::2] for tok in shlex.split(value))
    return env


def _env_example(include_commented: bool) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (UNITS / "env.example").read_text(encoding="utf-8").splitlines():
        found = re.fullmatch(r"(#)?\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if found and (include_commented or not found.group(1)):
            env[found.group(2)] = found.group(3)
    return env


def _every_env() -> dict[str, dict[str, str | None]]:
    """Every variable each deploy file sets, by file."""
    compose = _compose()["services"]
    return {
        **{f"compose:{name}": _service_env(svc) for name, svc in compose.items()},
        "Dockerfile": dict(_dockerfile_env()),
        "advisor.service": dict(_unit_env("advisor.service")),
        "advisor-chroma.service": dict(_unit_env("advisor-chroma.service")),
        "env.example": dict(_env_example(include_commented=True)),
    }


def _commands() -> dict[str, list[str]]:
    """Every command the deploy files run, by where it is run."""
    services = _compose()["services"]
    found = {
        f"compose:{name}": [str(a) for a in svc["command"]]
        for name, svc in services.items()
        if "command" in svc
    }
    found["Dockerfile CMD"] = _dockerfile_cmd()
    for unit in ("advisor.service", "advisor-chroma.service"):
        for key in ("ExecStartPre", "ExecStart"):
            for n, value in enumerate(_unit(unit).get(key, [])):
                found[f"{unit} {key}[{n}]"] = shlex.split(value.lstrip("-@:+!"))
    return found


def _program(argv: list[str]) -> str:
    return Path(argv[0]).name


def test_every_advisor_variable_is_a_setting() -> None:
    fields = set(Settings.model_fields) | set(DoorSettings.model_fields)
    unknown = [
        f"{where}: {name}"
        for where, env in _every_env().items()
        for name in env
        if name.startswith(PREFIX) and name.removeprefix(PREFIX).lower() not in fields
    ]
    assert unknown == []


@pytest.mark.parametrize(
    "where", ["compose:ingest", "compose:app", "Dockerfile", "advisor.service", "env.example"]
)
def test_every_value_set_is_a_valid_setting(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: v for k, v in _every_env()[where].items() if k.startswith(PREFIX) and v}
    for name, value in env.items():
        monkeypatch.setenv(name, _interpolate(value))
    settings = Settings()  # raises on a value the setting does not accept
    DoorSettings()  # and so do the front doors' settings
    if url := env.get(f"{PREFIX}DATABASE_URL"):
        assert make_url(_interpolate(url)).drivername == "postgresql+psycopg"
        assert settings.resolved_database_url == _interpolate(url)


def test_every_advisor_command_parses_with_the_real_cli() -> None:
    assert "serve" in main.commands, "the `serve` entry point (bot.cli:serve) is not installed"
    advisor_commands = {w: argv for w, argv in _commands().items() if _program(argv) == "advisor"}
    assert {"compose:ingest", "compose:app", "Dockerfile CMD"} <= set(advisor_commands)
    assert any("ExecStartPre" in w for w in advisor_commands)
    problems = []
    for where, argv in advisor_commands.items():
        try:
            ctx = main.make_context("advisor", argv[1:])
            # Click 9 folds the subcommand's name into ctx.args; 8.x keeps it apart.
            rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
            name, command, args = main.resolve_command(ctx, rest)
            assert command is not None and name is not None
            command.make_context(name, args, parent=ctx)  # parses and checks; runs nothing
        except click.ClickException as exc:
            problems.append(f"{where}: {shlex.join(argv)}: {exc.format_message()}")
    assert problems == []


def _chroma_help() -> str:
    done = subprocess.run(
        [str(chroma_executable()), "run", "--help"],
        capture_output=True,
        text=True,
        env=chroma_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_chroma_command_uses_real_flags() -> None:
    known = set(re.findall(r"(--[a-z][a-z-]*)", _chroma_help()))
    chroma_commands = {w: argv for w, argv in _commands().items() if _program(argv) == "chroma"}
    assert set(chroma_commands) == {"compose:chroma", "advisor-chroma.service ExecStart[0]"}
    for where, argv in chroma_commands.items():
        assert argv[1] == "run", where
        flags, values = argv[2::2], argv[3::2]
        # Flags and values in pairs: a stray word would be taken as a config file path.
        assert len(flags) == len(values) and all(f.startswith("--") for f in flags), where
        assert set(flags) <= known, f"{where}: {set(flags) - known} not in `chroma run --help`"
        assert {"--path", "--host", "--port"} <= set(flags), where
        # clap rejects an unknown flag or a bad value before it acts on a later --help.
        done = subprocess.run(
            [str(chroma_executable()), *argv[1:], "--help"],
            capture_output=True,
            text=True,
            env=chroma_env(),
            timeout=60,
        )
        assert done.returncode == 0, f"{where}: {done.stderr}"


def _flag(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_the_image_default_is_the_compose_app_command() -> None:
    app = _compose()["services"]["app"]
    assert _dockerfile_cmd() == [str(a) for a in app["command"]]
    assert _flag(_dockerfile_cmd(), "--workers") == "2"


def test_compose_wiring() -> None:
    services = _compose()["services"]
    assert set(services) == {"chroma", "postgres", "ingest", "app"}
    chroma, postgres, ingest, app = (services[n] for n in ("chroma", "postgres", "ingest", "app"))
    env = _service_env(app)
    assert env == _service_env(ingest)
    port = _flag([str(a) for a in chroma["command"]], "--port")
    assert env[f"{PREFIX}CHROMA_URL"] == f"http://chroma:{port}"
    assert _flag([str(a) for a in chroma["command"]], "--path") in " ".join(chroma["volumes"])
    url = make_url(_interpolate(env[f"{PREFIX}DATABASE_URL"] or ""))
    pg_env = _service_env(postgres)
    assert (url.host, url.port) == ("postgres", 5432)
    assert (url.username, url.database) == (pg_env["POSTGRES_USER"], pg_env["POSTGRES_DB"])
    assert url.password == _interpolate(pg_env["POSTGRES_PASSWORD"] or "")
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert ingest["depends_on"] == {"chroma": {"condition": "service_healthy"}}
    assert app["depends_on"]["ingest"] == {"condition": "service_completed_successfully"}
    assert app["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert app["ports"] == ["8000:8000"]
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert "/api/v2/heartbeat" in " ".join(chroma["healthcheck"]["test"])
    assert env[f"{PREFIX}DATA_DIR"] == "/data"
    for secret in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "API_KEYS"):
        assert env[f"{PREFIX}{secret}"] is None  # from the host if set there, never a default


def test_the_image_installs_what_the_store_needs() -> None:
    run = " ".join(rest for keyword, rest in _dockerfile() if keyword == "RUN")
    assert "'.[postgres]'" in run
    assert "torch==2.13.0" in run and "whl/cpu" in run
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^postgres = \[.*"psycopg', pyproject, re.MULTILINE)
    copied = {
        source.rstrip("/")
        for keyword, rest in _dockerfile()
        if keyword == "COPY"
        for source in rest.split()[:-1]  # the last word is the destination
    }
    assert {"advisor", "bot", "evals", "corpus", "prompts", "pyproject.toml", "README.md"} <= copied
    for folder in ("advisor", "bot", "evals", "corpus", "prompts"):
        assert (PROJECT_ROOT / folder).is_dir()
    env = _dockerfile_env()
    assert env["HF_HUB_OFFLINE"] == "1"
    # The image installs non-editable, so the corpus and prompts are named, not found.
    assert env[f"{PREFIX}CORPUS_DIR"] == "/app/corpus"
    assert env[f"{PREFIX}PROMPTS_DIR"] == "/app/prompts"


def test_systemd_wiring() -> None:
    advisor, chroma = _unit("advisor.service"), _unit("advisor-chroma.service")
    assert advisor["EnvironmentFile"] == ["/etc/crm-advisor/env"]
    assert {"postgresql.service", "advisor-chroma.service"} <= set(
        " ".join(advisor["After"]).split()
    )
    assert _flag(shlex.split(advisor["ExecStart"][0]), "--workers") == "2"
    assert shlex.split(advisor["ExecStartPre"][0])[1:] == ["ingest"]
    for unit in (advisor, chroma):
        assert unit["NoNewPrivileges"] == ["yes"]
        assert unit["ProtectSystem"] == ["strict"]
        assert unit.get("StateDirectory")
        assert unit.get("DynamicUser") == ["yes"] or unit.get("User")
    state = f"/var/lib/{advisor['StateDirectory'][0]}"
    assert _unit_env("advisor.service")[f"{PREFIX}DATA_DIR"] == state
    chroma_argv = shlex.split(chroma["ExecStart"][0])
    assert _flag(chroma_argv, "--path") == f"/var/lib/{chroma['StateDirectory'][0]}"
    example = _env_example(include_commented=False)
    assert example[f"{PREFIX}CHROMA_URL"] == f"http://127.0.0.1:{_flag(chroma_argv, '--port')}"
    assert make_url(example[f"{PREFIX}DATABASE_URL"]).drivername == "postgresql+psycopg"


def test_systemd_units_pass_systemd_analyze(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("needs systemd-analyze (the systemd package)")
    # The units' programs, from this virtualenv instead of /opt, so `verify` can find them.
    here = f"{Path(sys.executable).parent}/"
    for unit in ("advisor.service", "advisor-chroma.service"):
        text = (UNITS / unit).read_text(encoding="utf-8").replace(INSTALL_BIN, here)
        (tmp_path / unit).write_text(text, encoding="utf-8")
    done = subprocess.run(
        [
            analyze,
            "verify",
            str(tmp_path / "advisor.service"),
            str(tmp_path / "advisor-chroma.service"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # verify exits 0 even when it ignores a bad setting; it says so on stderr.
    assert (done.returncode, done.stderr.strip()) == (0, "")
