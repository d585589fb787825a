"""Creating and changing homes. Beds change through admissions.services.beds, because a new or
freed bed is allocated at once."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import Conflict, InvalidInput
from core.phones import PHONE_RULE, InvalidPhone, normalise_phone

from .models import FACILITY_CODE_VALIDATOR, AuditEntry, District, Facility, FacilityLevel
from .signals import nursing_target_changed

EDITABLE = (
    "name",
    "name_en",
    "district",
    "level",
    "address",
    "address_en",
    "phone",
    "accepting_applications",
    "nursing_target",
)
# Texts that may be left blank (issue 15: English pages and messages fall back to the Chinese), each
# at most its column's length.
NAME_LENGTH = Facility._meta.get_field("name").max_length
OPTIONAL_TEXT_LENGTHS = {
    name: Facility._meta.get_field(name).max_length for name in ("name_en", "address", "address_en")
}


def _clean(values: dict) -> dict:
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for name, value in values.items():
        if name not in EDITABLE:
            errors[name] = [_("is not a field that can be set")]
        elif name == "name":
            value = str(value or "").strip()
            if not value or len(value) > NAME_LENGTH:
                errors[name] = [_("must be 1–%(max)s characters") % {"max": NAME_LENGTH}]
            cleaned[name] = value
        elif name == "district":
            district = District.objects.filter(code=value).first()
            if district is None:
                errors[name] = [_("is not a district of the city")]
            cleaned[name] = district
        elif name == "level":
            if value not in FacilityLevel.values:
                errors[name] = [_("must be city or district")]
            cleaned[name] = value
        elif name in OPTIONAL_TEXT_LENGTHS:
            value = str(value or "").strip()
            if len(value) > OPTIONAL_TEXT_LENGTHS[name]:
                errors[name] = [_("is too long")]
            cleaned[name] = value
        elif name == "phone":
            # R-SEC-9: a home's phone is validated and stored like an applicant's (core/phones.py).
            try:
                cleaned[name] = normalise_phone(str(value or ""))
            except InvalidPhone:
                errors[name] = [str(PHONE_RULE)]
        elif name == "accepting_applications":
            if not isinstance(value, bool):
                errors[name] = [_("must be true or false")]
            cleaned[name] = value
        elif name == "nursing_target":
            if value is None:
                cleaned[name] = None
                continue
            try:
                target = Decimal(str(value))
                if isinstance(value, bool) or not Decimal(0) <= target <= Decimal(1):
                    raise InvalidOperation
                cleaned[name] = target.quantize(Decimal("0.001"))
            except (InvalidOperation, ValueError):
                errors[name] = [_("must be a number from 0 to 1, or null for the policy's value")]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), errors=errors)
    return cleaned


def _audit(facility: Facility, *, action: str, before: dict, after: dict, user=None, actor_name: str) -> None:
    AuditEntry.objects.create(
        user=user,
        actor_name=actor_name,
        action=action,
        object_type="Facility",
        object_key=facility.code,
        changes={"before": before, "after": after},
    )


def _snapshot(facility: Facility, names) -> dict:
    out = {}
    for name in names:
        value = getattr(facility, name)
        out[name] = value.code if isinstance(value, District) else (str(value) if isinstance(value, Decimal) else value)
    return out


def facility_create(*, code: str, values: dict, user=None, actor_name: str) -> Facility:
    try:
        FACILITY_CODE_VALIDATOR(code)
    except (ValidationError, TypeError) as exc:
        raise InvalidInput(
            _("Bad facility code."), errors={"code": [_("must be 2–20 characters of A–Z, 0–9 and '-'")]}
        ) from exc
    missing = [name for name in ("name", "district", "level") if name not in values]
    if missing:
        raise InvalidInput(_("Required fields are missing."), errors={name: [_("is required")] for name in missing})
    cleaned = _clean(values)
    with transaction.atomic():
        if Facility.objects.filter(code=code).exists():
            raise Conflict(
                _("A facility with the code %(code)s exists.") % {"code": code}, errors={"code": [_("is already used")]}
            )
        try:
            with transaction.atomic():
                facility = Facility.objects.create(code=code, **cleaned)
        except IntegrityError as exc:
            raise Conflict(_("A facility with the code %(code)s exists.") % {"code": code}) from exc
        _audit(
            facility,
            action="facility_create",
            before={},
            after=_snapshot(facility, cleaned),
            user=user,
            actor_name=actor_name,
        )
    return facility


def facility_update(*, facility: Facility, values: dict, user=None, actor_name: str) -> Facility:
    """Any writable field; the nursing target (R-NQ-1) and every other change is audited. A lower
    cap blocks new offers only; nobody holding a bed is displaced."""
    cleaned = _clean(values)
    with transaction.atomic():
        facility = Facility.objects.select_for_update().get(pk=facility.pk)
        before = _snapshot(facility, cleaned)
        for name, value in cleaned.items():
            setattr(facility, name, value)
        facility.save()
        after = _snapshot(facility, cleaned)
        if before != after:
            _audit(facility, action="facility_update", before=before, after=after, user=user, actor_name=actor_name)
        # Both snapshots hold the target only when it was given: absent from both, they agree.
        if before.get("nursing_target") != after.get("nursing_target"):
            # R-ALLOC-3: a lower target frees self-care headroom; admissions allocates the blocked beds.
            nursing_target_changed.send(
                sender=Facility,
                facility=facility,
                before=before["nursing_target"],
                after=after["nursing_target"],
            )
    return facility
