"""Server-rendered pages. Thin: each calls selectors and renders."""

from django.db.models import Count, Q
from django.shortcuts import render

from admissions.selectors import facility_quota, policy_in_force
from facilities.models import Facility
from facilities.selectors import bed_counts


def home(request):
    """The city overview: every home's beds, queue length and quota."""
    policy = policy_in_force()
    facilities = Facility.objects.select_related("district").annotate(
        queue_length=Count("queue_entries", filter=Q(queue_entries__status="open"))
    )
    rows = []
    for facility in facilities:
        quota = facility_quota(facility, policy)
        share = quota.nursing_share
        rows.append(
            {
                "facility": facility,
                "beds": bed_counts(facility),
                "queue_length": facility.queue_length,
                "quota": quota,
                "nursing_share": None if share is None else round(share * 100, 1),
            }
        )
    return render(request, "admissions/home.html", {"rows": rows})
