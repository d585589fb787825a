"""Who may do what: a user's roles are the groups named after Role values; a superuser is an admin.

The staff pages and the API (api/permissions.py) both ask these, so they never disagree about who
sees a full ID number or which home a facility officer may act on (SPEC §10)."""

from __future__ import annotations

from django.contrib.auth.models import Group

from core.errors import NotPermitted

from .models import Facility, Role, StaffProfile


def roles_of(user) -> frozenset[str]:
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_roles_cache", None)
    if cached is None:
        names = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        if user.is_superuser:
            names.add(Role.ADMIN)
        cached = frozenset(names)
        user._roles_cache = cached
    return cached


def facility_of(user) -> Facility | None:
    """The home a facility officer is bound to, or None."""
    profile = StaffProfile.objects.filter(user=user).select_related("facility").first()
    return profile.facility if profile else None


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


def roles_assign(*, user, roles: list[str], facility: Facility | None = None) -> None:
    """Give `user` exactly these roles (and the facility binding a facility officer needs)."""
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    if Role.FACILITY in roles and facility is None:
        raise ValueError("a facility officer must be bound to a facility")
    groups = [Group.objects.get_or_create(name=role)[0] for role in roles]
    user.groups.remove(*user.groups.filter(name__in=Role.values))
    user.groups.add(*groups)
    StaffProfile.objects.update_or_create(user=user, defaults={"facility": facility})
    if hasattr(user, "_roles_cache"):
        del user._roles_cache
