"""The knowledge owner's document routes, behind admin keys: upload, list, status, delete.

``ADVISOR_ADMIN_KEYS`` opens them (``Authorization: Bearer <admin key>``); the users' API
keys do not, and with no admin keys set they are closed. An upload is converted and
checked at once (a bad file is a 422 naming it, and nothing is written); the ingest then
runs in the background and the 202 answer gives the job's status URL.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from advisor import DocumentLibrary
from bot.api import ERRORS, AdvisorDep, _problem_schema
from bot.middleware import bearer_token, key_digests, matching_digest
from bot.problems import problem

PREFIX = "/v1/documents"
ADMIN_CHALLENGE = 'Bearer realm="crm-advisor-admin"'  # WWW-Authenticate of a refusal
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: _problem_schema("Missing or invalid admin key"),
    403: _problem_schema("Document administration is not enabled (no ADVISOR_ADMIN_KEYS)"),
    404: _problem_schema("No such added document or job"),
}


class AdminRefusal(Exception):
    """An admin route refused: the problem slug and its detail."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug


def admin_refusal(authorization: str, digests: list[bytes]) -> AdminRefusal | None:
    """Why an ``Authorization`` header does not open the admin routes, or None when it
    does (one of the admin keys, compared in constant time)."""
    if not digests:
        return AdminRefusal("admin-disabled", "set ADVISOR_ADMIN_KEYS to manage documents")
    token = bearer_token(authorization)
    if not token:
        return AdminRefusal("missing-admin-key", "send `Authorization: Bearer <admin key>`")
    if matching_digest(token, digests) is None:
        return AdminRefusal("invalid-admin-key", "this key does not open document administration")
    return None


def require_admin(request: Request) -> None:
    """Let the request through only with one of the admin keys."""
    authorization = request.headers.get("authorization", "")
    refusal = admin_refusal(authorization, request.app.state.admin_digests)
    if refusal is not None:
        raise refusal


def library(advisor: AdvisorDep) -> DocumentLibrary:
    """The added documents, ingesting with the server's own loaded model."""
    return DocumentLibrary(advisor.settings, lambda: advisor.embedder)


LibraryDep = Annotated[DocumentLibrary, Depends(library)]
router = APIRouter(
    prefix=PREFIX, tags=["documents"], responses=ADMIN_ERRORS, dependencies=[Depends(require_admin)]
)


class DocumentOut(BaseModel):
    """An added document, and whether the serving index holds it yet."""

    doc_id: str
    title: str
    kind: Literal["article", "note"]
    file_name: str
    format: str
    sha256: str
    added: str
    status: Literal["indexed", "pending"] = Field(
        description="`indexed` once the serving index holds it; `pending` until its ingest ends."
    )
    passages: int = 0
    pages: int | None = None
    author: str | None = None
    date: str | None = None
    tags: list[str] = Field(default_factory=list)


class DocumentsOut(BaseModel):
    """Every added document."""

    documents: list[DocumentOut]


class JobOut(BaseModel):
    """A background ingest: queued, indexing, indexed or failed (with the error)."""

    id: str
    action: Literal["add", "remove"]
    status: Literal["queued", "indexing", "indexed", "failed"]
    status_url: str = ""
    files: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None
    counts: dict[str, int] | None = None
    created: str
    finished: str | None = None


def _job_out(job: dict[str, Any]) -> JobOut:
    return JobOut(**{**job, "status_url": f"{PREFIX}/jobs/{job['id']}"})


@router.post("", response_model=JobOut, status_code=202)
def upload(
    library: LibraryDep,
    background: BackgroundTasks,
    files: Annotated[list[UploadFile], File(description="PDF, DOCX, HTML, Markdown or text.")],
    kind: Annotated[Literal["article", "note"], Form()] = "article",
    tags: Annotated[str, Form(description="Comma-separated tags.")] = "",
    title: Annotated[str | None, Form(max_length=300)] = None,
) -> JSONResponse:
    """Add files; 202 with the job's status URL, the ingest running in the background."""
    read = [(f.filename or "", f.file.read(library.max_bytes + 1)) for f in files]
    tag_list = [t.strip() for t in tags.split(",") if t.strip()]
    outcome = library.add(read, kind, tag_list, title or None, ingest=False)
    job = library.start_job("add", outcome.files)
    written = [f.doc_id for f in outcome.files if f.status == "added"]
    background.add_task(library.run_job, job, written)
    out = _job_out(job)
    return JSONResponse(out.model_dump(), status_code=202, headers={"Location": out.status_url})


@router.get("", response_model=DocumentsOut)
def documents(library: LibraryDep, advisor: AdvisorDep) -> DocumentsOut:
    """Every added document, with its passage count in the serving index."""
    indexed = {s.doc_id: s.passages for s in advisor.sources() if s.origin == "added"}
    out = []
    for meta in library.documents():
        doc_id = str(meta["id"])
        out.append(
            DocumentOut(
                **{k: v for k, v in meta.items() if k in DocumentOut.model_fields},
                doc_id=doc_id,
                status="indexed" if doc_id in indexed else "pending",
                passages=indexed.get(doc_id, 0),
            )
        )
    return DocumentsOut(documents=out)


@router.get("/jobs/{job_id}", response_model=JobOut)
def job_status(job_id: str, library: LibraryDep) -> JobOut:
    """Where a background ingest has got to."""
    return _job_out(library.job(job_id))


@router.delete("/{doc_id}", response_model=JobOut, status_code=202)
def delete(doc_id: str, library: LibraryDep, background: BackgroundTasks) -> JSONResponse:
    """Take an added document out; the old index serves until the new one is checked."""
    library.remove(doc_id, ingest=False)
    job = library.start_job("remove", [])
    background.add_task(library.run_job, job, [], library.last_removed)
    out = _job_out(job)
    return JSONResponse(out.model_dump(), status_code=202, headers={"Location": out.status_url})


def install(app: FastAPI, admin_keys: list[str]) -> None:
    """Mount the routes and the refusal handler; only the keys' digests are kept."""
    app.state.admin_digests = key_digests(admin_keys)

    def refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AdminRefusal)
        headers = {"WWW-Authenticate": ADMIN_CHALLENGE}
        return problem(exc.slug, str(exc), instance=request.url.path, headers=headers)

    app.add_exception_handler(AdminRefusal, refused)
    app.include_router(router)
