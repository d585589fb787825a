"""API view: the watchdog report (R-WATCH-1, API.md `GET /reports/watchdog/`). Thin: parse the
query, call admissions.watchdog, render as JSON, or as the staff page's CSV/XLSX files."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from admissions import watchdog
from admissions.watchdog_tables import watchdog_file  # the staff page's download, the same bytes
from facilities.models import Facility, Role

from ..base import ApiView
from ..permissions import role_permission
from ..serializers.watchdog import FORMATS, WatchdogQuerySerializer, WatchdogReportSerializer, report_data

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class WatchdogReportView(ApiView):
    permission_classes = [role_permission(Role.REVIEWER)]
    pagination_class = None

    def perform_content_negotiation(self, request, force=False):
        """`format` is this endpoint's own parameter (json, csv, xlsx), not DRF's renderer override;
        errors are always problem+json."""
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        operation_id="reports_watchdog",
        tags=["reports"],
        summary="The watchdog report for the bureau (R-WATCH-1)",
        description=(
            "Per home and for the city: beds vacant longer than vacancy_alert_days while the queue has "
            "candidates, beds out of service longer than out_of_service_alert_days, accepted offers that failed "
            "the admission check (by reason and officer), admissions of people not first in the order (with the "
            "skip reasons), manual against automatic allocations, days from approval to the first offer (median "
            "and 90th percentile), overdue admissions (R-OFF-7). Bed counts and overdue admissions are as they "
            "stand now; the rest cover the period (default: the last full month). `format=csv` or `format=xlsx` "
            "returns the staff page's download."
        ),
        parameters=[
            OpenApiParameter("facility", str, description="One home's code; without it, every home."),
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day of the period (YYYY-MM-DD)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day of the period, included."),
            OpenApiParameter("format", str, enum=list(FORMATS), description="json (default), csv or xlsx."),
        ],
        responses={
            (200, "application/json"): WatchdogReportSerializer,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, XLSX): OpenApiTypes.BINARY,
        },
    )
    def get(self, request):
        query = WatchdogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        code = query.validated_data.get("facility")
        facilities = Facility.objects.order_by("code")
        if code:
            facilities = facilities.filter(code=code)
        report = watchdog.watchdog_report(facilities, query.validated_data["period"])
        fmt = query.validated_data["format"]
        if fmt != "json":
            body, content_type, filename = watchdog_file(report, fmt)
            response = HttpResponse(body, content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        return Response(WatchdogReportSerializer(report_data(report)).data)


urlpatterns = [
    path("reports/watchdog/", WatchdogReportView.as_view(), name="reports-watchdog"),
]
