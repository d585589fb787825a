"""QR codes drawn locally (no outside network): the receipt's code that opens the family's status
page with the reference filled in (issue 5)."""

from __future__ import annotations

import segno
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext


def qr_svg(url: str, *, label: str | None = None) -> SafeString:
    """An inline <svg> QR code for `url`, black on white, with an accessible name.

    Error correction "m" survives a creased or slightly smudged receipt. The URL only becomes the
    code's modules, never text in the markup; the label is escaped, so the result is safe to put
    into a template as it is.
    """
    name = label or gettext("QR code that opens the application's status page")
    svg = segno.make(url, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff")
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(name)}" ', 1)
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the only text in it is escaped above
