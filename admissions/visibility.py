"""Who sees which application (SPEC §10): every role sees every application, a facility officer only
those that chose their home. The staff pages and the API read applications through these."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext

from assessments.models import Assessment
from core.errors import NotPermitted
from facilities.models import Facility, Role
from facilities.roles import facility_of, roles_of

from .models import Application, FacilityChoice, ReviewRequest
from .selectors import get_application


def _own_facility_only(user) -> Facility | bool | None:
    """The home a facility officer who is nothing else is bound to (False when bound to none);
    None for every other role."""
    if roles_of(user) == {Role.FACILITY}:
        return facility_of(user) or False
    return None


def applications_visible_to(user) -> QuerySet[Application]:
    """Every application, or for a facility officer those that chose their home (SPEC §10)."""
    queryset = Application.objects.select_related(
        "applicant", "hukou_district", "residence_district", "current_assessment"
    ).prefetch_related(
        "category_claims",
        Prefetch("choices", queryset=FacilityChoice.objects.select_related("facility").order_by("rank")),
        Prefetch("assessments", queryset=Assessment.objects.order_by("-assessed_on", "-id")),
        Prefetch(  # R-ASM-6: the application's re-reviews, newest first
            "review_requests",
            queryset=ReviewRequest.objects.select_related("application", "assessor").order_by("-requested_at", "-id"),
        ),
    )
    own = _own_facility_only(user)
    if own is False:
        return queryset.none()
    if own is not None:
        queryset = queryset.filter(choices__facility=own)
    return queryset


def application_visible_to(user, reference: str) -> Application:
    """The application with this reference, if `user` may see it: NotFound when there is none;
    NotPermitted for a facility officer asking about one that did not choose their home."""
    application = get_application(reference)
    if _own_facility_only(user) is not None:
        if not applications_visible_to(user).filter(pk=application.pk).exists():
            raise NotPermitted(gettext("A facility officer sees the applications that chose their home only."))
    return applications_visible_to(user).get(pk=application.pk)
