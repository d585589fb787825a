"""Row locks, always taken in one order: facilities (by id), then beds, then applications.

One order means two transactions can wait for each other but never in a circle (no deadlock).
Allocation locks the application it is about to offer with SKIP LOCKED: an application that
someone else is changing right now is passed over, as if it held an offer (R-NQ-3, R-OFF-3).
On SQLite every write transaction is IMMEDIATE, which serialises writers; these are no-ops there.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from admissions.models import Application
from core.errors import Conflict, NotFound
from facilities.models import Facility


def lock_facilities(facility_ids: Iterable[int]) -> dict[int, Facility]:
    ids = sorted(set(facility_ids))
    return {f.pk: f for f in Facility.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def lock_application(application: Application | int, *, expected_version: int | None = None) -> Application:
    """The application re-read under a row lock. A caller that read version N and expects it
    unchanged passes `expected_version`: a stale writer gets a 409, not a lost update."""
    pk = application.pk if isinstance(application, Application) else application
    try:
        locked = Application.objects.select_for_update(of=("self",)).select_related("applicant").get(pk=pk)
    except Application.DoesNotExist as exc:
        raise NotFound(_("No such application.")) from exc
    if expected_version is not None and locked.version != expected_version:
        raise Conflict(
            _("The application was changed by someone else; reload it and try again."),
            extra={"current_version": locked.version},
        )
    return locked


def facility_ids_for(application: Application) -> list[int]:
    """Every facility whose beds a change to this application may touch: its choices, and the
    facility of a live offer."""
    ids = set(application.choices.values_list("facility_id", flat=True))
    ids.update(application.offers.filter(state__in=["pending", "accepted"]).values_list("facility_id", flat=True))
    return sorted(ids)


def lock_application_with_facilities(
    application: Application | int, *, expected_version: int | None = None
) -> Application:
    """Lock the application's facilities first, then the application itself (the one order)."""
    pk = application.pk if isinstance(application, Application) else application
    unlocked = Application.objects.get(pk=pk)
    lock_facilities(facility_ids_for(unlocked))
    locked = lock_application(pk, expected_version=expected_version)
    if facility_ids_for(locked) != facility_ids_for(unlocked):  # changed between the two reads
        raise Conflict(_("The application changed while it was being locked; try again."))
    return locked
