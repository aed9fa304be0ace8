"""The /v1 API over real HTTP on loopback, with the real model and index."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from advisor.config import PROJECT_ROOT, Settings
from advisor.facade import Advisor
from advisor.memory import SQLConversationStore
from tests.bot.conftest import Serve, get, options, ready


def read_events(response: httpx.Response) -> list[tuple[str, dict]]:
    """Parse a text/event-stream body into (event, data) pairs, in order."""
    events = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_the_configured_backends_answer(
    client: httpx.Client, advisor: Advisor, backend_servers: dict[str, str] | None
) -> None:
    # `make test` runs this file twice: on local files and SQLite, then on the servers.
    r = client.post("/v1/ask", json={"question": "Who should own the CRM project?"})
    assert r.status_code == 200, r.text
    assert advisor.searcher.snapshot.remote is (backend_servers is not None)
    dialect = advisor.store.engine.dialect.name  # type: ignore[attr-defined]
    assert dialect == ("postgresql" if backend_servers else "sqlite")
    turns = client.get(f"/v1/conversations/{r.json()['conversation_id']}").json()["turns"]
    assert [t["turn"] for t in turns] == [1]


def test_ask_returns_the_answer_contract(client: httpx.Client) -> None:
    r = client.post("/v1/ask", json={"question": "Why is our CRM plan too broad?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answered"] is True
    assert set(body) >= {"answer", "answered", "conversation_id", "citations", "turn"}
    assert body["turn"] == 1
    assert "timings" not in body
    for c in body["citations"]:
        assert f"[{c['n']}]" in body["answer"]
        assert c["quote"] and c["title"] and c["kind"] in ("article", "note", "answer")
    assert "boil the ocean" in " ".join(c["quote"] for c in body["citations"])
    assert "total;dur=" in r.headers["server-timing"]


def test_a_follow_up_continues_the_conversation(client: httpx.Client) -> None:
    first = client.post("/v1/ask", json={"question": "What is a CRMO?"}).json()
    cid = first["conversation_id"]
    second = client.post(
        "/v1/ask", json={"question": "Who should take that job?", "conversation_id": cid}
    ).json()
    assert second["conversation_id"] == cid and second["turn"] == 2
    assert "CRMO" in second["standalone_question"]

    convo = client.get(f"/v1/conversations/{cid}")
    assert convo.status_code == 200
    turns = convo.json()["turns"]
    assert [t["turn"] for t in turns] == [1, 2]
    assert turns[1]["question"] == "Who should take that job?"
    assert turns[1]["answer"]["answer"] == second["answer"]


def test_stream_events_arrive_in_order_and_end_with_the_answer(client: httpx.Client) -> None:
    question = "How should we phase a CRM rollout?"
    r = client.post("/v1/ask/stream", json={"question": question})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = read_events(r)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "citations" and kinds[-1] == "answer"
    assert set(kinds[1:-1]) == {"delta"} and len(kinds) > 3
    final = events[-1][1]
    assert "".join(data["text"] for kind, data in events if kind == "delta") == final["answer"]
    assert events[0][1]["citations"] == final["citations"]

    # The same question through /v1/ask gives the same answer and citations.
    plain = client.post("/v1/ask", json={"question": question}).json()
    for key in ("answer", "answered", "citations", "standalone_question", "generator"):
        assert plain[key] == final[key]
    # And the streamed turn was stored like any other.
    stored = client.get(f"/v1/conversations/{final['conversation_id']}").json()
    assert stored["turns"][0]["answer"]["answer"] == final["answer"]


def test_stream_refusal_is_a_complete_stream(client: httpx.Client) -> None:
    r = client.post("/v1/ask/stream", json={"question": "What is the capital of France?"})
    events = read_events(r)
    assert events[0] == ("citations", {"citations": []})
    assert events[-1][0] == "answer" and events[-1][1]["answered"] is False


def test_feedback_is_stored_durably(client: httpx.Client, settings: Settings) -> None:
    answer = client.post("/v1/ask", json={"question": "Why does data quality matter?"}).json()
    cid = answer["conversation_id"]
    r = client.post(
        "/v1/feedback",
        json={"conversation_id": cid, "turn": 1, "rating": "down", "comment": "too long"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["rating"] == "down"
    # A second rating of the same turn replaces the first.
    client.post("/v1/feedback", json={"conversation_id": cid, "turn": 1, "rating": "up"})

    # Read back through a separate connection to the database file.
    other = SQLConversationStore(settings.resolved_database_url)
    try:
        stored = other.feedback(cid)
    finally:
        other.close()
    assert [(f.turn, f.rating, f.comment) for f in stored] == [(1, "up", None)]
    turns = client.get(f"/v1/conversations/{cid}").json()["turns"]
    assert turns[0]["feedback"]["rating"] == "up"


def test_sources_lists_documents_with_counts(client: httpx.Client) -> None:
    sources = client.get("/v1/sources").json()["sources"]
    kinds = {s["kind"] for s in sources}
    assert kinds == {"article", "note", "answer"}
    assert len(sources) == len(list((PROJECT_ROOT / "corpus").glob("*/*.md")))  # every file
    assert all(s["passages"] > 0 for s in sources)
    selland = next(s for s in sources if s["doc_id"] == "accountability-users")
    assert selland["author"] == "Chris Selland"


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    first = client.get("/readyz")
    if first.status_code != 200:  # ready only once the warm-up has finished
        assert first.json()["detail"] == "loading the embedding model and the index"
    assert str(ready(str(client.base_url))["index"]).startswith("gen-")


def test_readiness_reports_a_missing_index_then_recovers(
    serve: Serve, embedder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from advisor.knowledge.ingest import ingest

    empty = Settings(data_dir=tmp_path / "empty")
    advisor = Advisor(empty, embedder=embedder)
    with serve(advisor=advisor, data_dir=empty.data_dir) as url, httpx.Client(base_url=url) as c:
        r = c.get("/readyz")
        for _ in range(100):  # the first load attempt runs in the background
            if r.json()["detail"] != "loading the embedding model and the index":
                break
            r = c.get("/readyz")
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert "advisor ingest" in r.json()["detail"]
        ask = c.post("/v1/ask", json={"question": "Why do CRM projects fail?"})
        assert ask.status_code == 503
        assert ask.json()["type"] == "/problems/index-not-ready"

        ingest(empty, embedder_factory=lambda: embedder)
        assert c.post("/v1/ask", json={"question": "Why do CRM projects fail?"}).is_success
        assert c.get("/readyz").status_code == 200


def test_a_new_ingest_is_served_without_a_restart(
    serve: Serve, embedder, tmp_path: Path, corpus_copy: Path
) -> None:  # type: ignore[no-untyped-def]
    from advisor.knowledge.ingest import ingest

    own = Settings(data_dir=tmp_path / "own", corpus_dir=corpus_copy)
    ingest(own, embedder_factory=lambda: embedder)
    advisor = Advisor(own, embedder=embedder)
    with serve(advisor=advisor, data_dir=own.data_dir) as url, httpx.Client(base_url=url) as c:
        before = c.get("/v1/sources").json()["sources"]
        note = corpus_copy / "notes" / "no-resources.md"
        note.unlink()
        ingest(own, embedder_factory=lambda: embedder)
        after = c.get("/v1/sources").json()["sources"]
        assert len(after) == len(before) - 1
        answer = c.post("/v1/ask", json={"question": "Why does a CRM project need budget?"})
        assert "note-no-resources" not in {x["doc_id"] for x in answer.json()["citations"]}
        assert ready(url)["index"] == "gen-000002"


def test_openapi_and_docs_are_served_offline(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/ask/stream", "/v1/feedback", "/v1/sources"} <= set(spec["paths"])
    assert "/v1/conversations/{conversation_id}" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize(
    "origin, allowed", [("https://intranet.example", True), ("https://evil.example", False)]
)
def test_cors_allows_only_listed_origins(serve: Serve, origin: str, allowed: bool) -> None:
    with serve(cors_origins=["https://intranet.example"]) as url:
        pre = options(
            f"{url}/v1/ask",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,authorization",
            },
        )
        got = get(f"{url}/v1/sources", headers={"Origin": origin})
    if allowed:
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == origin
        assert got.headers["access-control-allow-origin"] == origin
    else:
        assert "access-control-allow-origin" not in pre.headers
        assert "access-control-allow-origin" not in got.headers
