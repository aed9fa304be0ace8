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
from typing import Any

import yaml

from advisor.errors import DocumentError
from advisor.knowledge.corpus import FRONT_MATTER

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
            f"{name}: {_mb(len(data))} is over the {_mb(max_bytes)} limit (ADVISOR_MAX_DOCUMENT_MB)"
        )
    kind = FORMATS[PurePath(name).suffix.lower()]
    reader = {"pdf": _pdf, "docx": _docx, "html": _html}.get(kind, _plain)
    converted = reader(name, data)
    words = len(_WORD.findall(converted.body))
    if words < MIN_WORDS:
        raise DocumentError(f"{name}: no text to index ({words} words)")
    return converted


def _mb(size: float) -> str:
    """A size in MB, to two significant figures below 10 MB."""
    mb = size / 2**20
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.2g} MB"


def _stem_title(name: str) -> str:
    return re.sub(r"[_-]+", " ", PurePath(name).stem).strip() or name


def _pdf(name: str, data: bytes) -> Converted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        # A PDF locked with an owner password only opens with the empty user password.
        if reader.is_encrypted and not _opens(reader):
            raise DocumentError(f"{name}: the PDF is encrypted; save an unprotected copy first")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"{name}: not a readable PDF ({exc})") from exc
    if not any(_WORD.search(p) for p in pages):
        raise DocumentError(
            f"{name}: the PDF has no text layer (a scan?); it needs OCR, which is not included"
        )
    body = "\n\n".join(f"## Page {n}\n\n{_reflow(text)}" for n, text in enumerate(pages, 1) if text)
    title, author, date = _pdf_info(reader)
    return Converted(title or _stem_title(name), body, "pdf", author, date, len(pages))


def _opens(reader: Any) -> bool:
    try:
        return bool(reader.decrypt(""))
    except Exception:  # AES without `cryptography`, or a damaged encryption dictionary
        return False


def _pdf_info(reader: Any) -> tuple[str, str | None, str | None]:
    """Title, author and creation date from the document info; a malformed field (a date
    that is no date, say) is left out rather than refusing the file."""
    fields: list[Any] = []
    for read in (
        lambda i: i.title,
        lambda i: i.author,
        lambda i: i.creation_date.date().isoformat() if i.creation_date else None,
    ):
        try:
            info = reader.metadata
            value = read(info) if info else None
        except Exception:  # pypdf raises its own errors, ValueError and more, on bad fields
            value = None
        fields.append(" ".join(str(value).split()) if value else None)  # str, not pypdf's type
    return fields[0] or "", fields[1], fields[2]


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
    from docx.table import Table

    check_zip(name, data)
    try:
        document = docx.Document(io.BytesIO(data))
        props = document.core_properties
        lines, title = [], props.title or ""
        for block in document.iter_inner_content():  # paragraphs and tables, in order
            if isinstance(block, Table):
                for row in block.rows:
                    lines.append(" | ".join(cell.text.strip() for cell in row.cells))
                continue
            text = block.text.strip()
            style = _HEADING_STYLE.match(block.style.name if block.style is not None else "")
            if not text:
                continue
            if style and style.group(0).lower().startswith("title"):
                title = title or text
            elif style:
                lines.append(f"{'#' * (1 + int(style.group(1) or 1))} {text}")
            else:
                lines.append(text)
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
    text = text.replace("\r\n", "\n")
    kind = "markdown" if PurePath(name).suffix.lower() in (".md", ".markdown") else "text"
    meta: dict[str, Any] = {}
    front = FRONT_MATTER.match(text) if kind == "markdown" else None
    if front:  # a Markdown file's own front matter: its title, author and date, not text
        try:
            loaded = yaml.safe_load(front.group(1))
        except yaml.YAMLError as exc:
            raise DocumentError(f"{name}: broken front matter ({exc})") from exc
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[front.end() :]
    heading = re.match(r"\s*#\s+(.+)", text)
    title = str(meta.get("title") or "").strip() or (
        heading.group(1).strip() if heading else _stem_title(name)
    )
    author, date = (str(meta[k]) if meta.get(k) else None for k in ("author", "date"))
    return Converted(title, text.strip(), kind, author, date)
