"""Every error is an RFC 9457 problem with its own type; none is a 500 or a traceback."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from advisor.ask.compose import Composition
from advisor.ask.retrieval import Retrieval
from advisor.config import Settings
from advisor.contract import Answer
from advisor.errors import StoreError
from advisor.facade import Advisor
from advisor.memory import SQLConversationStore
from bot.middleware import ApiGate
from tests.bot.conftest import Serve, get, post
from tests.bot.test_api import read_events


def assert_problem(r: httpx.Response, status: int, slug: str) -> dict:
    """The response is a problem+json of this status and type, with a human detail."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert "Traceback" not in r.text
    return body


def ask(client: httpx.Client, content: bytes | str, **headers: str) -> httpx.Response:
    return client.post(
        "/v1/ask", content=content, headers={"Content-Type": "application/json", **headers}
    )


def test_malformed_json(client: httpx.Client) -> None:
    assert_problem(ask(client, '{"question": "why'), 422, "malformed-json")


def test_invalid_utf8_is_malformed_json(client: httpx.Client) -> None:
    assert_problem(ask(client, b'{"question": "\xff\xfe"}'), 422, "malformed-json")


def test_wrong_types(client: httpx.Client) -> None:
    body = assert_problem(ask(client, '{"question": 42}'), 422, "validation-error")
    assert body["errors"][0]["loc"] == ["body", "question"]
    assert_problem(ask(client, '["why?"]'), 422, "validation-error")


def test_unknown_fields_are_refused(client: httpx.Client) -> None:
    assert_problem(ask(client, '{"question": "why?", "admin": true}'), 422, "validation-error")


def test_empty_question(client: httpx.Client) -> None:
    assert_problem(ask(client, '{"question": "  \\n\\t "}'), 422, "empty-question")


def test_oversized_question(client: httpx.Client) -> None:
    r = client.post("/v1/ask", json={"question": "why " * 1001})
    assert "4000" in assert_problem(r, 422, "question-too-long")["detail"]
    # 4,000 characters after trimming is fine.
    ok = client.post("/v1/ask", json={"question": "  " + "x" * 3990 + " why CRM?  "})
    assert ok.status_code == 200


def test_bad_conversation_id(client: httpx.Client) -> None:
    r = client.post("/v1/ask", json={"question": "why?", "conversation_id": "../etc"})
    assert_problem(r, 422, "invalid-conversation-id")


def test_unknown_conversation(client: httpx.Client) -> None:
    assert_problem(client.get("/v1/conversations/no-such-thing"), 404, "conversation-not-found")


def test_feedback_errors(client: httpx.Client) -> None:
    cid = client.post("/v1/ask", json={"question": "Why do CRM projects fail?"}).json()[
        "conversation_id"
    ]
    post = lambda **body: client.post("/v1/feedback", json=body)  # noqa: E731
    assert_problem(post(conversation_id="nope", turn=1, rating="up"), 404, "conversation-not-found")
    assert_problem(post(conversation_id=cid, turn=7, rating="up"), 404, "turn-not-found")
    assert_problem(post(conversation_id=cid, turn=1, rating="meh"), 422, "validation-error")
    assert_problem(post(conversation_id=cid, turn="1", rating="up"), 422, "validation-error")
    assert_problem(
        post(conversation_id=cid, turn=1, rating="up", comment="x" * 2001), 422, "validation-error"
    )


def test_body_too_large_by_content_length(client: httpx.Client) -> None:
    big = b'{"question": "' + b"a" * 10_000_000 + b'"}'
    assert_problem(ask(client, big), 413, "body-too-large")


def test_body_too_large_when_chunked(client: httpx.Client) -> None:
    def chunks():  # no Content-Length: the limit must hold while reading
        yield b'{"question": "'
        for _ in range(100):
            yield b"a" * 100_000
        yield b'"}'

    r = client.post("/v1/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "body-too-large")


def test_not_json_content_type(client: httpx.Client) -> None:
    r = client.post("/v1/ask", content="question=why", headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "unsupported-media-type")


def test_unknown_path_and_method(client: httpx.Client) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404, "not-found")
    assert_problem(client.get("/v1/ask"), 405, "method-not-allowed")


def test_missing_and_bad_api_keys(serve: Serve) -> None:
    with serve(api_keys=[SecretStr("k-one"), SecretStr("k-two")]) as url:
        missing = post(f"{url}/v1/ask", json={"question": "Why do CRM projects fail?"})
        assert_problem(missing, 401, "missing-api-key")
        assert missing.headers["www-authenticate"].startswith("Bearer")
        bad = get(f"{url}/v1/sources", headers={"Authorization": "Bearer k-three"})
        assert_problem(bad, 401, "invalid-api-key")
        basic = get(f"{url}/v1/sources", headers={"Authorization": "Basic azE6eA=="})
        assert_problem(basic, 401, "missing-api-key")
        good = get(f"{url}/v1/sources", headers={"Authorization": "Bearer k-two"})
        assert good.status_code == 200
        # Health checks and the page stay open to load balancers and browsers.
        assert get(f"{url}/healthz").status_code == 200
        assert get(f"{url}/").status_code == 200


def test_rate_limit_per_key(serve: Serve) -> None:
    keys = [SecretStr("alpha"), SecretStr("beta")]
    with serve(api_keys=keys, rate_limit=6, rate_burst=2) as url:
        alpha = {"Authorization": "Bearer alpha"}
        codes = [get(f"{url}/v1/sources", headers=alpha).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = get(f"{url}/v1/sources", headers=alpha)
        assert_problem(limited, 429, "rate-limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 10
        # Another key has its own allowance.
        beta = get(f"{url}/v1/sources", headers={"Authorization": "Bearer beta"})
        assert beta.status_code == 200


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    gate = ApiGate(lambda *a: None, keys=[], per_minute=60, burst=2, clock=lambda: now[0])  # type: ignore[arg-type, return-value]
    assert gate._take("a") == 0 and gate._take("a") == 0
    assert gate._take("a") == pytest.approx(1.0)
    now[0] = 0.5
    assert gate._take("a") == pytest.approx(0.5)
    now[0] = 1.0
    assert gate._take("a") == 0


class Exploding:
    """A generator that fails in a way nobody planned for."""

    name = "exploding"

    def compose(self, question: str, retrieval: Retrieval, qtype: str = "") -> Composition:
        raise RuntimeError("secret internals /etc/passwd")


def test_unexpected_errors_are_a_problem_without_internals(
    serve: Serve, settings: Settings, embedder
) -> None:  # type: ignore[no-untyped-def]
    advisor = Advisor(settings, embedder=embedder, generator=Exploding())
    with serve(advisor=advisor) as url:
        r = post(f"{url}/v1/ask", json={"question": "Why do CRM projects fail?"})
    body = assert_problem(r, 500, "internal-error")
    assert "secret" not in r.text and "passwd" not in body["detail"]


class FullDisk(SQLConversationStore):
    """A store whose writes fail, as on a full or read-only disk."""

    def append(self, conversation_id: str, question: str, answer: Answer) -> int:
        raise StoreError("could not save the conversation turn: disk full")


def test_store_failure_mid_stream_is_an_error_event(
    serve: Serve, settings: Settings, embedder
) -> None:  # type: ignore[no-untyped-def]
    store = FullDisk(settings.resolved_database_url)
    advisor = Advisor(settings, embedder=embedder, store=store)
    with serve(advisor=advisor) as url:
        streamed = post(f"{url}/v1/ask/stream", json={"question": "Why do CRM projects fail?"})
        plain = post(f"{url}/v1/ask", json={"question": "Why do CRM projects fail?"})
    events = read_events(streamed)
    assert events[-1][0] == "error"
    assert events[-1][1]["type"] == "/problems/store-error"
    assert "answer" not in [kind for kind, _ in events]
    assert_problem(plain, 503, "store-error")


def test_a_shared_rate_limit_with_the_store_down_is_a_problem(
    serve: Serve, settings: Settings, embedder
) -> None:  # type: ignore[no-untyped-def]
    # The limiter counts in the store; when it cannot, the request is refused cleanly.
    nowhere = "sqlite:////proc/no-such/c.db"
    down = settings.model_copy(update={"database_url": nowhere})
    with serve(
        advisor=Advisor(down, embedder=embedder), rate_store="database", database_url=nowhere
    ) as url:
        r = post(f"{url}/v1/ask", json={"question": "Why do CRM projects fail?"})
        body = assert_problem(r, 503, "store-error")
        assert "conversation store" in body["detail"]
        assert get(f"{url}/healthz").status_code == 200  # the page and health stay up
