"""The errors services raise, shared by every app (core is the lowest app: it imports none of ours).

Each says which field and which rule, and maps to one HTTP status in the API (api/errors.py)
and to a form error on the staff pages. A service that raises has changed nothing: it raises
inside its transaction, which rolls back.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """Base class. `errors` maps a dotted field path to messages; `extra` goes into the problem body.

    `rule` is the code of the rule broken (e.g. "R-APP-7"): it becomes the problem's `type`
    (`/problems/R-APP-7`, api/errors.py) and is never part of `message` or `errors`, which people
    read and which say the rule in plain words.
    """

    status = 422
    title = _("Rule not met")

    def __init__(
        self,
        message: str,
        *,
        errors: dict[str, list[str]] | None = None,
        extra: dict | None = None,
        rule: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.extra = extra or {}
        self.rule = rule


class InvalidInput(DomainError):
    """The request itself is wrong: a missing or mistyped field, a bad format or check character (400)."""

    status = 400
    title = _("Invalid input")


class RuleViolation(DomainError):
    """Well-formed, but breaks a rule that depends on other data: age, choices, a bar, an unmet
    condition (422)."""

    status = 422
    title = _("Rule not met")


class Conflict(DomainError):
    """A duplicate or a concurrent change (409)."""

    status = 409
    title = _("Conflict")


class WrongState(Conflict):
    """A transition refused for the current state (R-FSM-3): names the state and what is possible."""

    title = _("Not possible in this state")

    def __init__(self, message: str, *, current_state: str, available_transitions: list[str], rule: str = "R-FSM-3"):
        super().__init__(
            message,
            extra={"current_state": current_state, "available_transitions": available_transitions},
            rule=rule,
        )
        self.current_state = current_state
        self.available_transitions = available_transitions


class NotPermitted(DomainError):
    """The role, the object or the four-eyes rule forbids it (403)."""

    status = 403
    title = _("Not permitted")


class NotFound(DomainError):
    status = 404
    title = _("Not found")


def field_errors(**fields: str | list[str]) -> dict[str, list[str]]:
    """field_errors(choices="at most 2") → {"choices": ["at most 2"]}."""
    return {name.replace("__", "."): [msg] if isinstance(msg, str) else list(msg) for name, msg in fields.items()}


# SQLSTATEs of a lock wait that ended without the lock: PostgreSQL's lock_timeout (55P03) and the
# victim of a deadlock (40P01). SQLite says "database is locked" when its busy timeout runs out.
BUSY_SQLSTATES = frozenset({"55P03", "40P01"})
RETRY_AFTER_SECONDS = 5


def database_busy(exc: BaseException) -> bool:
    """The database could not give this request a lock in time: nothing was written (the
    transaction rolled back), and the same request a few seconds later will most likely pass. It is
    answered 503 with Retry-After (api/errors.py, config/busy.py), not 500: nothing is broken."""
    from django.db import OperationalError

    if not isinstance(exc, OperationalError):
        return False
    if getattr(exc.__cause__, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    return "database is locked" in str(exc)
