"""Moved to core/errors.py (issue 12). This name stays only so branches written before the move still
import; new code imports core.errors. Remove once no branch in flight uses it."""

from core.errors import (  # noqa: F401
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    NotPermitted,
    RuleViolation,
    WrongState,
    field_errors,
)
