"""Real files for the document tests, written by the libraries that make them (fpdf2, pypdf,
python-docx, zipfile): good ones with provenance, and each kind of bad one."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

# Facts no seed article states, so a cited answer about them can only come from the file.
PDF_PAGE_1 = (
    "Lessons learned. The Northwind field sales team stopped logging visits within six weeks "
    "because the mobile app needed eleven taps to record one call."
)
PDF_PAGE_2 = (
    "Data migration. We loaded thirty thousand duplicate dealer accounts from the old system, "
    "and the sales team spent the first quarter merging the records by hand."
)
DOCX_TEXT = (
    "The evaluation panel scored three vendors against twenty weighted requirements. "
    "Vendor Bramble scored highest on usability for field representatives."
)


def pdf(pages: list[str], title: str = "", author: str = "") -> bytes:
    """A PDF with one page per text, and its title and author in the document info."""
    from fpdf import FPDF

    doc = FPDF()
    if title:
        doc.set_title(title)
    if author:
        doc.set_author(author)
    doc.set_font("helvetica", size=12)
    for text in pages:
        doc.add_page()
        doc.multi_cell(0, 8, text)
    return bytes(doc.output())


def lessons_pdf() -> bytes:
    """Two pages of lessons learned, by "Northwind PMO"."""
    return pdf([PDF_PAGE_1, PDF_PAGE_2], "Lessons from our CRM rollout", "Northwind PMO")


def scanned_pdf() -> bytes:
    """A PDF whose page is a drawing with no text layer, as a scanner makes."""
    from fpdf import FPDF

    doc = FPDF()
    doc.add_page()
    doc.rect(20, 20, 100, 60, style="F")
    return bytes(doc.output())


def encrypted_pdf() -> bytes:
    """A password-protected copy of the lessons PDF."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(lessons_pdf())))
    writer.encrypt(user_password="secret")  # RC4-128: needs no `cryptography`
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def board_docx() -> bytes:
    """A Word board paper with a title, an author, two headings and a table."""
    import docx

    doc = docx.Document()
    doc.core_properties.title = "Board paper: CRM vendor evaluation"
    doc.core_properties.author = "Board secretary"
    doc.add_heading("Vendor shortlist", 1)
    doc.add_paragraph(DOCX_TEXT)
    doc.add_heading("Recommendation", 1)
    doc.add_paragraph(
        "The board is asked to approve a twelve-week pilot of Vendor Bramble with the Leeds "
        "branch before any enterprise licence is signed."
    )
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def corrupt_docx() -> bytes:
    """A Word file cut in half."""
    data = board_docx()
    return data[: len(data) // 2]


def zip_bomb_docx(megabytes: int = 64) -> bytes:
    """A small zip of zeros named like a Word file: it inflates to ``megabytes``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as member:
            chunk = b"\0" * 2**20
            for _ in range(megabytes):
                member.write(chunk)
    return out.getvalue()


def html_page() -> bytes:
    """A web page with navigation and a script around its article."""
    return (
        b"<html><head><title>Intranet: CRM adoption notes</title>"
        b'<meta name="author" content="Sales Ops"></head><body>'
        b"<nav>Home | News | Contact</nav><script>track()</script>"
        b"<h1>Adoption notes</h1><p>Our depot managers in Aberdeen logged every customer call "
        b"once the CRM replaced the paper day sheet entirely.</p>"
        b"<footer>Copyright Sales Ops</footer></body></html>"
    )


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space."""
    with path.open("wb") as f:
        f.truncate(size)
    return path


def with_info(data: bytes, info: dict[str, str]) -> bytes:
    """The PDF with these document-info fields set (a malformed date, say)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.add_metadata(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def owner_locked_pdf() -> bytes:
    """The lessons PDF with an owner password only: it opens without one."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(lessons_pdf())))
    writer.encrypt(user_password="", owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pricing_docx() -> bytes:
    """Two headings with a table under the first: the table belongs to "Pricing"."""
    import docx

    doc = docx.Document()
    doc.add_heading("Pricing", 1)
    table = doc.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Helix seat price"
    table.rows[0].cells[1].text = "EUR 61 per user per month"
    doc.add_heading("Risks", 1)
    doc.add_paragraph("The main risk is that the field team keeps its own spreadsheets.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
