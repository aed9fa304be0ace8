"""The load run of RELIABILITY.md, in CI: 32 clients, 2,000 /v1/ask requests, no errors."""

from __future__ import annotations

from pathlib import Path

from evals.harness import MemorySampler, advisor_server
from evals.load import LOAD_KEY, drive, missing_turns, server_env


def test_32_clients_and_2000_requests_get_no_errors_and_lose_no_turn(
    index_dir: Path, tmp_path: Path
) -> None:
    """Every request is answered 200 with citations, and every answered turn is stored."""
    env = server_env(data_dir=index_dir, database_url=f"sqlite:///{tmp_path / 'load.db'}")
    with advisor_server(env) as server, MemorySampler(server, every=5.0) as memory:
        result = drive(server.url, clients=32, requests=2000, key=LOAD_KEY)
        lost = missing_turns(server.url, result.turns, key=LOAD_KEY)
    summary = result.summary()
    print({k: v for k, v in summary.items() if k != "error_samples"}, memory.report(0.0))
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["requests"] == 2000
    assert lost == []
    # Follow-ups (every fourth request) make multi-turn conversations under load.
    assert len({cid for cid, _ in result.turns}) < 2000
    assert summary["answered"] > 1000
