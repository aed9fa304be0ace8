"""POST /v1/review over real HTTP: the review, its follow-ups, and every bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.advisor.review.test_review import FLAWED, GOOD


def test_review_returns_findings_citations_and_a_score(client: httpx.Client) -> None:
    r = client.post("/v1/review", json={"plan": FLAWED})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {
        "conversation_id", "turn", "readiness", "verdict", "summary", "findings",
        "strengths", "goal_rewrite", "citations",
    }  # fmt: skip
    assert "timings" not in body and "total;dur=" in r.headers["server-timing"]
    found = {f["pattern"]: f for f in body["findings"]}
    assert found["it_only_ownership"]["severity"] == "high"
    assert set(found["it_only_ownership"]) >= {"title", "severity", "evidence", "why", "fix"}
    numbers = {c["n"] for c in body["citations"]}
    assert all(f"[{n}]" in r.text for n in numbers)
    assert body["goal_rewrite"]["rewrite"]


def test_a_follow_up_is_read_against_the_review(client: httpx.Client) -> None:
    review = client.post("/v1/review", json={"plan": FLAWED}).json()
    cid = review["conversation_id"]
    answer = client.post(
        "/v1/ask", json={"question": "how do we fix the measurement gap?", "conversation_id": cid}
    ).json()
    assert answer["answer"].startswith("On your plan's “No measurement” finding")
    assert answer["turn"] == 2
    turns = client.get(f"/v1/conversations/{cid}").json()["turns"]
    assert turns[0]["review"]["readiness"] == review["readiness"]
    assert turns[1]["review"] is None


def test_a_review_can_join_an_existing_conversation(client: httpx.Client) -> None:
    first = client.post("/v1/ask", json={"question": "Why do CRM projects fail?"}).json()
    review = client.post(
        "/v1/review", json={"plan": GOOD, "conversation_id": first["conversation_id"]}
    ).json()
    assert review["conversation_id"] == first["conversation_id"] and review["turn"] == 2
    assert not [f for f in review["findings"] if f["severity"] == "high"]


RECIPE = (
    "Preheat the oven to 200C. Rub the chicken with oil, salt and thyme, and roast it for an "
    "hour and a half. Rest it for ten minutes before carving, and make gravy from the juices."
)


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ({"plan": ""}, "empty-plan"),
        ({"plan": "   \n "}, "empty-plan"),
        ({"plan": "Buy HubSpot now."}, "plan-too-short"),
        ({"plan": "We will pilot the CRM first. " * 800}, "plan-too-long"),
        ({"plan": RECIPE}, "not-a-crm-plan"),
        ({"plan": FLAWED, "conversation_id": "bad id!"}, "invalid-conversation-id"),
        ({}, "validation-error"),
        ({"plan": 42}, "validation-error"),
        ({"plan": FLAWED, "extra": 1}, "validation-error"),
    ],
)
def test_bad_input_gets_a_problem(client: httpx.Client, body: dict, slug: str) -> None:  # type: ignore[type-arg]
    r = client.post("/v1/review", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == f"/problems/{slug}"


def test_a_rejected_plan_leaves_no_turn(client: httpx.Client) -> None:
    r = client.post("/v1/review", json={"plan": "too short", "conversation_id": "keep-1"})
    assert r.status_code == 422
    assert client.get("/v1/conversations/keep-1").status_code == 404


def test_a_20000_character_plan_is_accepted(client: httpx.Client) -> None:
    plan = ("Our goal is to cut churn by 5% by June. IT will lead the project. " * 400)[:20_000]
    r = client.post("/v1/review", json={"plan": plan})
    assert r.status_code == 200, r.text
