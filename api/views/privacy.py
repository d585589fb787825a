"""API views: personal data (SPEC §16, API.md).

- `GET /applicants/{reference}/export/`: everything held about the person of that application
  (R-PRIV-4), for intake officers; it shows the full ID number, so it is recorded (R-PRIV-1);
- `GET /applications/{reference}/access-log/`: who has seen the full ID number, for administrators.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from admissions.services.privacy import applicant_export, id_accesses_for_application
from admissions.visibility import application_visible_to
from api.base import ApiView
from api.pagination import NewestFirstCursor
from api.permissions import role_permission
from facilities.models import Role

from .applications import REFERENCE

Intake = role_permission(Role.INTAKE)
AdminOnly = role_permission(Role.ADMIN)


class IdAccessOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    who = serializers.CharField(source="actor_name", help_text="The username of the staff user or API client.")
    where = serializers.CharField(help_text="The page or API operation that showed it.")
    application = serializers.CharField(
        source="application.reference", allow_null=True, help_text="null: the person's own record."
    )


class ApplicantExport(ApiView):
    permission_classes = [Intake]

    @extend_schema(
        operation_id="applicants_export",
        parameters=[REFERENCE],
        responses={200: OpenApiTypes.OBJECT},
        description="R-PRIV-4: everything held about the person of this application: the person, each of their "
        "applications with its choices, categories, events, assessments, queue entries, offers, residence and "
        "notifications, and the access log of their ID number. Recorded in that log (R-PRIV-1).",
    )
    def get(self, request, reference: str):
        application = application_visible_to(request.user, reference)
        data = applicant_export(application, user=request.user, where="api:applicant-export")
        return Response(data, headers={"Cache-Control": "no-store, private"})


class ApplicationAccessLog(ApiView, generics.ListAPIView):
    permission_classes = [AdminOnly]
    pagination_class = NewestFirstCursor
    serializer_class = IdAccessOutput
    filter_backends: list = []

    def get_queryset(self):
        return id_accesses_for_application(application_visible_to(self.request.user, self.kwargs["reference"]))

    @extend_schema(
        operation_id="applications_access_log_list",
        parameters=[REFERENCE],
        description="R-PRIV-1: every display of the applicant's full ID number on this application or on the "
        "person's own record, newest first.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("applicants/<str:reference>/export/", ApplicantExport.as_view(), name="applicant-export"),
    path("applications/<str:reference>/access-log/", ApplicationAccessLog.as_view(), name="application-access-log"),
]
