"""Role permissions of API.md, and the object rule: a facility officer sees and acts on their own
home only (SPEC §10)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from facilities.errors import NotPermitted
from facilities.models import Facility, Role
from facilities.roles import facility_of, roles_of

STAFF = tuple(Role.values)


def role_permission(*roles: str) -> type[BasePermission]:
    """A permission class admitting users with any of `roles` (an admin always)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    class HasRole(BasePermission):
        message = "Your role may not do this: it needs " + " or ".join(sorted(allowed)) + "."

        def has_permission(self, request, view) -> bool:
            return bool(roles_of(request.user) & allowed)

    HasRole.__name__ = "HasRole_" + "_".join(sorted(allowed))
    return HasRole


AnyStaff = role_permission(*STAFF)


def check_facility_scope(user, facility: Facility) -> None:
    """A facility officer who is nothing else may act only on their own home."""
    roles = roles_of(user)
    if roles == {Role.FACILITY} and (own := facility_of(user)) is not None and own.pk != facility.pk:
        raise NotPermitted("A facility officer acts on their own home only.")
    if roles == {Role.FACILITY} and facility_of(user) is None:
        raise NotPermitted("This facility officer is not bound to a home.")


def sees_full_id_numbers(user) -> bool:
    """SPEC §10: intake officers, reviewers and administrators check identity."""
    return bool(roles_of(user) & {Role.INTAKE, Role.REVIEWER, Role.ADMIN})
