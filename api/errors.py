"""Every API error as application/problem+json (RFC 9457), with field errors keyed by dotted path.

One exception handler maps DRF's exceptions, Django's, and the services' DomainErrors
(core/errors.py) to one shape. Anything unexpected is logged and answered as a 500 problem:
the handler of last resort, never an HTML page.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import RETRY_AFTER_SECONDS, DomainError, database_busy

logger = logging.getLogger("api")
PROBLEM = "application/problem+json"
TITLES = {
    400: _("Invalid input"),
    401: _("Not authenticated"),
    403: _("Not permitted"),
    404: _("Not found"),
    405: _("Method not allowed"),
    406: _("Not acceptable"),
    409: _("Conflict"),
    413: _("Request too large"),
    415: _("Unsupported media type"),
    422: _("Rule not met"),
    429: _("Too many requests"),
    500: _("Internal error"),
    503: _("Unavailable"),
}


def problem_type(rule: str | None) -> str:
    """`/problems/<rule-code>` for a broken rule, else `about:blank` (API.md): the one place a rule
    code goes into an answer; `detail` and field messages say the rule in plain words."""
    return f"/problems/{rule}" if rule else "about:blank"


def problem(
    status_code: int,
    detail: str,
    *,
    title: str | None = None,
    errors=None,
    extra=None,
    headers=None,
    rule: str | None = None,
):
    body = {
        "type": problem_type(rule),
        "title": str(title or TITLES.get(status_code, _("Error"))),
        "status": status_code,
        "detail": str(detail),
    }
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM)


def flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → {"applicant.id_number": [...], "choices.1": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)  # errors of the object itself
            path = f"{prefix}.{name}" if prefix and name else (prefix or name or "body")
            for k, v in flatten(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(isinstance(item, (str, exceptions.ErrorDetail)) for item in detail):
            out[prefix or "body"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    for k, v in flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
                        out.setdefault(k, []).extend(v)
    else:
        out[prefix or "body"] = [str(detail)]
    return out


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return problem(exc.status, exc.message, title=exc.title, errors=exc.errors, extra=exc.extra, rule=exc.rule)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*(exc.args or ("Not found.",)))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, RequestDataTooBig):
        return problem(413, _("The request body is too large."))
    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return problem(400, _("Some fields are not valid."), errors=flatten(exc.detail))
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail if isinstance(exc.detail, str) else "; ".join(flatten(exc.detail).get("body", []))
        return problem(
            exc.status_code,
            detail or TITLES.get(exc.status_code, ""),
            headers=headers,
            extra=getattr(exc, "extra", None),
        )
    if database_busy(exc):
        logger.warning("Database busy in %s: %s", context.get("view").__class__.__name__ if context else "?", exc)
        set_rollback()
        return problem(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            _("The system is busy; please try again in a few seconds."),
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    logger.exception("Unhandled error in %s", context.get("view").__class__.__name__ if context else "?")
    set_rollback()
    return problem(status.HTTP_500_INTERNAL_SERVER_ERROR, _("Something went wrong; it has been logged."))


def json_problem(status_code: int, detail: str, *, errors: dict | None = None) -> JsonResponse:
    """The same shape outside DRF (404/500 handlers, middleware)."""
    body = {
        "type": "about:blank",
        "title": str(TITLES.get(status_code, _("Error"))),
        "status": status_code,
        "detail": str(detail),
    }
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status_code, content_type=PROBLEM, json_dumps_params={"ensure_ascii": False})
