"""Evidence files (R-APP-8): what may be stored as the evidence of a category claim. One rule for
the staff intake form, the API's upload and the page that serves a file back: a PDF, JPEG or PNG,
recognised by its first bytes (never its name or declared type), of at most 10 MiB."""

from __future__ import annotations

from admissions.models.applications import EVIDENCE_EXTENSIONS as EXTENSIONS
from admissions.models.applications import EVIDENCE_SIGNATURES, evidence_sniffed_type

EVIDENCE_MAX_BYTES = 10 * 1024 * 1024


def evidence_too_large(upload) -> bool:
    return upload.size > EVIDENCE_MAX_BYTES


def evidence_content_type(file) -> str | None:
    """The content type `file`'s first bytes show (a PDF, JPEG or PNG), or None when they show none
    of them. Reads from the start and leaves the file at its start."""
    return evidence_sniffed_type(file)


__all__ = ["EVIDENCE_MAX_BYTES", "EVIDENCE_SIGNATURES", "EXTENSIONS", "evidence_content_type", "evidence_too_large"]
