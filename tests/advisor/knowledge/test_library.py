"""Added documents, end to end in the core: real files, real model, real Chroma index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from advisor.config import Settings
from advisor.errors import DocumentError, DocumentNotFoundError, EmbeddingError
from advisor.facade import Advisor
from advisor.knowledge.library import DocumentLibrary, slug
from advisor.knowledge.snapshot import read_current
from tests import documents as files


@pytest.fixture
def settings(index_dir: Path, tmp_path: Path) -> Settings:
    """A private copy of the shared index, so that adding documents changes only this test's."""
    data = tmp_path / "data"
    shutil.copytree(index_dir, data)
    return Settings(data_dir=data, database_url=f"sqlite:///{tmp_path / 'conv.db'}")


@pytest.fixture
def library(settings: Settings, embedder) -> DocumentLibrary:  # type: ignore[no-untyped-def]
    return DocumentLibrary(settings, lambda: embedder)


def _passages(settings: Settings) -> dict[str, int]:
    _, manifest = read_current(settings)
    return {doc_id: meta["passages"] for doc_id, meta in manifest["docs"].items()}


def test_added_pdf_and_word_file_are_cited_with_page_and_section(
    library: DocumentLibrary, settings: Settings, embedder
) -> None:  # type: ignore[no-untyped-def]
    before = _passages(settings)
    outcome = library.add([("lessons.pdf", files.lessons_pdf())])
    library.add([("board.docx", files.board_docx())], tags=["board"])
    assert [f.status for f in outcome.files] == ["added"] and outcome.files[0].pages == 2
    assert outcome.report is not None and outcome.report.added >= 2
    after = _passages(settings)
    assert set(after) - set(before) == {"lessons", "board"}

    advisor = Advisor(settings, embedder=embedder)
    answer = advisor.ask("Why did the Northwind field sales team stop logging visits?")
    cited = [c for c in answer.citations if c.doc_id == "lessons"]
    assert cited and cited[0].page == 1 and cited[0].section == "Page 1"
    assert cited[0].title == "Lessons from our CRM rollout" and cited[0].author == "Northwind PMO"
    assert "eleven taps" in answer.answer

    answer = advisor.ask("Which vendor scored highest on usability for field representatives?")
    board = [c for c in answer.citations if c.doc_id == "board"]
    assert board and board[0].section == "Vendor shortlist" and board[0].page is None

    listed = {s.doc_id: s for s in advisor.sources()}
    assert listed["lessons"].origin == "added" and listed["lessons"].file_name == "lessons.pdf"
    assert listed["lessons"].pages == 2 and listed["board"].tags == ["board"]
    assert listed["accountability-users"].origin == "corpus"
    advisor.close()


def test_the_same_bytes_added_twice_add_nothing(library: DocumentLibrary) -> None:
    data = files.lessons_pdf()  # made once: fpdf2 stamps each output with the time
    library.add([("lessons.pdf", data)])
    again = library.add([("renamed-copy.pdf", data)])
    assert [(f.status, f.doc_id) for f in again.files] == [("duplicate", "lessons")]
    assert again.report is not None and again.report.added == 0
    assert list(library.files()) == ["lessons"]


def test_remove_takes_a_document_out_of_the_index(
    library: DocumentLibrary, settings: Settings
) -> None:
    library.add([("board.docx", files.board_docx())])
    report = library.remove("board")
    assert report is not None and report.deleted >= 1
    assert "board" not in _passages(settings) and library.files() == {}
    with pytest.raises(DocumentNotFoundError):
        library.remove("board")


def test_one_bad_file_means_none_is_written(library: DocumentLibrary, settings: Settings) -> None:
    before = _passages(settings)
    with pytest.raises(DocumentError) as caught:
        library.add(
            [
                ("lessons.pdf", files.lessons_pdf()),
                ("scan.pdf", files.scanned_pdf()),
                ("empty.txt", b""),
            ]
        )
    assert "scan.pdf" in str(caught.value) and "empty.txt" in str(caught.value)
    assert library.files() == {} and _passages(settings) == before


def test_a_failed_ingest_leaves_nothing_half_indexed(settings: Settings) -> None:
    def broken():  # type: ignore[no-untyped-def]
        raise EmbeddingError("the model is gone")

    before = read_current(settings)
    library = DocumentLibrary(settings, broken)
    with pytest.raises(EmbeddingError):
        library.add([("lessons.pdf", files.lessons_pdf())])
    assert library.files() == {}  # the converted file was taken out again
    assert read_current(settings) == before  # and the old index still serves


def test_a_failed_removal_puts_the_document_back(
    library: DocumentLibrary, settings: Settings
) -> None:
    library.add([("board.docx", files.board_docx())])

    def broken():  # type: ignore[no-untyped-def]
        raise EmbeddingError("the model is gone")

    # A removal embeds nothing, so break the index home instead: a file where its folder goes.
    index = settings.index_dir
    moved = index.with_name("index-moved")
    index.rename(moved)
    index.write_text("not a folder")
    try:
        with pytest.raises(Exception):  # noqa: B017 - whatever the disk raises, wrapped or not
            DocumentLibrary(settings, broken).remove("board")
        assert "board" in DocumentLibrary(settings).files()
    finally:
        index.unlink()
        moved.rename(index)


def test_ids_never_clash_with_the_corpus_or_each_other(library: DocumentLibrary) -> None:
    library.add([("accountability-users.txt", b"Our own notes on who is accountable for CRM.")])
    library.add([("Accountability Users.md", b"# Notes\n\nA second file with the same name.")])
    assert set(library.files()) == {"accountability-users-2", "accountability-users-3"}
    assert slug("Café Plan (v2).docx") == "cafe-plan-v2-docx" and slug("---") == "document"


def test_kind_and_title_are_checked(library: DocumentLibrary) -> None:
    with pytest.raises(DocumentError, match="kind"):
        library.add([("a.txt", b"Some words about the CRM rollout here.")], kind="answer")
    with pytest.raises(DocumentError, match="one file"):
        pair = [("a.txt", b"Five words are in here."), ("b.txt", b"And five more words here.")]
        library.add(pair, title="One title")


@pytest.mark.parametrize(
    ("title", "tags", "reason"),
    [
        ("nul\x00title", [], "NUL"),
        ("a\nb", [], "one line"),
        ("   ", [], "blank"),
        ("x" * 301, [], "limit is 300"),
        (None, ["ok", "bell\x07"], "control character"),
    ],
)
def test_titles_and_tags_are_checked_before_anything_is_written(
    library: DocumentLibrary, title: str | None, tags: list[str], reason: str
) -> None:
    with pytest.raises(DocumentError, match=reason):
        library.add([("a.txt", b"Some words about the CRM rollout here.")], tags=tags, title=title)
    assert library.files() == {}


def test_an_unwritable_folder_is_a_clear_config_error(settings: Settings, tmp_path: Path) -> None:
    from advisor.errors import ConfigError

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    library = DocumentLibrary(settings.model_copy(update={"documents_dir": blocker / "docs"}))
    with pytest.raises(ConfigError, match="ADVISOR_DOCUMENTS_DIR"):
        library.add([("a.txt", b"Some words about the CRM rollout here.")])


def test_changes_at_the_same_time_take_turns(library: DocumentLibrary, settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"Notes number {n} on how the regional CRM pilot went.".encode() for n in range(3)]
    with ThreadPoolExecutor(3) as pool:  # the same name, different content, all at once
        list(pool.map(lambda t: library.add([("same.txt", t)], ingest=False), texts))
    assert set(library.files()) == {"same", "same-2", "same-3"}
    bodies = {
        p.read_text(encoding="utf-8").split("---\n")[-1].strip() for p in library.files().values()
    }
    assert bodies == {t.decode() for t in texts}  # each file whole, none mixed
    library.add([("other.txt", b"One more note on the CRM pilot in Leeds.")])
    with ThreadPoolExecutor(3) as pool:  # and removed all at once
        list(pool.map(library.remove, ["same", "same-2", "same-3"]))
    assert set(library.files()) == {"other"}
    assert set(_passages(settings)) & {"same", "same-2", "same-3"} == set()
