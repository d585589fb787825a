"""Staff pages for personal data (SPEC §16).

- finding a person by ID number (R-PRIV-2): a POST, answered in its own response, never stored by a
  cache, so the number is in no URL, access log, browser history or shared cache; only for the
  roles that check identity (an assessor or a facility officer may not confirm whose number it is);
- one person's data as a printable page and as a JSON file (R-PRIV-4), for intake officers; both
  show the full ID number, so each is recorded in the access log (R-PRIV-1).
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from admissions.models import (
    Applicant,
    Application,
    ApplicationEvent,
    CategoryClaim,
    FacilityChoice,
    Notification,
    Occupancy,
    Offer,
    QueueEntry,
)
from admissions.services.privacy import applicant_export, applicant_for_id_number
from admissions.visibility import application_visible_to
from assessments.models import Assessment
from core.errors import NotFound, NotPermitted
from facilities.roles import sees_full_id_numbers
from web.access import staff_page
from web.forms.applications import IdNumberSearchForm


def _visible(request, reference: str) -> Application:
    """The application if this user may see it: 404 when unknown, 403 outside a facility officer's home."""
    try:
        return application_visible_to(request.user, reference)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc
    except NotPermitted as exc:
        raise PermissionDenied(str(exc.message)) from exc


@never_cache
@staff_page("intake", "reviewer")
@require_POST
def find_by_id_number(request):
    """R-PRIV-2: the applications of the person with this ID number, in this response only."""
    if not sees_full_id_numbers(request.user):
        raise PermissionDenied
    form = IdNumberSearchForm(request.POST)
    applications = None
    if form.is_valid():
        applicant = applicant_for_id_number(form.cleaned_data["id_number"])
        applications = (
            list(applicant.applications.select_related("applicant").order_by("-created_at", "-id")) if applicant else []
        )
    else:
        # The number typed is not shown back (the errors say what is wrong with it).
        form.data = form.data.copy()
        form.data["id_number"] = ""
    return render(
        request,
        "staff/applications/find_by_id.html",
        {"form": form if applications is None else IdNumberSearchForm(), "applications": applications},
    )


# --- the export (R-PRIV-4) -------------------------------------------------------------------------
LABELLED_MODELS = (
    Applicant,
    Application,
    FacilityChoice,
    CategoryClaim,
    ApplicationEvent,
    Assessment,
    QueueEntry,
    Offer,
    Occupancy,
    Notification,
)


def _labels() -> dict[str, dict[str, str]]:
    return {
        model.__name__: {f.name: capfirst(str(f.verbose_name)) for f in model._meta.concrete_fields}
        for model in LABELLED_MODELS
    }


def _rows(record: dict | None, labels: dict[str, str]) -> list[tuple[str, object]]:
    if not record:
        return []
    return [(labels.get(name, name), value) for name, value in record.items() if not isinstance(value, list)]


def _page_sections(data: dict) -> list[dict]:
    labels = _labels()
    applications = []
    for record in data["applications"]:
        parts = [
            (_("Homes chosen"), "FacilityChoice", record["choices"]),
            (_("Categories and evidence"), "CategoryClaim", record["categories"]),
            (_("Assessments"), "Assessment", record["assessments"]),
            (_("Queue entries"), "QueueEntry", record["queue_entries"]),
            (_("Offers"), "Offer", record["offers"]),
            (_("Residence in a home"), "Occupancy", [record["occupancy"]] if record["occupancy"] else []),
            (_("Messages sent to the family"), "Notification", record["notifications"]),
            (_("Timeline"), "ApplicationEvent", record["events"]),
        ]
        applications.append(
            {
                "reference": record["reference"],
                "rows": _rows(record, labels["Application"]),
                "parts": [
                    {"title": title, "records": [_rows(item, labels[model]) for item in items]}
                    for title, model, items in parts
                ],
            }
        )
    return applications


def _export(request, reference: str, where: str) -> tuple[Application, dict]:
    application = _visible(request, reference)
    return application, applicant_export(application, user=request.user, where=where)


@never_cache
@staff_page("intake")
@require_GET
def applicant_export_page(request, reference: str):
    application, data = _export(request, reference, "staff:applicant_export")
    return render(
        request,
        "staff/applications/export.html",
        {
            "application": application,
            "data": data,
            "person": _rows(data["applicant"], _labels()["Applicant"]),
            "applications": _page_sections(data),
        },
    )


@never_cache
@staff_page("intake")
@require_GET
def applicant_export_json(request, reference: str):
    application, data = _export(request, reference, "staff:applicant_export_json")
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2, default=str), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="personal-data-{application.reference}.json"'
    return response


urlpatterns = [
    path("applications/find-by-id-number/", find_by_id_number, name="applications_find_by_id"),
    path("applications/<str:reference>/export/", applicant_export_page, name="applicant_export"),
    path("applications/<str:reference>/export.json", applicant_export_json, name="applicant_export_json"),
]
