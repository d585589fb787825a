"""Which roles may take each transition of an application (the role column of API.md; an admin may
take any). The API and the staff pages both ask `transitions_for`, so a caller is only ever offered
the transitions their roles allow (R-FSM-3)."""

from __future__ import annotations

from facilities.models import Role
from facilities.roles import roles_of

ROLES_BY_TRANSITION: dict[str, frozenset[str]] = {
    "submit": frozenset({Role.INTAKE}),
    "accept-for-assessment": frozenset({Role.INTAKE}),
    "reject": frozenset({Role.INTAKE, Role.REVIEWER}),
    "return-for-assessment": frozenset({Role.REVIEWER}),
    "approve": frozenset({Role.REVIEWER}),
    "suspend": frozenset({Role.INTAKE, Role.REVIEWER}),
    "resume": frozenset({Role.INTAKE, Role.REVIEWER}),
    "accept-offer": frozenset({Role.FACILITY, Role.INTAKE}),
    "decline-offer": frozenset({Role.FACILITY, Role.INTAKE}),
    "admit": frozenset({Role.FACILITY}),
    "fail-check": frozenset({Role.FACILITY}),
    "withdraw": frozenset({Role.INTAKE, Role.REVIEWER}),
    "remove": frozenset({Role.REVIEWER}),
}


def transitions_for(user, names: list[str]) -> list[str]:
    """The transitions of `names` that this user's roles may take."""
    roles = roles_of(user)
    if Role.ADMIN in roles:
        return list(names)
    return [name for name in names if ROLES_BY_TRANSITION.get(name, frozenset()) & roles]
