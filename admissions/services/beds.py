"""Changes to beds that can start an allocation (R-BED-2, R-ALLOC-3): new beds, discharges, taking
a bed out of service and back. They live here, not in facilities, because each may hand the bed
to the queue at once."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from admissions.models import AllocationDecision, Occupancy
from admissions.models.offers import DischargeReason
from core.actor import SYSTEM, Actor
from core.errors import Conflict, InvalidInput, RuleViolation
from facilities.models import Bed, BedStatus, BedType, Facility

from .allocation import allocation_run
from .locks import lock_facilities
from .webhooks import bed_vacated_webhook_data, webhooks_enqueue

MAX_BATCH = 2000
# The largest home the city runs has about 1,500 beds. A count far beyond it is a typing mistake
# (a batch sent twice, a zero too many), and every vacant bed is walked by each allocation run, so
# a home's beds are bounded rather than left to grow without limit.
MAX_BEDS_PER_HOME = 5000


def _check_bed_type(bed_type: str) -> None:
    if bed_type not in BedType.values:
        raise InvalidInput(
            _("Unknown bed type."), errors={"bed_type": [_("must be nursing or general")]}, rule="R-BED-1"
        )


def _check_code(code: str, field: str = "code") -> str:
    code = (code or "").strip()
    if not code or len(code) > 40:
        raise InvalidInput(_("A bed code is 1–40 characters."), errors={field: [_("must be 1–40 characters")]})
    return code


def bed_create(*, facility: Facility, code: str, bed_type: str, actor: Actor = SYSTEM) -> tuple[Bed, list]:
    """A new bed is vacant and goes to the queue at once (R-ALLOC-3)."""
    beds, decisions = _beds_add(facility=facility, codes=[_check_code(code)], bed_type=bed_type, actor=actor)
    return beds[0], decisions


def beds_add_batch(*, facility: Facility, bed_type: str, count: int, prefix: str, actor: Actor = SYSTEM):
    """`count` beds coded prefix-001, prefix-002, … (API.md)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        raise InvalidInput(
            _("Bad count."), errors={"count": [_("must be a whole number from 1 to %(max)s") % {"max": MAX_BATCH}]}
        )
    prefix = _check_code(prefix, "prefix")
    if len(prefix) > 30:
        raise InvalidInput(
            _("The prefix is too long."), errors={"prefix": [_("must be at most %(max)s characters") % {"max": 30}]}
        )
    width = max(3, len(str(count)))
    return _beds_add(
        facility=facility,
        codes=[f"{prefix}-{i:0{width}d}" for i in range(1, count + 1)],
        bed_type=bed_type,
        actor=actor,
    )


def _beds_add(*, facility: Facility, codes: list[str], bed_type: str, actor: Actor):
    _check_bed_type(bed_type)
    with transaction.atomic():
        lock_facilities([facility.pk])
        has = Bed.objects.filter(facility=facility).count()
        if has + len(codes) > MAX_BEDS_PER_HOME:
            raise RuleViolation(
                _("A home has at most %(max)s beds; this one has %(has)s.") % {"max": MAX_BEDS_PER_HOME, "has": has},
                errors={
                    "count" if len(codes) > 1 else "code": [
                        _("at most %(left)s more beds can be added here") % {"left": max(MAX_BEDS_PER_HOME - has, 0)}
                    ]
                },
            )
        taken = set(Bed.objects.filter(facility=facility, code__in=codes).values_list("code", flat=True))
        if taken:
            raise Conflict(
                _("Bed codes already in use at this facility."),
                errors={"code": [_("already used: %(codes)s") % {"codes": ", ".join(sorted(taken)[:10])}]},
            )
        try:
            beds = Bed.objects.bulk_create(Bed(facility=facility, code=c, bed_type=bed_type) for c in codes)
        except IntegrityError as exc:
            raise Conflict(_("Bed codes already in use at this facility.")) from exc
        beds = list(Bed.objects.filter(facility=facility, code__in=codes).order_by("id"))
        decisions = allocation_run(facility=facility, beds=beds, trigger="bed_added", actor=actor)
    return beds, decisions


def bed_discharge(
    *, bed: Bed, reason: str, on: dt.date | None = None, actor: Actor = SYSTEM
) -> tuple[Bed, AllocationDecision]:
    """R-BED-2: the occupant leaves (discharged, deceased, transferred); the bed is allocated at once.
    Returns the bed and its decision (`bed_discharge_all` returns every decision of the run)."""
    bed, decisions = bed_discharge_all(bed=bed, reason=reason, on=on, actor=actor)
    return bed, next((d for d in decisions if d.bed_id == bed.pk), decisions[0])


def bed_discharge_all(
    *, bed: Bed, reason: str, on: dt.date | None = None, actor: Actor = SYSTEM
) -> tuple[Bed, list[AllocationDecision]]:
    """R-BED-2 with every decision of the allocation it sets off: a vacancy where a `together`
    couple waits walks every vacant bed again (R-CPL-2), and quota-blocked beds (R-ALLOC-3)."""
    if reason not in DischargeReason.values:
        raise InvalidInput(
            _("Unknown discharge reason."),
            errors={"reason": [_("must be discharged, deceased or transferred")]},
            rule="R-BED-2",
        )
    on = on or timezone.localdate()
    if on > timezone.localdate():
        raise InvalidInput(_("The discharge date is in the future."), errors={"date": [_("must not be in the future")]})
    with transaction.atomic():
        lock_facilities([bed.facility_id])
        bed = Bed.objects.select_for_update().select_related("facility").get(pk=bed.pk)
        if bed.status != BedStatus.OCCUPIED:
            raise Conflict(
                _("Only an occupied bed can be discharged; this one is %(status)s.")
                % {"status": BedStatus(bed.status).label},
                extra={"bed_status": bed.status},
            )
        occupancy = Occupancy.objects.filter(bed=bed, discharged_on__isnull=True).first()
        if occupancy is not None:
            if on < occupancy.admitted_on:
                raise InvalidInput(
                    _("The discharge date is before the admission."),
                    errors={"date": [_("must not be before admission")]},
                )
            occupancy.discharged_on = on
            occupancy.discharge_reason = reason
            occupancy.save(update_fields=["discharged_on", "discharge_reason"])
        bed.status = BedStatus.VACANT
        bed.holder_care_level = None
        bed.save(update_fields=["status", "holder_care_level"])
        webhooks_enqueue(type="bed.vacated", data=bed_vacated_webhook_data(bed, reason=reason, on=on))
        # The bed's own decision first; then any bed the quota had blocked (R-ALLOC-3).
        decisions = allocation_run(facility=bed.facility, bed=bed, trigger=f"discharge:{reason}", actor=actor)
        bed.refresh_from_db()
    return bed, decisions


def bed_take_out_of_service(*, bed: Bed, reason: str = "", actor: Actor = SYSTEM) -> Bed:
    """Only a vacant bed can go out of service. The cap may fall; nobody is displaced (R-NQ-1)."""
    with transaction.atomic():
        lock_facilities([bed.facility_id])
        bed = Bed.objects.select_for_update().get(pk=bed.pk)
        if bed.status != BedStatus.VACANT:
            raise Conflict(
                _("Only a vacant bed can be taken out of service; this one is %(status)s.")
                % {"status": BedStatus(bed.status).label},
                extra={"bed_status": bed.status},
            )
        bed.status = BedStatus.OUT_OF_SERVICE
        bed.out_of_service_reason = (reason or "")[:255]
        bed.save(update_fields=["status", "out_of_service_reason"])
    return bed


def bed_return_to_service(*, bed: Bed, reason: str = "", actor: Actor = SYSTEM) -> tuple[Bed, AllocationDecision]:
    """Back in service → vacant → allocated at once (R-ALLOC-3)."""
    with transaction.atomic():
        lock_facilities([bed.facility_id])
        bed = Bed.objects.select_for_update().select_related("facility").get(pk=bed.pk)
        if bed.status != BedStatus.OUT_OF_SERVICE:
            raise Conflict(
                _("The bed is %(status)s, not out of service.") % {"status": BedStatus(bed.status).label},
                extra={"bed_status": bed.status},
            )
        bed.status = BedStatus.VACANT
        bed.out_of_service_reason = ""
        bed.save(update_fields=["status", "out_of_service_reason"])
        decision = allocation_run(facility=bed.facility, bed=bed, trigger="bed_returned_to_service", actor=actor)[0]
        bed.refresh_from_db()
    return bed, decision
