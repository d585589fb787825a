"""Refuse input no field can hold, before any view, form, serializer or query sees it (R-SEC-1).

Three kinds of input broke requests deep inside (a 500) instead of being refused (a 400):

- a NUL character (U+0000): PostgreSQL text cannot hold it, so a NUL in a path segment, a query
  parameter, a header (the session cookie, Idempotency-Key) or a form field failed in the database;
- a JSON body nested a thousand levels deep: Python's recursion limit, in the parser or in whatever
  walked the data after it;
- a lone surrogate (`"\\ud800"` in JSON): a string that is not Unicode text, which cannot be
  written as UTF-8, so echoing it in an error message broke the renderer.

None of these is ever a legitimate value, so one middleware refuses them all for every URL, page or
API, naming where it found them. It runs before the session, authentication and the views, so a
NUL in a cookie never reaches the session table either. JSON bodies are checked once here (they are
at most 1 MiB: RequestSizeLimitMiddleware runs first); syntax errors are left to the parser, which
already answers them with a 400.
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, QueryDict
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _

from api.errors import json_problem

# Deeper than any request of API.md needs (an application is four levels), far below Python's
# recursion limit, so nothing that walks the data afterwards can recurse too deep.
MAX_JSON_DEPTH = 32
API_PREFIXES = ("/api/", "/healthz", "/readyz")


class MalformedInput(Exception):
    def __init__(self, where: str, message: str):
        self.where = where
        self.message = message


def _bad_text(text: str) -> str | None:
    """Why this text cannot be accepted, or None."""
    if "\x00" in text:
        return _("holds a NUL character (U+0000), which no field accepts.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _("holds a lone surrogate (U+D800–U+DFFF), which is not valid Unicode text.")
    return None


def check_json(data) -> None:
    """Walk parsed JSON without recursion: a NUL or a lone surrogate in a key or a value, named by
    its dotted path (`applicant.name`, `choices.1`)."""
    stack = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict | list):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and (reason := _bad_text(key)):
                    raise MalformedInput(path or "body", _("has a field name that %(reason)s") % {"reason": reason})
                stack.append((item, f"{path}.{key}" if path else str(key)))
        elif isinstance(value, str) and (reason := _bad_text(value)):
            raise MalformedInput(path or "body", reason)


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def check_json_depth(text: str) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH before parsing it (the parser itself recurses),
    naming the top-level field that holds the deep value. Strings are skipped whole, so brackets
    inside them do not count."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return  # the usual body: too few brackets to be too deep
    depth = 0
    field = "body"
    for token in _JSON_TOKENS.finditer(text):
        char = token.group()[0]
        if char == '"':
            if depth == 1:
                field = token.group()[1:-1][:100]  # the latest string of the outer object: the key
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise MalformedInput(field, _("is nested more than %(limit)d levels deep.") % {"limit": MAX_JSON_DEPTH})
        else:
            depth -= 1
            if depth == 1:
                field = "body"


def _check_body(request) -> None:
    content_type, parameters = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    content_type = content_type.lower()
    is_json = content_type == "application/json" or content_type.endswith("+json")
    is_form = content_type == "application/x-www-form-urlencoded"
    if not (is_json or is_form) or not request.META.get("CONTENT_LENGTH", "").strip("0"):
        return
    body = request.body
    if is_form:
        if b"\x00" in body or b"%00" in body.lower():
            form = QueryDict(body.decode("utf-8", "replace"))
            for key, values in form.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    raise MalformedInput(key.replace("\x00", "\\0"), _bad_text("\x00"))
            raise MalformedInput("body", _bad_text("\x00"))
        return
    # In the character set the parser will read it in (DRF's JSONParser honours `charset`), so that
    # a UTF-16 body is checked as carefully as a UTF-8 one.
    charset = parameters.get("charset", "utf-8")
    try:
        text = body.decode(charset)
    except (LookupError, UnicodeDecodeError):
        raise MalformedInput(
            "body", _("is not text in the character set %(charset)s.") % {"charset": charset[:40]}
        ) from None
    check_json_depth(text)
    try:
        data = json.loads(text)
    except ValueError:
        return  # not JSON: the parser says so
    check_json(data)


def check_request(request) -> None:
    """Raise MalformedInput for the first thing in this request that no field can hold."""
    if "\x00" in request.path_info:
        raise MalformedInput("path", _bad_text("\x00"))
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in query or "%00" in query:
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                raise MalformedInput(key.replace("\x00", "\\0"), _bad_text("\x00"))
        raise MalformedInput("query", _bad_text("\x00"))
    for key, value in request.META.items():
        if (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")) and "\x00" in str(value):
            header = key.removeprefix("HTTP_").replace("_", "-").title()
            raise MalformedInput(header, _bad_text("\x00"))
    # A cookie's value is unquoted by Django: "\\000" in the header is a NUL in request.COOKIES.
    for name, value in request.COOKIES.items():
        if "\x00" in name or "\x00" in value:
            raise MalformedInput("Cookie", _bad_text("\x00"))
    _check_body(request)


def _language(request) -> str:
    if request.path_info.startswith(API_PREFIXES):
        return translation.get_language_from_request(request, check_path=False)
    # As LocaleMiddleware does for i18n_patterns without a prefix for the default language.
    return translation.get_language_from_path(request.path_info) or settings.LANGUAGE_CODE


def refusal(request, error: MalformedInput) -> HttpResponse:
    """400: problem+json naming the field for the API, a plain page for people."""
    with translation.override(_language(request)):
        detail = _("The request was refused: %(where)s %(reason)s") % {"where": error.where, "reason": error.message}
        if request.path_info.startswith(API_PREFIXES):
            return json_problem(400, detail, errors={error.where: [error.message]})
        # Rendered without the request: the session and the user are not loaded yet (and must not
        # be, with a NUL in the cookie).
        page = render_to_string("400.html", {"detail": detail, "LANGUAGE_CODE": translation.get_language()})
        return HttpResponse(page, status=400)


class MalformedInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            check_request(request)
        except MalformedInput as error:
            return refusal(request, error)
        except RequestDataTooBig:
            return json_problem(413, _("The request body is too large."))
        return self.get_response(request)
