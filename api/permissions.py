"""Role permissions of API.md. The object rule (a facility officer sees and acts on their own home
only, SPEC §10) is facilities.roles.check_facility_scope, shared with the staff pages."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from admissions.services.transitions import roles_for_transition
from facilities.models import Role

# The object rules live with the roles, where the staff pages read them too; imported here so that
# `from api.permissions import check_facility_scope` keeps working.
from facilities.roles import check_facility_scope as check_facility_scope
from facilities.roles import roles_of
from facilities.roles import sees_full_id_numbers as sees_full_id_numbers

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


def transition_permission(name: str) -> type[BasePermission]:
    """The roles that may ask for application transition `name`: the one table,
    admissions/services/transitions.py ROLES_BY_TRANSITION, which the staff pages read too."""
    return role_permission(*roles_for_transition(name))
