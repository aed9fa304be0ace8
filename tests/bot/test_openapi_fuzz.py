"""Schemathesis fuzzes every operation of the served /openapi.json on a real loopback server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import settings
from schemathesis import Case, CheckContext, GenerationMode, Response

from tests.bot.conftest import Serve, get

# Generated requests per operation, on top of the schema's examples and the coverage phase's
# boundary and invalid cases. 200 keeps this file under a minute on 2 busy cores.
MAX_EXAMPLES = 200

CONFIG = {
    "generation": {
        # Valid and invalid requests: an invalid one must get a 4xx problem, never a 5xx.
        "mode": "all",
        # No example database: every run explores afresh, and a failure prints the curl
        # command that replays it.
        "database": "none",
    },
    "checks": {
        # The schema cannot say "not blank once trimmed", "no control characters" or "at
        # least 12 words", so a schema-valid question or plan may get a 422 from the advisor
        # (never from the request models: see model_accepts_what_the_schema_allows).
        # The OpenAI-compatible routes send OpenAI's 400 where the others send a 422.
        "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "422"]},
    },
}

PLAN = (
    "Goal: transform every customer relationship across all departments within a year. "
    "IT will own the project and choose the vendor; the sales team will be trained at go-live."
)


def model_accepts_what_the_schema_allows(ctx: CheckContext, response: Response, case: Case) -> None:
    """A schema-valid request is never refused as malformed or as not matching the schema."""
    meta = case.meta
    if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return
    if response.status_code in (400, 422):
        kind = response.json().get("type")
        assert kind not in ("/problems/validation-error", "/problems/malformed-json"), (
            f"the published schema allows this request, but the server refused it: {response.text}"
        )


@pytest.fixture
def api_schema(serve: Serve, request: pytest.FixtureRequest) -> Iterator[schemathesis.BaseSchema]:
    """The schema a ready server publishes, with no rate limit to slow the fuzzer down."""
    # schemathesis 4.32 renames the test node through `_nodeid`, which pytest 9.2 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    with serve(rate_limit=0) as url:
        deadline = time.monotonic() + 60
        while get(f"{url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.1)
        config = schemathesis.Config.from_dict(CONFIG)
        yield schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)


# The document routes are closed on this server (no admin keys), so every request to them
# would be a 403; they are tested with real files, admin keys and bad input in
# test_documents_api.py.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex="^/v1/documents")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None)
def test_every_operation_survives_fuzzing(case: Case) -> None:
    """Valid and invalid requests get a documented, schema-conforming response and no 5xx."""
    case.call_and_validate(additional_checks=[model_accepts_what_the_schema_allows], timeout=60)


def test_success_responses_match_the_schema(api_schema: schemathesis.BaseSchema) -> None:
    """A conversation's answers, review, feedback and history match their documented schemas."""

    def call(path: str, method: str, expected: int, **data: object) -> Response:
        response = api_schema[path][method].Case(**data).call_and_validate(timeout=60)
        assert response.status_code == expected, response.text
        return response

    first = call("/v1/ask", "POST", 200, body={"question": "Why do CRM projects fail?"})
    cid = first.json()["conversation_id"]
    follow_up = {"question": "Who should own it?", "conversation_id": cid}
    assert call("/v1/ask", "POST", 200, body=follow_up).json()["turn"] == 2
    assert "event: answer" in call("/v1/ask/stream", "POST", 200, body=follow_up).text
    call("/v1/review", "POST", 200, body={"plan": PLAN, "conversation_id": cid})
    rating = {"conversation_id": cid, "turn": 1, "rating": "down", "comment": "too vague"}
    call("/v1/feedback", "POST", 201, body=rating)
    path = {"conversation_id": cid}
    turns = call("/v1/conversations/{conversation_id}", "GET", 200, path_parameters=path)
    history = turns.json()["turns"]
    assert history[0]["feedback"]["rating"] == "down" and history[-1]["review"]
