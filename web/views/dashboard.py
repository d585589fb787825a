"""Staff pages: dashboard. Thin: parse, call one service or selector, render.

What each role starts the day with: the applications by state (each count a link to the filtered
list), the work waiting for this role, offers whose deadline falls within the next two working
days (R-OFF-1), assessments about to expire (R-ASM-5), vacant beds and the quota headroom per home
(R-NQ-1), and for administrators the working-day calendar warning (R-OFF-2). A facility officer
sees their own home's figures only (SPEC §10).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from admissions.dashboard import (
    admissions_overdue,
    application_counts_by_state,
    assessments_expiring,
    facility_figures,
    offers_due_by,
)
from admissions.models import ApplicationState
from admissions.selectors import policy_in_force
from admissions.services.reconfirmation import unconfirmed_listing
from admissions.services.review_requests import review_requests_overdue
from admissions.visibility import applications_visible_to
from admissions.workdays import add_working_days, calendar_warning, end_of_working_day
from facilities.models import Facility, Role
from facilities.roles import facility_of, roles_of
from web.access import allowed_url, staff_page

S = ApplicationState
DEADLINE_WORKING_DAYS = 2  # issue 4: offers with a deadline in the next two working days
LISTED = 20  # rows shown per table; the counts say how many there are

# The work each role picks up from the dashboard: (role, state, what it means for them).
WORK = [
    (Role.INTAKE, S.DRAFT, _("drafts to complete and submit")),
    (Role.INTAKE, S.SUBMITTED, _("submitted: eligibility to check")),
    (Role.ASSESSOR, S.ASSESSMENT_PENDING, _("waiting for an assessment")),
    (Role.REVIEWER, S.REVIEW, _("assessments and applications to review")),
    (Role.FACILITY, S.OFFERED, _("offers waiting for the family's answer")),
    (Role.FACILITY, S.ADMISSION_CHECK, _("admission checks to carry out")),
]


def _list_url(**filters) -> str:
    return reverse("staff:applications") + "?" + urlencode(filters)


@staff_page("intake", "assessor", "reviewer", "facility")
@require_GET
def dashboard(request):
    user = request.user
    roles = roles_of(user)
    # A facility officer who is nothing else sees their own home only (as in the API).
    own_only = roles == {Role.FACILITY}
    own = facility_of(user) if own_only else None
    unbound = own_only and own is None
    today = timezone.localdate()
    policy = policy_in_force(today)
    applications = applications_visible_to(user)

    counts = application_counts_by_state(applications)
    by_state = [
        {"state": state, "label": label, "count": counts[state], "url": _list_url(state=state)}
        for state, label in S.choices
    ]
    work = [
        {"label": label, "count": counts[state], "url": _list_url(state=state), "state": S(state).label}
        for role, state, label in WORK
        if role in roles or Role.ADMIN in roles
    ]

    # R-CHG-1: the drafts an intake officer can finish, oldest first, each linked to its form.
    shows_drafts = bool(roles & {Role.INTAKE, Role.ADMIN})
    drafts = applications.filter(state=S.DRAFT).select_related("applicant").order_by("created_at", "id")

    horizon_day = add_working_days(today, DEADLINE_WORKING_DAYS)
    offers = offers_due_by(end_of_working_day(horizon_day), facility=own) if not unbound else None
    overdue = (
        admissions_overdue(facility=own) if not unbound and roles & {Role.FACILITY, Role.REVIEWER, Role.ADMIN} else None
    )
    # R-ASM-6: re-reviews past their due date, on the reviewers' dashboard.
    re_reviews = review_requests_overdue() if roles & {Role.REVIEWER, Role.ADMIN} else None
    within_days = policy.parameters.reassessment_reminder_days
    expiring = assessments_expiring(today=today, within_days=within_days, applications=applications)

    unconfirmed = unconfirmed_listing(applications) if not unbound else None  # R-CHG-3

    facilities = Facility.objects.select_related("district").order_by("code")
    if own_only:
        facilities = facilities.filter(pk=own.pk) if own else facilities.none()
    figures = facility_figures(facilities, policy=policy)
    context = {
        "own": own,
        "unbound": unbound,
        "today": today,
        "by_state": by_state,
        "total": sum(counts.values()),
        "work": work,
        "horizon_day": horizon_day,
        "shows_drafts": shows_drafts,
        "drafts": list(drafts[:LISTED]) if shows_drafts else [],
        "drafts_count": counts[S.DRAFT],
        "drafts_url": _list_url(state=S.DRAFT),
        "offers": list(offers[:LISTED]) if offers is not None else [],
        "offers_count": offers.count() if offers is not None else 0,
        "offers_url": allowed_url(user, "staff:offers"),
        # R-OFF-7: on the facility's and the reviewers' dashboards.
        "overdue": list(overdue[:LISTED]) if overdue is not None else [],
        "overdue_count": overdue.count() if overdue is not None else 0,
        "shows_overdue": overdue is not None,
        # R-CHG-3: asked and not yet confirmed, plus suspended for want of a confirmation.
        "unconfirmed": list(unconfirmed[:LISTED]) if unconfirmed is not None else [],
        "unconfirmed_count": unconfirmed.count() if unconfirmed is not None else 0,
        "re_reviews_overdue": [
            {"review": r, "overdue": True, "url": allowed_url(user, "staff:review_request", r.pk)}
            for r in (re_reviews[:LISTED] if re_reviews is not None else [])
        ],
        "re_reviews_overdue_count": re_reviews.count() if re_reviews is not None else 0,
        "shows_re_reviews": re_reviews is not None,
        "re_reviews_url": allowed_url(user, "staff:review_requests"),
        "within_days": within_days,
        "expiring": list(expiring[:LISTED]),
        "expiring_count": expiring.count(),
        "figures": figures,
        "vacant_total": sum(f.vacant for f in figures),
        "calendar_warning": calendar_warning(today) if Role.ADMIN in roles else None,
        "calendar_url": allowed_url(user, "staff:administration"),
        "facility_rows": [{"figures": f, "url": allowed_url(user, "staff:facility", f.facility.code)} for f in figures],
    }
    return render(request, "staff/dashboard.html", context)


urlpatterns = [path("", dashboard, name="dashboard")]
