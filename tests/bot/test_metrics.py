"""/metrics: Prometheus' text format, read back with prometheus_client's own parser."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from advisor.facade import Advisor
from bot.metrics import Metrics
from bot.state import SharedState
from tests.bot.conftest import Serve, get, post, ready


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_turns_routes_index_and_embedder_are_counted(serve: Serve, advisor: Advisor) -> None:
    with serve(advisor=advisor) as url:
        ready(url)
        before = _samples(get(f"{url}/metrics").text)
        answered = post(f"{url}/v1/ask", json={"question": "Who should own the CRM project?"})
        assert answered.status_code == 200 and answered.json()["answered"]
        cid = answered.json()["conversation_id"]
        refused = post(f"{url}/v1/ask", json={"question": "What is the boiling point of tin?"})
        assert refused.status_code == 200 and not refused.json()["answered"]
        assert post(f"{url}/v1/ask", json={"question": "thanks!"}).status_code == 200
        assert get(f"{url}/v1/conversations/{cid}").status_code == 200
        assert get(f"{url}/no/such/path").status_code == 404
        after = _samples(get(f"{url}/metrics").text)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("advisor_turns_total", outcome="answered") == 1
    assert grew("advisor_turns_total", outcome="refused") == 1
    assert grew("advisor_turns_total", outcome="small_talk") == 1
    assert grew("advisor_http_requests_total", route="/v1/ask", method="POST", status="200") == 3
    template = "/v1/conversations/{conversation_id}"
    assert grew("advisor_http_requests_total", route=template, method="GET", status="200") == 1
    assert not any(cid in str(labels) for _, labels in after)  # ids never become labels
    assert grew("advisor_http_requests_total", route="unmatched", method="GET", status="404") == 1
    # The scrape before this one is counted under its own path, not as unmatched.
    assert grew("advisor_http_requests_total", route="/metrics", method="GET", status="200") == 1
    assert grew("advisor_http_request_duration_seconds_count", route="/v1/ask", method="POST") == 3
    passages = len(advisor.searcher.snapshot.passages)
    assert _value(after, "advisor_index_passages") == passages > 50
    generation = advisor.searcher.snapshot.generation
    assert _value(after, "advisor_index_info", generation=generation) == 1
    assert grew("advisor_embedding_passes_total") >= 2  # at least the two searched questions
    assert _value(after, "advisor_embedding_texts_total") >= _value(
        after, "advisor_embedding_passes_total"
    )


def test_a_metrics_key_closes_the_route_and_off_removes_it(serve: Serve, advisor: Advisor) -> None:
    with serve(advisor=advisor, metrics_key="scrape-me") as url:
        missing = get(f"{url}/metrics")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["type"] == "/problems/missing-metrics-key"
        wrong = get(f"{url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["type"] == "/problems/invalid-metrics-key"
        assert "scrape-me" not in wrong.text
        right = get(f"{url}/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert right.status_code == 200 and "advisor_http_requests_total" in right.text
        head = httpx.head(f"{url}/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert head.status_code == 200 and head.content == b""
        # The scheme is case-insensitive (RFC 9110), and the key alone is no credential.
        assert get(f"{url}/metrics", headers={"Authorization": "bearer scrape-me"}).is_success
        bare = get(f"{url}/metrics", headers={"Authorization": "scrape-me"})
        assert bare.status_code == 401 and bare.json()["type"] == "/problems/missing-metrics-key"
    with serve(advisor=advisor, metrics="off") as url:
        assert get(f"{url}/metrics").status_code == 404


def test_slack_retries_are_counted_as_deduplicated(tmp_path: Path, advisor: Advisor) -> None:
    shared = SharedState(f"sqlite:///{tmp_path / 'claims.db'}")
    assert shared.claim("slack-event:Ev1") and shared.claim("slack-event:Ev2")
    assert not shared.claim("slack-event:Ev1")  # Slack's retry of the first
    assert shared.claim("slack-shortcut:T1")
    samples = _samples(Metrics(advisor, shared).exposition().decode())
    assert _value(samples, "advisor_slack_events_total", kind="event") == 2
    assert _value(samples, "advisor_slack_events_total", kind="shortcut") == 1
    assert _value(samples, "advisor_slack_retries_deduplicated_total", kind="event") == 1
    shared.close()


def test_the_exposition_is_prometheus_text(client: httpx.Client) -> None:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert {"advisor_http_requests", "advisor_turns", "advisor_index_passages"} <= names
