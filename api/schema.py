"""OpenAPI additions made once for every operation, so the document says what the API answers:
the problem+json error responses (RFC 9457) that any operation may give."""

from __future__ import annotations

import re

PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "current_state": {"type": "string"},
        "available_transitions": {"type": "array", "items": {"type": "string"}},
        "barred_until": {"type": "string", "format": "date"},
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}
DESCRIPTIONS = {
    "400": "The request is wrong: not JSON, a missing or mistyped field, a bad format.",
    "401": "No or bad credentials.",
    "403": "The role, the object or the four-eyes rule forbids it.",
    "404": "Not found.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Wrong state, a concurrent change, or a duplicate.",
    "413": "The body is too large.",
    "414": "The URL is too long.",
    "415": "Unsupported media type.",
    "422": "Well-formed, but breaks a rule that depends on other data.",
    "429": "Rate limited; see Retry-After.",
    "500": "Internal error (the handler of last resort).",
}
PUBLIC_CODES = ("400", "404", "405", "406", "413", "414", "415", "422", "429", "500")


def add_problem_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            anonymous = operation.get("security") == [{}] or {} in operation.get("security", [])
            codes = PUBLIC_CODES if anonymous else tuple(DESCRIPTIONS)
            for code in codes:
                content = {"application/problem+json": {"schema": ref}}
                if code == "414":  # said by the HTTP server (gunicorn) before Django sees the request
                    content["text/html"] = {"schema": {"type": "string"}}
                responses.setdefault(code, {"description": DESCRIPTIONS[code], "content": content})
    return result


# Summaries of the operations whose views describe themselves only through a shared base class.
SUMMARIES = {
    "applicants_export": "Everything held about one person, for a subject-access request",
    "applications_access_log_list": "Who looked up this applicant's full ID number, and when",
    "applications_category_evidence_upload": "Attach an evidence file to a category claim",
    "calendar_list": "Public holidays and adjusted working days",
    "facilities_list": "The homes",
    "facilities_create": "Register a home",
    "facilities_retrieve": "One home with its bed and quota figures",
    "facilities_allocate": "Allocate every vacant bed of the home now",
    "facilities_beds_list": "The home's beds with their status and occupant",
    "offers_list": "Offers, newest first",
    "offers_retrieve": "One offer with its deadlines",
    "policy_retrieve": "The policy version in force and the versions to come",
    "policy_create": "Create a policy version from a date",
    "webhooks_list": "Webhook subscriptions",
    "webhooks_create": "Subscribe a URL to events",
    "webhooks_retrieve": "One webhook subscription",
    "webhooks_delete": "End a webhook subscription",
    "applications_lookup_code": "Issue a new lookup code; the old one stops working",
    "applications_reject": "Reject the application, with a reason",
    "applications_remove": "Remove the application from every queue, with a reason",
    "applications_suspend": "Suspend the application, with a reason: it keeps its places",
    "applications_withdraw": "Withdraw the application at the family's request",
}
# The base views' docstrings, which say nothing of the operation.
SHARED_DESCRIPTIONS = ("JSON in and out", "Tells a caller refused for the state")
RULE_CODE = re.compile(r"\s*\((?:R-[A-Z]+-[0-9][^)]*|SPEC §[^)]*)\)|R-[A-Z]+-[0-9]+(?:…[0-9]+)?:?\s*")


def add_summaries(result, generator, request, public):
    """Every operation gets a summary (the line the docs page lists it by): the view's own, else the
    table above, else the first sentence of its description; rule codes are left to the
    description, as people read the summary."""
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            description = " ".join((operation.get("description") or "").split())
            if description.startswith(SHARED_DESCRIPTIONS):
                operation.pop("description", None)
                description = ""
            summary = operation.get("summary") or SUMMARIES.get(operation.get("operationId", ""))
            if not summary:
                summary = description.split(". ")[0]
                head = summary.split("; ")[0]
                if head.count("(") == head.count(")"):
                    summary = head
                summary = summary.rstrip(".")
            summary = " ".join(RULE_CODE.sub(" ", summary).split()).strip(" :;,").replace("( ", "(").replace(" )", ")")
            operation["summary"] = summary[:1].upper() + summary[1:] if summary else operation.get("operationId", "")
    return result


INTRODUCTION = """
The REST interface of the waiting list for the city's public care homes. Other systems use it;
the staff pages and the family lookup use the same services, so the answers agree.

**Getting a token.** An administrator issues one on the server:
`python manage.py issue_token USERNAME --role ROLE [--role ROLE…] [--facility CODE]` prints the key on
its last line. Send it as `Authorization: Token <key>`. Roles: `intake`, `assessor`, `reviewer`,
`facility` (bound to one home: it sees and acts on that home only) and `admin`. In this page, press
*Authorize* and enter `Token <key>`.

**Idempotency-Key.** Send a unique `Idempotency-Key` header with any authenticated POST. A retry with
the same key and the same body replays the first answer instead of acting twice (kept 24 hours); the
same key with another body is refused (422); a retry while the first is still running gets 409 with
`Retry-After`.

**Errors** are `application/problem+json`: `type` (`/problems/<rule>` names the rule broken), `title`,
`status`, `detail`, and where they apply `errors` (`{"applicant.id_number": ["…"]}`), `current_state`
and `available_transitions`. 400: the request is malformed; 401: no or bad token; 403: your role or
home may not; 404; 409: wrong state, a concurrent change (send the `version` you read) or a
duplicate; 422: a rule that depends on other data is not met; 429: rate limited (see `Retry-After`).

**Public endpoints** (`/public/…`) need no token and are rate limited per address and per reference.
"""
