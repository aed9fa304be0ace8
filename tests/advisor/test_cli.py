"""The `advisor` console script, run as a user would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ADVISOR = str(Path(sys.executable).with_name("advisor"))


def run(*args: str, data: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ADVISOR_DATA_DIR": str(data)}
    return subprocess.run(
        [ADVISOR, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, index_dir: Path) -> Path:
    target = tmp_path_factory.mktemp("cli") / "data"
    shutil.copytree(index_dir, target)
    return target


def test_ask_json_answers_with_citations(data: Path) -> None:
    out = run("ask", "--json", "Why is our CRM plan too broad?", data=data)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer) >= {"answer", "answered", "conversation_id", "citations"}
    assert answer["answered"] is True
    assert any("boil the ocean" in c["quote"] for c in answer["citations"])
    assert all(
        set(c) >= {"n", "doc_id", "title", "kind", "quote", "score"} for c in answer["citations"]
    )


def test_ask_out_of_scope_json(data: Path) -> None:
    out = run("ask", "--json", "What is the capital of Australia?", data=data)
    answer = json.loads(out.stdout)
    assert answer["answered"] is False and answer["citations"] == []


def test_ask_human_output_lists_sources(data: Path) -> None:
    out = run("ask", "Who should own the CRM project?", data=data)
    assert out.returncode == 0, out.stderr
    assert "Sources:" in out.stdout and "[1]" in out.stdout
    assert "Traceback" not in out.stderr


def test_second_ingest_changes_nothing(data: Path) -> None:
    out = run("ingest", "--json", data=data)
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert counts["added"] == 0 and counts["updated"] == 0 and counts["deleted"] == 0
    assert counts["skipped"] > 50
    # Ingest embeds the fixed texts once, so a one-shot `advisor ask` reads them.
    assert len(list((data / "cache").glob("vectors-*.npz"))) == 1


def test_ingest_succeeds_when_the_fixed_texts_cannot_be_embedded(
    tmp_path: Path, index_dir: Path
) -> None:
    """The new index serves already when the fixed texts are embedded; a failure there (a
    bad question-type training folder here) is a warning, not a failed ingest."""
    data = tmp_path / "data"
    shutil.copytree(index_dir, data)
    for saved in (data / "cache").glob("vectors-*.npz"):
        saved.unlink()
    (tmp_path / "no-questions").mkdir()
    env = {
        **os.environ,
        "ADVISOR_DATA_DIR": str(data),
        "ADVISOR_QUESTION_TRAINING_DIR": str(tmp_path / "no-questions"),
    }
    out = subprocess.run(
        [ADVISOR, "ingest", "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["skipped"] > 50
    assert "warning: the fixed texts' vectors were not saved" in out.stderr
    assert "Traceback" not in out.stderr


def test_ingest_reports_bad_files_and_fails(tmp_path: Path, corpus_copy: Path) -> None:
    (corpus_copy / "notes" / "broken.md").write_text("---\nid: [\n---\n", encoding="utf-8")
    env = {
        **os.environ,
        "ADVISOR_DATA_DIR": str(tmp_path / "d"),
        "ADVISOR_CORPUS_DIR": str(corpus_copy),
    }
    out = subprocess.run(
        [ADVISOR, "ingest", "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 1
    assert "broken.md" in out.stderr and "broken front matter" in out.stderr
    assert "Traceback" not in out.stderr


def test_sources_lists_articles_with_attribution(data: Path) -> None:
    out = run("sources", "--json", data=data)
    docs = {d["doc_id"]: d for d in json.loads(out.stdout)}
    assert docs["accountability-users"]["author"] == "Chris Selland"
    assert sum(1 for d in docs.values() if d["kind"] == "note") == 18  # 12 patterns, 6 topics


def test_empty_question_is_a_usage_error(data: Path) -> None:
    out = run("ask", "   ", data=data)
    assert out.returncode == 2 and "empty" in out.stderr


def test_missing_index_tells_the_user_what_to_do(tmp_path: Path) -> None:
    out = run("ask", "Who owns CRM?", data=tmp_path / "nothing")
    assert out.returncode == 1
    assert "advisor ingest" in out.stderr and "Traceback" not in out.stderr
    assert str(tmp_path / "nothing") in out.stderr and "ADVISOR_DATA_DIR" in out.stderr


def test_add_and_remove_documents(tmp_path: Path, data: Path) -> None:
    from tests import documents as files

    own = tmp_path / "data"
    shutil.copytree(data, own)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "lessons.pdf").write_bytes(files.lessons_pdf())
    (folder / "board.docx").write_bytes(files.board_docx())
    (folder / "ignored.xlsx").write_bytes(b"PK")  # not a supported type: a folder skips it
    (folder / ".drafts").mkdir()  # hidden folders and links out of the folder are passed over
    (folder / ".drafts" / "draft.md").write_text("# Draft\n\nNot ready to be indexed yet.")
    (folder / "link.txt").symlink_to(folder.parent / "outside.txt")
    (folder.parent / "outside.txt").write_text("Text outside the folder, never to be indexed.")
    out = run("add", str(folder), "--tag", "review", "--json", data=own)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["added"] >= 3 and {f["doc_id"] for f in report["files"]} == {"lessons", "board"}
    assert report["skipped_unsupported"] == 1

    out = run("add", str(folder / "lessons.pdf"), data=own)
    assert out.returncode == 0 and "already there as lessons" in out.stdout

    out = run(
        "ask", "--json", "Why did the Northwind field sales team stop logging visits?", data=own
    )
    cited = [c for c in json.loads(out.stdout)["citations"] if c["doc_id"] == "lessons"]
    assert cited and cited[0]["page"] == 1
    out = run("ask", "Why did the Northwind field sales team stop logging visits?", data=own)
    assert "Lessons from our CRM rollout — Page 1 (Northwind PMO" in out.stdout

    sources = {d["doc_id"]: d for d in json.loads(run("sources", "--json", data=own).stdout)}
    assert sources["board"]["origin"] == "added" and sources["board"]["tags"] == ["review"]

    out = run("remove", "lessons", "--json", data=own)
    assert out.returncode == 0 and json.loads(out.stdout)["deleted"] >= 2
    out = run("remove", "lessons", data=own)
    assert out.returncode == 2 and "no added document 'lessons'" in out.stderr


def test_add_refuses_bad_files_by_name(tmp_path: Path, data: Path) -> None:
    from tests import documents as files

    (tmp_path / "scan.pdf").write_bytes(files.scanned_pdf())
    huge = files.sparse_file(tmp_path / "huge.pdf", 500 * 2**20)  # no disk used, never read
    out = run("add", str(tmp_path / "scan.pdf"), "--json", data=data)
    assert out.returncode == 2
    assert json.loads(out.stdout)["error"]["code"] == "bad-document"
    assert "scan.pdf" in out.stderr and "needs OCR" in out.stderr
    out = run("add", str(huge), data=data)
    assert out.returncode == 2 and "huge.pdf: 500 MB is over the 50 MB limit" in out.stderr
    out = run("add", str(tmp_path / "missing.pdf"), "--json", data=data)
    assert out.returncode == 2 and "missing.pdf" in out.stderr and "Traceback" not in out.stderr
    assert json.loads(out.stdout)["error"]["code"] == "invalid-input"
    (tmp_path / "x.txt").symlink_to("/etc/hostname")
    out = run("add", str(tmp_path / "x.txt"), data=data)
    assert out.returncode == 2 and "symbolic link" in out.stderr
    assert not (data / "documents").exists()


def test_chat_understands_follow_ups(data: Path) -> None:
    out = run("chat", data=data, stdin="What is a CRMO?\nWho usually gets that job?\n/quit\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("advisor>") == 2
    assert "go to the CIO" in out.stdout.split("advisor>")[2]


def test_review_a_file_as_json_then_follow_up(data: Path, tmp_path: Path) -> None:
    from tests.advisor.review.test_review import FLAWED

    plan = tmp_path / "plan.txt"
    plan.write_text(FLAWED, encoding="utf-8")
    out = run("review", "--json", str(plan), data=data)
    assert out.returncode == 0, out.stderr
    review = json.loads(out.stdout)
    assert {f["pattern"] for f in review["findings"]} >= {"goals_too_broad", "it_only_ownership"}
    follow = run(
        "ask", "--json", "-c", review["conversation_id"], "why is that too broad?", data=data
    )
    assert json.loads(follow.stdout)["answer"].startswith("On your plan's “Goals too broad”")


def test_review_reads_stdin_and_prints_a_readable_review(data: Path) -> None:
    from tests.advisor.review.test_review import FLAWED

    out = run("review", "-", data=data, stdin=FLAWED)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Plan review: readiness")
    assert "In your plan: “The IT department will lead the project" in out.stdout
    assert "Sources:" in out.stdout and "advisor ask -c" in out.stdout


def test_review_refuses_a_non_plan_with_exit_2(data: Path, tmp_path: Path) -> None:
    out = run("review", "-", data=data, stdin="lunch at noon?")
    assert out.returncode == 2 and "at least 12 words" in out.stderr
    missing = run("review", str(tmp_path / "nope.txt"), data=data)
    assert missing.returncode == 2 and "No such file" in missing.stderr
    binary = tmp_path / "plan.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage" * 10)
    assert run("review", str(binary), data=data).returncode == 2


def test_a_bad_setting_is_one_clear_line_not_a_traceback() -> None:
    # Two front-door settings and one of the core's: every one is named, in one line.
    bad = {"ADVISOR_RATE_LIMIT": "lots", "ADVISOR_RATE_STORE": "redis", "ADVISOR_K_FINAL": "0"}
    env = {**os.environ, **bad}
    for command in (["sources"], ["serve", "--port", "0"]):
        out = subprocess.run(
            [ADVISOR, *command], capture_output=True, text=True, env=env, timeout=120
        )
        assert out.returncode == 1, out.stderr
        assert all(name in out.stderr for name in bad), out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
        assert "Traceback" not in out.stderr


def test_an_empty_conversation_id_is_refused_as_over_http(data: Path) -> None:
    out = run("ask", "-c", "", "Why do CRM projects fail?", data=data)
    assert out.returncode == 2 and "conversation_id" in out.stderr


def test_json_mode_reports_bad_input_as_json(data: Path, tmp_path: Path) -> None:
    # A script that asked for JSON gets JSON on stdout even when the input is refused.
    cases = [
        (("review", "--json", "-"), "", "empty-plan"),
        (("review", "--json", str(tmp_path / "nope.txt")), None, "invalid-input"),
        (("ask", "--json", "  "), None, "empty-question"),
    ]
    for args, stdin, code in cases:
        out = run(*args, data=data, stdin=stdin)
        assert out.returncode == 2, out.stderr
        error = json.loads(out.stdout)["error"]
        assert error["code"] == code and error["detail"] in out.stderr


def test_an_unknown_conversation_is_bad_input(data: Path) -> None:
    out = run("ask", "-c", "doesnotexist", "why?", data=data)
    assert out.returncode == 2 and "doesnotexist" in out.stderr, out.stderr


def test_train_review_also_saves_the_question_type_reader(data: Path, tmp_path: Path) -> None:
    shared = Path(os.environ["ADVISOR_REVIEW_MODEL_DIR"])
    models = tmp_path / "models"
    models.mkdir()
    for saved in shared.glob("plan-sentences-*.npz"):  # else it trains one (2 minutes)
        shutil.copy(saved, models)
    if (shared / "onnx").is_dir():
        (models / "onnx").symlink_to(shared / "onnx")
    env = {**os.environ, "ADVISOR_DATA_DIR": str(data), "ADVISOR_REVIEW_MODEL_DIR": str(models)}
    out = subprocess.run(
        [ADVISOR, "train-review"], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Plan-review model plan-sentences-" in out.stdout
    assert "Question-type reader (" in out.stdout and "questions) ready" in out.stdout
    assert len(list(models.glob("question-types-*.npz"))) == 1
