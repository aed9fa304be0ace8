"""Converting a user's files: provenance kept, and every kind of bad file refused by name."""

from __future__ import annotations

import pytest

from advisor.errors import DocumentError
from advisor.knowledge.convert import check_name, convert
from tests import documents as files

MB = 2**20


def test_a_pdf_keeps_its_pages_title_and_author() -> None:
    doc = convert("lessons.pdf", files.lessons_pdf(), 50 * MB)
    assert (doc.format, doc.pages) == ("pdf", 2)
    assert doc.title == "Lessons from our CRM rollout" and doc.author == "Northwind PMO"
    page1, page2 = doc.body.split("## Page 2")
    assert "## Page 1" in page1 and "eleven taps" in page1
    assert "duplicate dealer accounts" in page2
    assert doc.date and len(doc.date) == 10  # ISO date from the creation date


def test_a_word_file_keeps_headings_title_author_and_tables() -> None:
    doc = convert("board.docx", files.board_docx(), 50 * MB)
    assert doc.title == "Board paper: CRM vendor evaluation"
    assert doc.author == "Board secretary"
    assert "## Vendor shortlist" in doc.body and "## Recommendation" in doc.body
    assert files.DOCX_TEXT in doc.body


def test_a_web_page_loses_its_navigation_scripts_and_footer() -> None:
    doc = convert("notes.html", files.html_page(), 50 * MB)
    assert doc.title == "Intranet: CRM adoption notes" and doc.author == "Sales Ops"
    assert "depot managers in Aberdeen" in doc.body and "# Adoption notes" in doc.body
    for clutter in ("Home | News", "track()", "Copyright"):
        assert clutter not in doc.body


def test_markdown_and_text_take_their_title_from_the_first_heading_or_the_name() -> None:
    md = convert("playbook.md", b"# Renewal playbook\n\nCall every account a month early.", MB)
    assert md.title == "Renewal playbook" and md.format == "markdown"
    txt = convert("q3_review-notes.txt", b"Churn fell after the account reviews began.", MB)
    assert txt.title == "q3 review notes" and txt.format == "text"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("locked.pdf", files.encrypted_pdf(), "encrypted"),
        ("scan.pdf", files.scanned_pdf(), "needs OCR"),
        ("broken.docx", files.corrupt_docx(), "not a readable Word file"),
        ("bomb.docx", files.zip_bomb_docx(), "zip bomb"),
        ("empty.txt", b"", "empty"),
        ("blank.md", b" \n\t\n", "empty"),
        ("latin1.txt", "Caf\xe9 notes about CRM rollout plans".encode("latin-1"), "not UTF-8"),
        ("fake.pdf", b"%PDF-1.4 this is not really a PDF at all", "not a readable PDF"),
        ("short.txt", b"two words", "no text to index"),
        ("table.xlsx", b"PK\x03\x04", "unsupported file type"),
    ],
)
def test_bad_files_are_refused_naming_the_file_and_the_reason(
    name: str, data: bytes, reason: str
) -> None:
    with pytest.raises(DocumentError) as caught:
        convert(name, data, 50 * MB)
    assert str(caught.value).startswith(name) and reason in str(caught.value)
    assert caught.value.code == "bad-document"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(DocumentError, match=r"big\.txt: 3 MB is over the 2 MB limit"):
        convert("big.txt", b"x" * (3 * MB), 2 * MB)


@pytest.mark.parametrize(
    "name", ["../etc/passwd.txt", "a/b.pdf", "a\\b.docx", "bell\x07.txt", "new\nline.md", ""]
)
def test_names_with_separators_or_control_characters_are_refused(name: str) -> None:
    with pytest.raises(DocumentError, match="file name"):
        check_name(name)


def test_a_malformed_pdf_date_is_left_out_not_a_crash() -> None:
    data = files.with_info(files.lessons_pdf(), {"/CreationDate": "D:garbage-date"})
    doc = convert("baddate.pdf", data, 50 * MB)
    assert doc.date is None and doc.pages == 2


def test_a_pdf_locked_with_an_owner_password_only_is_read() -> None:
    doc = convert("owner.pdf", files.owner_locked_pdf(), 50 * MB)
    assert "eleven taps" in doc.body


def test_word_tables_stay_under_their_heading() -> None:
    body = convert("pricing.docx", files.pricing_docx(), 50 * MB).body
    assert body.index("## Pricing") < body.index("EUR 61") < body.index("## Risks")


def test_markdown_front_matter_gives_the_title_and_is_not_text() -> None:
    text = (
        b"---\ntitle: Nordwind rollout playbook\nauthor: PMO\n---\n\n"
        b"Pilot in Leeds first, then the two northern branches.\n"
    )
    doc = convert("rollout-playbook.md", text, MB)
    assert (doc.title, doc.author) == ("Nordwind rollout playbook", "PMO")
    assert "title:" not in doc.body and doc.body.startswith("Pilot in Leeds")
