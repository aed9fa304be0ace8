"""Bad input at every door: a clear 4xx or CLI error, the server stays up, nothing stored is lost.

Each HTTP case runs against one seeded server; the `intact` fixture then checks that the
server still answers and that the stored conversation, its rating and a plan review are
exactly as they were.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.conftest import Seeded

JSON = {"Content-Type": "application/json"}
ASK = "/v1/ask"
Q = "Why do CRM projects fail?"
PLAN_WORDS = "Our CRM plan names an owner, a budget, a pilot and measures for every stage. "


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"question": "'
    for _ in range(total // 65536):
        yield b"a" * 65536
    yield b'"}'


# (id, method, path, request kwargs, status, problem slug)
HTTP_CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("empty-question", "POST", ASK, {"json": {"question": ""}}, 422, "empty-question"),
    ("whitespace-only", "POST", ASK, {"json": {"question": " \n\t\r "}}, 422, "empty-question"),
    ("1-MB-question", "POST", ASK, {"json": {"question": "a" * 1_000_000}}, 413, "body-too-large"),
    (
        "1-MB-chunked",
        "POST",
        ASK,
        {"content": _chunks(1_000_000), "headers": JSON},
        413,
        "body-too-large",
    ),
    ("4001-chars", "POST", ASK, {"json": {"question": "a" * 4001}}, 422, "question-too-long"),
    ("nul-byte", "POST", ASK, {"json": {"question": "why\x00 fail?"}}, 422, "invalid-input"),
    (
        "invalid-utf8",
        "POST",
        ASK,
        {"content": b'{"question": "why \xff\xfe?"}', "headers": JSON},
        422,
        "malformed-json",
    ),
    (
        "escape-sequence",
        "POST",
        ASK,
        {"json": {"question": "\x1b[31mwhy fail?"}},
        422,
        "invalid-input",
    ),
    ("bell", "POST", ASK, {"json": {"question": "why\x07 fail?"}}, 422, "invalid-input"),
    (
        "lone-surrogate",
        "POST",
        ASK,
        {"content": b'{"question": "why \\ud800 fail?"}', "headers": JSON},
        422,
        "invalid-input",
    ),
    ("question-number", "POST", ASK, {"json": {"question": 42}}, 422, "validation-error"),
    ("question-list", "POST", ASK, {"json": {"question": [Q]}}, 422, "validation-error"),
    ("question-null", "POST", ASK, {"json": {"question": None}}, 422, "validation-error"),
    ("question-object", "POST", ASK, {"json": {"question": {"$ne": ""}}}, 422, "validation-error"),
    ("missing-field", "POST", ASK, {"json": {}}, 422, "validation-error"),
    ("extra-field", "POST", ASK, {"json": {"question": Q, "admin": True}}, 422, "validation-error"),
    (
        "deeply-nested",
        "POST",
        ASK,
        {"content": b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "headers": JSON},
        422,
        "malformed-json",
    ),
    ("body-is-array", "POST", ASK, {"json": [Q]}, 422, "validation-error"),
    (
        "truncated-json",
        "POST",
        ASK,
        {"content": b'{"question": "why', "headers": JSON},
        422,
        "malformed-json",
    ),
    ("empty-body", "POST", ASK, {"content": b"", "headers": JSON}, 422, "validation-error"),
    (
        "nan",
        "POST",
        ASK,
        {"content": b'{"question": NaN}', "headers": JSON},
        422,
        "validation-error",
    ),
    (
        "5000-digit-number",
        "POST",
        ASK,
        {"content": b'{"question": ' + b"9" * 5000 + b"}", "headers": JSON},
        422,
        "malformed-json",
    ),
    (
        "text-plain",
        "POST",
        ASK,
        {"content": Q, "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported-media-type",
    ),
    ("form-encoded", "POST", ASK, {"data": {"question": Q}}, 415, "unsupported-media-type"),
    (
        "huge-conversation-id",
        "POST",
        ASK,
        {"json": {"question": Q, "conversation_id": "c" * 100_000}},
        422,
        "invalid-conversation-id",
    ),
    (
        "unknown-conversation-id",
        "POST",
        ASK,
        {"json": {"question": Q, "conversation_id": "no-such-conversation"}},
        404,
        "conversation-not-found",
    ),
    (
        "sql-conversation-id",
        "POST",
        ASK,
        {"json": {"question": Q, "conversation_id": "x' OR '1'='1"}},
        422,
        "invalid-conversation-id",
    ),
    ("stream-empty", "POST", "/v1/ask/stream", {"json": {"question": "  "}}, 422, "empty-question"),
    ("plan-empty", "POST", "/v1/review", {"json": {"plan": ""}}, 422, "empty-plan"),
    (
        "plan-too-short",
        "POST",
        "/v1/review",
        {"json": {"plan": "We will buy a CRM."}},
        422,
        "plan-too-short",
    ),
    (
        "plan-too-long",
        "POST",
        "/v1/review",
        {"json": {"plan": PLAN_WORDS * 300}},
        422,
        "plan-too-long",
    ),
    (
        "plan-nul",
        "POST",
        "/v1/review",
        {"json": {"plan": PLAN_WORDS + "\x00"}},
        422,
        "invalid-input",
    ),
    (
        "plan-unknown-conversation",
        "POST",
        "/v1/review",
        {"json": {"plan": PLAN_WORDS, "conversation_id": "nope"}},
        404,
        "conversation-not-found",
    ),
    (
        "feedback-bad-rating",
        "POST",
        "/v1/feedback",
        {"json": {"conversation_id": "{cid}", "turn": 1, "rating": "meh"}},
        422,
        "validation-error",
    ),
    (
        "feedback-turn-0",
        "POST",
        "/v1/feedback",
        {"json": {"conversation_id": "{cid}", "turn": 0, "rating": "up"}},
        422,
        "validation-error",
    ),
    (
        "feedback-turn-string",
        "POST",
        "/v1/feedback",
        {"json": {"conversation_id": "{cid}", "turn": "1", "rating": "up"}},
        422,
        "validation-error",
    ),
    (
        "feedback-turn-huge",
        "POST",
        "/v1/feedback",
        {"json": {"conversation_id": "{cid}", "turn": 10**30, "rating": "down"}},
        404,
        "turn-not-found",
    ),
    (
        "feedback-missing-turn",
        "POST",
        "/v1/feedback",
        {"json": {"conversation_id": "{cid}", "turn": 9, "rating": "down"}},
        404,
        "turn-not-found",
    ),
    (
        "feedback-long-comment",
        "POST",
        "/v1/feedback",
        {"json": {"conversation_id": "{cid}", "turn": 1, "rating": "down", "comment": "x" * 2001}},
        422,
        "validation-error",
    ),
    (
        "feedback-control-comment",
        "POST",
        "/v1/feedback",
        {"json": {"conversation_id": "{cid}", "turn": 1, "rating": "down", "comment": "bad\x1b"}},
        422,
        "invalid-input",
    ),
    (
        "feedback-unknown-conversation",
        "POST",
        "/v1/feedback",
        {"json": {"conversation_id": "nope", "turn": 1, "rating": "up"}},
        404,
        "conversation-not-found",
    ),
    (
        "get-unknown-conversation",
        "GET",
        "/v1/conversations/nope",
        {},
        404,
        "conversation-not-found",
    ),
    (
        "get-long-conversation-id",
        "GET",
        "/v1/conversations/" + "c" * 5000,
        {},
        422,
        "invalid-conversation-id",
    ),
    (
        "get-nul-conversation-id",
        "GET",
        "/v1/conversations/a%00b",
        {},
        422,
        "invalid-conversation-id",
    ),
    ("wrong-method", "GET", ASK, {}, 405, "method-not-allowed"),
    ("unknown-path", "POST", "/v1/admin", {"json": {}}, 404, "not-found"),
]


def _fill(value: Any, cid: str) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, cid) for k, v in value.items()}
    return value.replace("{cid}", cid) if isinstance(value, str) else value


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "slug"),
    [case[1:] for case in HTTP_CASES],
    ids=[case[0] for case in HTTP_CASES],
)
def test_bad_http_input_gets_a_clear_problem(
    intact: Seeded, method: str, path: str, kwargs: dict[str, Any], status: int, slug: str
) -> None:
    """Each malformed request gets its documented 4xx problem with a human detail."""
    kwargs = (
        {**kwargs, "json": _fill(kwargs["json"], intact.conversation)}
        if "json" in kwargs
        else kwargs
    )
    r = httpx.request(method, intact.url + path, timeout=60, **kwargs)
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["detail"] and "Traceback" not in r.text


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE turns; -- why do CRM projects fail?",
        "Why do CRM projects fail? <script>alert(1)</script><img src=x onerror=alert(2)>",
    ],
    ids=["sql-in-question", "html-in-question"],
)
def test_sql_and_markup_in_a_question_are_just_text(intact: Seeded, text: str) -> None:
    """They are valid questions: answered, and stored exactly as sent, with no effect."""
    r = httpx.post(f"{intact.url}{ASK}", json={"question": text}, timeout=60)
    assert r.status_code == 200
    answer = r.json()
    assert answer["answered"] and answer["citations"]
    turns = httpx.get(f"{intact.url}/v1/conversations/{answer['conversation_id']}", timeout=60)
    assert turns.json()["turns"][0]["question"] == text


# -- Slack ------------------------------------------------------------------------------
def _event(text: str) -> str:
    return json.dumps(
        {
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"Ev-{abs(hash(text))}",
            "event_time": 1,
            "event": {
                "type": "app_mention",
                "user": "U1",
                "text": text,
                "channel": "C9",
                "ts": "1700000100.000100",
            },
        }
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"X-Slack-Signature": "v0=" + "0" * 64}, 401),
        ({"X-Slack-Request-Timestamp": "1500000000"}, 401),
        ({"X-Slack-Signature": ""}, 401),
        ({"X-Slack-Request-Timestamp": "not-a-number"}, 401),
    ],
    ids=[
        "slack-bad-signature",
        "slack-replayed-old-timestamp",
        "slack-no-signature",
        "slack-garbage-timestamp",
    ],
)
def test_slack_requests_that_are_not_from_slack_are_refused(
    intact: Seeded, headers: dict[str, str], status: int
) -> None:
    """A forged, unsigned or replayed request is refused and nothing is posted."""
    before = len(intact.slack.calls)
    r = intact.slack_post(
        _event("<@UBOT> why do CRM projects fail?"), "application/json", **headers
    )
    assert r.status_code == status
    assert len(intact.slack.calls) == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[]", "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
    ],
    ids=["slack-signed-junk-json", "slack-signed-array", "slack-signed-broken-payload"],
)
def test_signed_junk_from_slack_is_refused_without_a_crash(
    intact: Seeded, body: str, content_type: str
) -> None:
    """A correctly signed body that is not a Slack payload gets a 4xx, never a 5xx."""
    r = intact.slack_post(body, content_type)
    assert 400 <= r.status_code < 500, r.text[:200]


def test_a_slack_question_with_control_characters_gets_a_friendly_line(intact: Seeded) -> None:
    """The user is told what to fix in the thread; no traceback, no stored turn."""
    r = intact.slack_post(_event("<@UBOT> why do \x1b[31mCRM projects fail?"), "application/json")
    assert r.status_code == 200
    reply = intact.slack.wait_for(
        lambda: [c for c in intact.slack.of("chat.update") if c["args"].get("channel") == "C9"]
    )[0]["args"]["text"]
    assert "control character" in reply and "Traceback" not in reply


# -- CLI --------------------------------------------------------------------------------
def _cli(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ADVISOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    env["ADVISOR_DATABASE_URL"] = f"sqlite:///{data / 'cli.db'}"
    return subprocess.run(
        [sys.executable, "-m", "advisor.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=300,
    )


@pytest.fixture(scope="module")
def cli_data(tmp_path_factory: pytest.TempPathFactory, index_dir: Path) -> Path:
    """A data dir that shares the session's index through a symlink, with its own store."""
    data = tmp_path_factory.mktemp("cli")
    (data / "index").symlink_to(index_dir / "index")
    return data


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "the question is empty"),
        (["ask", "why \x1b[31m fail?"], "control character U+001B"),
        (["ask", "x" * 4001], "limit is 4000"),
        (["ask", "-c", "bad id!", Q], "conversation_id must be"),
        (["ask", "-c", "no-such-conversation", Q], "no conversation 'no-such-conversation'"),
        (["review", "/no/such/plan.txt"], "No such file or directory"),
        (["review", "-"], "the plan is empty"),
        (["frobnicate"], "No such command"),
    ],
    ids=[
        "cli-empty",
        "cli-control",
        "cli-too-long",
        "cli-bad-id",
        "cli-unknown-id",
        "cli-missing-file",
        "cli-empty-stdin",
        "cli-unknown-command",
    ],
)
def test_bad_cli_input_gets_a_clear_error(cli_data: Path, args: list[str], message: str) -> None:
    """A usage error is exit 2 (or 1 for a refused request) with one clear line, no traceback."""
    done = _cli(cli_data, *args, stdin="")
    assert done.returncode in (1, 2), done.stdout
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_plan_file_that_is_not_text_is_refused(cli_data: Path, tmp_path: Path) -> None:
    """A binary or mis-encoded plan file is named and refused."""
    plan = tmp_path / "plan.docx"
    plan.write_bytes(b"PK\x03\x04\xff\xfe\x00\x00binary")
    done = _cli(cli_data, "review", str(plan))
    assert done.returncode in (1, 2)
    assert "plan.docx" in done.stderr or "UTF-8" in done.stderr
    assert "Traceback" not in done.stderr


# -- corpus -----------------------------------------------------------------------------
_QUOTE = (  # a real sentence of what-went-wrong
    "Two primary reasons that so many CRM projects fail are poor data quality and lack of "
    "proper system integration."
)
GOOD_HEAD = (
    "---\nid: note-extra\ntitle: Extra\nkind: note\npattern: no_resources\n"
    "sources: [why-crm-often-fails]\n---\n"
)
CORPUS_CASES: list[tuple[str, bytes, str]] = [
    ("corpus-invalid-utf8", GOOD_HEAD.encode() + b"Budget \xff\xfe matters.\n", "unreadable"),
    ("corpus-binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "unreadable"),
    ("corpus-nul", GOOD_HEAD.encode() + b"Budget\x00 matters.\n", "binary content"),
    ("corpus-empty-file", b"", "no front matter"),
    ("corpus-no-front-matter", b"Just some text about CRM budgets.\n", "no front matter"),
    ("corpus-broken-yaml", b"---\ntitle: [oops\n---\nText.\n", "broken front matter"),
    ("corpus-front-matter-a-list", b"---\n- a\n- b\n---\nText.\n", "not a mapping"),
    (
        "corpus-unknown-pattern",
        GOOD_HEAD.replace("no_resources", "no_such").encode() + b"Hi.\n",
        "not a known failure pattern",
    ),
    ("corpus-body-empty", GOOD_HEAD.encode() + b"\n\n", "empty"),
    (
        "corpus-answer-evidence-not-quoted",
        GOOD_HEAD.replace("kind: note", "kind: answer")
        .replace("sources:", "questions: [Budget needed]\nevidence: [Made up here.]\nsources:")
        .encode()
        + b"Yes: a CRM project needs its own budget for people and training.\n",
        "evidence not found",
    ),
    (
        "corpus-answer-evidence-quoted-twice",
        GOOD_HEAD.replace("kind: note", "kind: answer")
        .replace("why-crm-often-fails", "what-went-wrong")
        .replace("sources:", f"questions: [Why fail]\nevidence: [{_QUOTE}, {_QUOTE}]\nsources:")
        .encode()
        + b"Yes: a CRM project needs clean data and its systems joined up.\n",
        "evidence quoted twice",
    ),
]


@pytest.mark.parametrize(
    ("content", "message"),
    [case[1:] for case in CORPUS_CASES],
    ids=[case[0] for case in CORPUS_CASES],
)
def test_a_malformed_corpus_file_is_named_and_the_index_keeps_serving(
    tmp_path: Path, corpus_copy: Path, index_dir: Path, content: bytes, message: str
) -> None:
    """`advisor ingest` names the bad file, exits 1, and leaves the serving index as it was."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "index").symlink_to(index_dir / "index")
    current = (index_dir / "index" / "CURRENT").read_text()
    (corpus_copy / "notes" / "extra.md").write_bytes(content)
    env = {"ADVISOR_CORPUS_DIR": str(corpus_copy)}
    done = subprocess.run(
        [sys.executable, "-m", "advisor.cli", "ingest"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "ADVISOR_DATA_DIR": str(data)},
        timeout=300,
    )
    assert done.returncode == 1
    assert "extra.md" in done.stderr and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert (index_dir / "index" / "CURRENT").read_text() == current
