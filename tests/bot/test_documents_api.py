"""/v1/documents over real HTTP: admin keys, background ingest, cited answers, bad files."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from advisor.config import Settings
from tests import documents as files
from tests.bot.conftest import Serve

ADMIN = {"Authorization": "Bearer admin-key-1"}


@pytest.fixture
def private(settings: Settings, tmp_path: Path) -> Settings:
    """The test's own copy of the index: uploads change only it."""
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)
    return settings.model_copy(update={"data_dir": data})


@pytest.fixture
def admin_url(serve: Serve, private: Settings, embedder) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from advisor.facade import Advisor

    advisor = Advisor(private, embedder=embedder)
    with serve(advisor=advisor, admin_keys=["admin-key-1"], max_document_mb=1) as url:
        yield url


def _wait(client: httpx.Client, status_url: str, within: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + within
    while True:
        job = client.get(status_url, headers=ADMIN).json()
        if job["status"] in ("indexed", "failed") or time.monotonic() > deadline:
            return job  # type: ignore[no-any-return]
        time.sleep(0.2)


def test_closed_without_admin_keys(base_url: str) -> None:
    r = httpx.get(f"{base_url}/v1/documents", headers=ADMIN, timeout=60)
    assert r.status_code == 403 and r.json()["type"] == "/problems/admin-disabled"


def test_user_keys_do_not_open_the_document_routes(serve: Serve) -> None:
    with serve(api_keys=["user-key"], admin_keys=["admin-key-1"]) as url:
        user = {"Authorization": "Bearer user-key"}
        r = httpx.get(f"{url}/v1/documents", headers=user, timeout=60)
        assert r.status_code == 401 and r.json()["type"] == "/problems/invalid-admin-key"
        assert "Bearer" in r.headers["WWW-Authenticate"]
        r = httpx.get(f"{url}/v1/documents", timeout=60)
        assert r.json()["type"] == "/problems/missing-admin-key"
        assert httpx.get(f"{url}/v1/documents", headers=ADMIN, timeout=60).status_code == 200
        # and the admin key is no user key
        r = httpx.post(f"{url}/v1/ask", json={"question": "Why?"}, headers=ADMIN, timeout=60)
        assert r.status_code == 401


def test_upload_index_answer_and_delete(admin_url: str) -> None:
    with httpx.Client(base_url=admin_url, timeout=60) as client:
        r = client.post(
            "/v1/documents",
            headers=ADMIN,
            files=[
                ("files", ("lessons.pdf", files.lessons_pdf(), "application/pdf")),
                ("files", ("board.docx", files.board_docx(), "application/octet-stream")),
            ],
            data={"tags": "lessons, 2024"},
        )
        assert r.status_code == 202, r.text
        assert r.headers["Location"] == r.json()["status_url"]
        assert [f["status"] for f in r.json()["files"]] == ["added", "added"]
        job = _wait(client, r.json()["status_url"])
        assert job["status"] == "indexed" and job["counts"]["added"] >= 3  # type: ignore[index]

        listed = {
            d["doc_id"]: d for d in client.get("/v1/documents", headers=ADMIN).json()["documents"]
        }
        assert listed["lessons"]["status"] == "indexed" and listed["lessons"]["passages"] >= 2
        assert listed["lessons"]["pages"] == 2 and listed["board"]["tags"] == ["lessons", "2024"]

        answer = client.post(
            "/v1/ask", json={"question": "Why did the Northwind field team stop logging visits?"}
        ).json()
        pages = {c["page"] for c in answer["citations"] if c["doc_id"] == "lessons"}
        assert pages == {1}, answer

        r = client.delete("/v1/documents/lessons", headers=ADMIN)
        assert r.status_code == 202
        assert _wait(client, r.json()["status_url"])["status"] == "indexed"
        listed = client.get("/v1/documents", headers=ADMIN).json()["documents"]
        assert [d["doc_id"] for d in listed] == ["board"]
        sources = {s["doc_id"] for s in client.get("/v1/sources").json()["sources"]}
        assert "lessons" not in sources and "board" in sources

        r = client.delete("/v1/documents/lessons", headers=ADMIN)
        assert r.status_code == 404 and r.json()["type"] == "/problems/document-not-found"
        r = client.get(f"/v1/documents/jobs/{'0' * 32}", headers=ADMIN)
        assert r.status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.docx", files.corrupt_docx(), "not a readable Word file"),
        ("scan.pdf", files.scanned_pdf(), "needs OCR"),
        ("locked.pdf", files.encrypted_pdf(), "encrypted"),
        ("empty.txt", b"", "empty"),
        ("../up.txt", b"Enough words to be indexed as a document.", "path separators"),
        ("a\\b.txt", b"Enough words to be indexed as a document.", "path separators"),
    ],
)
def test_bad_files_get_a_problem_naming_them(
    admin_url: str, name: str, data: bytes, reason: str
) -> None:
    r = httpx.post(
        f"{admin_url}/v1/documents", headers=ADMIN, files={"files": (name, data)}, timeout=60
    )
    assert r.status_code == 422 and r.json()["type"] == "/problems/bad-document", r.text
    assert reason in r.json()["detail"]
    listed = httpx.get(f"{admin_url}/v1/documents", headers=ADMIN, timeout=60).json()
    assert listed["documents"] == []  # nothing written


def test_a_control_character_in_the_file_name_is_refused(admin_url: str) -> None:
    # httpx percent-encodes such a name, so the multipart body is written by hand.
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="files"; filename="bell\x07.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"Enough words to be indexed as a document.\r\n--XyZ--\r\n"
    )
    headers = {**ADMIN, "Content-Type": "multipart/form-data; boundary=XyZ"}
    r = httpx.post(f"{admin_url}/v1/documents", headers=headers, content=body, timeout=60)
    assert r.status_code == 422 and "control characters" in r.json()["detail"], r.text


def test_too_large_wrong_media_type_and_duplicates(admin_url: str) -> None:
    big = b"word " * (300 * 1024)  # 1.5 MB, over this server's 1 MB limit
    r = httpx.post(
        f"{admin_url}/v1/documents", headers=ADMIN, files={"files": ("big.txt", big)}, timeout=60
    )
    assert r.status_code == 413 and r.json()["type"] == "/problems/body-too-large"
    r = httpx.post(f"{admin_url}/v1/documents", headers=ADMIN, json={"files": []}, timeout=60)
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]

    data = files.board_docx()
    with httpx.Client(base_url=admin_url, timeout=60) as client:
        first = client.post("/v1/documents", headers=ADMIN, files={"files": ("a.docx", data)})
        assert _wait(client, first.json()["status_url"])["status"] == "indexed"
        again = client.post("/v1/documents", headers=ADMIN, files={"files": ("b.docx", data)})
        assert again.status_code == 202
        assert again.json()["files"][0]["status"] == "duplicate"
        assert again.json()["files"][0]["doc_id"] == "a"


def test_a_wrong_method_lists_every_method_the_path_serves(admin_url: str) -> None:
    r = httpx.put(f"{admin_url}/v1/documents", headers=ADMIN, timeout=60)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"
