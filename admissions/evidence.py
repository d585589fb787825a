"""Evidence files (R-APP-8): what may be stored as the evidence of a category claim. One rule for
the staff intake form, the API's upload and the page that serves a file back: a PDF, JPEG or PNG,
recognised by its first bytes (never its name or declared type), of at most 10 MiB."""

from __future__ import annotations

# What an evidence file must start with: checked on the content, never the name or the declared type.
EVIDENCE_SIGNATURES = {b"%PDF-": "application/pdf", b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024


def evidence_too_large(upload) -> bool:
    return upload.size > EVIDENCE_MAX_BYTES


def evidence_content_type(file) -> str | None:
    """The content type `file`'s first bytes show (a PDF, JPEG or PNG), or None when they show none
    of them. Reads from the start and leaves the file at its start."""
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    return next((kind for signature, kind in EVIDENCE_SIGNATURES.items() if head.startswith(signature)), None)


EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


def evidence_extension(file) -> str:
    """R-SEC-7: the extension of the type `file`'s content shows; `.bin` when it shows none (or there
    is no file to read)."""
    if file is None:
        return ".bin"
    try:
        kind = evidence_content_type(file)
    except (OSError, ValueError):
        return ".bin"
    return EXTENSIONS.get(kind, ".bin")
