"""Staff users: their three audited acts (create, set roles, activate or deactivate), beside
roles_assign (facilities/roles.py) which they use. Each runs in one transaction and writes one
AuditEntry with who and when; a refusal is an InvalidInput naming the field. The administration pages
(web/views/administration.py) call them."""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from core.actor import Actor
from core.errors import InvalidInput

from .models import AuditEntry, Facility, Role
from .roles import roles_assign, roles_of


def _user_state(user: AbstractBaseUser) -> dict:
    profile = getattr(user, "staff_profile", None)
    return {
        "roles": sorted(user.groups.filter(name__in=Role.values).values_list("name", flat=True)),
        "facility": profile.facility.code if profile is not None and profile.facility_id else None,
        "active": user.is_active,
    }


def _audit_user(user: AbstractBaseUser, *, action: str, before: dict | None, after: dict, by: Actor) -> None:
    AuditEntry.objects.create(
        user=by.user,
        actor_name=by.name,
        action=action,
        object_type="User",
        object_key=user.get_username(),
        changes={"before": before, "after": after},
    )


def _assign(user, *, roles: list[str], facility: Facility | None) -> None:
    try:
        roles_assign(user=user, roles=roles, facility=facility)
    except ValueError as exc:  # a facility officer without a home (facilities.roles)
        message = gettext("A facility officer must be bound to a home: choose one.")
        raise InvalidInput(message, errors={"facility": [message]}) from exc


def staff_user_create(
    *,
    username: str,
    password: str,
    roles: list[str],
    facility: Facility | None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    by: Actor,
) -> AbstractBaseUser:
    """A new staff user with these roles (and home), able to log in at once; audited."""
    User = get_user_model()
    username = (username or "").strip()
    errors: dict[str, list[str]] = {}
    try:
        User._meta.get_field("username").run_validators(username)
    except ValidationError as exc:
        errors["username"] = list(exc.messages)
    candidate = User(username=username, first_name=first_name, last_name=last_name, email=email)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise InvalidInput(gettext("The user was not created."), errors=errors)
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            message = gettext("This username is taken.")
            raise InvalidInput(message, errors={"username": [message]})
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username, password=password, first_name=first_name, last_name=last_name, email=email
                )
        except IntegrityError as exc:
            message = gettext("This username is taken.")
            raise InvalidInput(message, errors={"username": [message]}) from exc
        _assign(user, roles=roles, facility=facility)
        after = {**_user_state(user), "name": user.get_full_name(), "email": email}
        _audit_user(user, action="user_create", before=None, after=after, by=by)
    return user


def staff_user_roles_set(*, user: AbstractBaseUser, roles: list[str], facility: Facility | None, by: Actor) -> None:
    """Exactly these roles and this home; audited when anything changed. An administrator cannot
    take away their own administrator role (nobody would be left to give it back)."""
    if by.user is not None and user.pk == by.user.pk and Role.ADMIN not in roles and not user.is_superuser:
        message = gettext("You cannot remove your own administrator role.")
        raise InvalidInput(message, errors={"roles": [message]})
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        before = _user_state(user)
        _assign(user, roles=sorted(set(roles)), facility=facility)
        user = get_user_model().objects.get(pk=user.pk)
        after = _user_state(user)
        if before != after:
            _audit_user(user, action="user_roles_set", before=before, after=after, by=by)


def staff_user_active_set(*, user: AbstractBaseUser, active: bool, by: Actor) -> None:
    """Deactivate (the user can no longer log in, nor use an API token) or reactivate; audited."""
    if by.user is not None and user.pk == by.user.pk and not active:
        message = gettext("You cannot deactivate yourself.")
        raise InvalidInput(message, errors={"active": [message]})
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        if user.is_active == active:
            return
        before = {"active": user.is_active}
        user.is_active = active
        user.save(update_fields=["is_active"])
        _audit_user(
            user,
            action="user_activate" if active else "user_deactivate",
            before=before,
            after={"active": active},
            by=by,
        )


def staff_roles(user: AbstractBaseUser) -> list[str]:
    """The user's roles as labels in the page language (facilities.roles decides what they are)."""
    return [str(label) for value, label in Role.choices if value in roles_of(user)]
