"""Turning a user's file (PDF, Word, HTML, Markdown, plain text) into corpus Markdown.

Each format is read by its well-kept library: ``pypdf`` (text per page), ``python-docx``
(paragraphs with their heading styles, and the core properties' author and date),
``beautifulsoup4`` with ``markdownify`` (HTML, without scripts, navigation and footers).
The result is Markdown with ``##`` headings, which the corpus loader splits like any
article; a PDF's pages become ``## Page N`` sections, so each passage knows its page.

Every refusal is a ``DocumentError`` naming the file and the reason, raised before anything
is written: an empty, oversized, encrypted or corrupt file, a scanned PDF with no text
layer, a zip bomb disguised as a Word file, a name with path separators or control
characters, or an unknown format.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from advisor.errors import DocumentError

FORMATS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
}
# A Word file is a zip; one that inflates past this, or more than RATIO times its own size,
# is refused before any XML is parsed (a zip bomb is small on disk and huge unpacked).
MAX_UNZIPPED = 200 * 1024 * 1024
MAX_RATIO = 100
MIN_WORDS = 5  # less text than this, and there is nothing to cite
_WORD = re.compile(r"\w+")
_HEADING_STYLE = re.compile(r"^(?:Heading|Title)\s*(\d?)$", re.I)


@dataclass(frozen=True)
class Converted:
    """A converted file: its title, Markdown body and what the file says about itself."""

    title: str
    body: str
    format: str
    author: str | None = None
    date: str | None = None
    pages: int | None = None  # PDFs only


def check_name(name: str) -> str:
    """The file name if it is a plain name with a known extension; DocumentError otherwise."""
    if not name or name.strip() != name or name in (".", ".."):
        raise DocumentError(f"{name!r}: the file name is empty or padded with spaces")
    if "/" in name or "\\" in name or any(unicodedata.category(c)[0] == "C" for c in name):
        raise DocumentError(f"{name!r}: the file name has path separators or control characters")
    if len(name) > 255:
        raise DocumentError(f"{name[:40]!r}…: the file name is longer than 255 characters")
    if PurePath(name).suffix.lower() not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise DocumentError(f"{name}: unsupported file type (supported: {known})")
    return name


def convert(name: str, data: bytes, max_bytes: int) -> Converted:
    """Convert one file's bytes; raises DocumentError naming ``name`` and the reason."""
    check_name(name)
    if not data.strip():
        raise DocumentError(f"{name}: the file is empty")
    if len(data) > max_bytes:
        raise DocumentError(
            f"{name}: {len(data) / 2**20:.0f} MB is over the {max_bytes / 2**20:.0f} MB limit "
            "(ADVISOR_MAX_DOCUMENT_MB)"
        )
    kind = FORMATS[PurePath(name).suffix.lower()]
    reader = {"pdf": _pdf, "docx": _docx, "html": _html}.get(kind, _plain)
    converted = reader(name, data)
    words = len(_WORD.findall(converted.body))
    if words < MIN_WORDS:
        raise DocumentError(f"{name}: no text to index ({words} words)")
    return converted


def _stem_title(name: str) -> str:
    return re.sub(r"[_-]+", " ", PurePath(name).stem).strip() or name


def _pdf(name: str, data: bytes) -> Converted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError(f"{name}: the PDF is encrypted; save an unprotected copy first")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"{name}: not a readable PDF ({exc})") from exc
    if not any(_WORD.search(p) for p in pages):
        raise DocumentError(
            f"{name}: the PDF has no text layer (a scan?); it needs OCR, which is not included"
        )
    body = "\n\n".join(f"## Page {n}\n\n{_reflow(text)}" for n, text in enumerate(pages, 1) if text)
    title = (info.title if info and info.title else "") or _stem_title(name)
    author = str(info.author) if info and info.author else None  # pypdf's str subclass
    created = info.creation_date if info else None
    date = created.date().isoformat() if created else None
    return Converted(str(title).strip(), body, "pdf", author, date, len(pages))


def _reflow(text: str) -> str:
    """A PDF page's lines joined into paragraphs: a line ending a sentence ends one."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(line)
        if line.endswith((".", "!", "?", ":")):
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def check_zip(name: str, data: bytes) -> None:
    """Refuse a zip that is corrupt or inflates too far, before anything unpacks it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"{name}: not a readable Word file (corrupt zip: {exc})") from exc
    unpacked = sum(i.file_size for i in infos)
    if unpacked > MAX_UNZIPPED or unpacked > MAX_RATIO * max(len(data), 1):
        raise DocumentError(
            f"{name}: refused, it would unpack to {unpacked / 2**20:.0f} MB "
            f"from {len(data) / 2**10:.0f} KB (a zip bomb?)"
        )


def _docx(name: str, data: bytes) -> Converted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    check_zip(name, data)
    try:
        document = docx.Document(io.BytesIO(data))
        props = document.core_properties
        lines, title = [], props.title or ""
        for para in document.paragraphs:
            text = para.text.strip()
            if not text:
                continue
            style = _HEADING_STYLE.match(para.style.name if para.style is not None else "")
            if style and style.group(0).lower().startswith("title"):
                title = title or text
            elif style:
                lines.append(f"{'#' * (1 + int(style.group(1) or 1))} {text}")
            else:
                lines.append(text)
        for table in document.tables:
            for row in table.rows:
                lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DocumentError(f"{name}: not a readable Word file ({exc})") from exc
    except Exception as exc:  # lxml raises its own XMLSyntaxError on broken XML
        raise DocumentError(f"{name}: not a readable Word file ({type(exc).__name__})") from exc
    date = props.created.date().isoformat() if props.created else None
    return Converted(
        title.strip() or _stem_title(name), "\n\n".join(lines), "docx", props.author or None, date
    )


def _html(name: str, data: bytes) -> Converted:
    from bs4 import BeautifulSoup
    from markdownify import markdownify

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "form", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    author = soup.find("meta", attrs={"name": "author"})
    body = soup.body or soup
    markdown = markdownify(str(body), heading_style="ATX", strip=["a", "img"])
    return Converted(
        title or _stem_title(name),
        markdown.strip(),
        "html",
        str(author["content"]) if author and author.get("content") else None,
    )


def _plain(name: str, data: bytes) -> Converted:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if "\x00" in text:
        raise DocumentError(f"{name}: binary content in a text file")
    heading = re.match(r"\s*#\s+(.+)", text)
    title = heading.group(1).strip() if heading else _stem_title(name)
    kind = "markdown" if PurePath(name).suffix.lower() in (".md", ".markdown") else "text"
    return Converted(title, text.replace("\r\n", "\n").strip(), kind)
