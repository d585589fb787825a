"""API views: assessments (API.md). Thin: parse, call one service or selector, render.

The lifecycle and four eyes (R-ASM-3…5) are the services'; a reviewer who is the assessor gets
their 403 from there.
"""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from admissions.services import assessments as services
from admissions.visibility import application_visible_to
from api import examples
from api.base import ApiView
from api.permissions import AnyStaff, role_permission
from api.serializers import assessments as s
from api.views.applications import REFERENCE
from assessments.models import Assessment
from core.actor import Actor
from core.errors import NotFound, WrongState
from facilities.models import Role
from facilities.roles import roles_of

Assessor = role_permission(Role.ASSESSOR)
Reviewer = role_permission(Role.REVIEWER)
ASSESSMENT_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The assessment's id.")

# Who may take each step of an assessment (API.md); an admin may take any.
ROLES_BY_STEP = {"complete": {Role.ASSESSOR}, "approve": {Role.REVIEWER}, "reject": {Role.REVIEWER}}


def assessment_for(request, id: str) -> Assessment:
    """The assessment, if this caller may see its application. The id is taken as text from the
    URL so that anything not a number is a 404 problem like any other."""
    pk = int(id) if id.isascii() and id.isdigit() and len(id) <= 18 else None
    assessment = Assessment.objects.select_related("application", "assessor", "reviewer").filter(pk=pk).first()
    if assessment is None:
        raise NotFound(gettext("No such assessment."))
    application_visible_to(request.user, assessment.application.reference)
    return assessment


class AssessmentApiView(ApiView):
    def handle_exception(self, exc):
        # R-FSM-3: name only the steps this caller may take.
        if isinstance(exc, WrongState) and "available_transitions" in exc.extra:
            roles = roles_of(self.request.user)
            if Role.ADMIN not in roles:
                exc.extra["available_transitions"] = [
                    step for step in exc.extra["available_transitions"] if ROLES_BY_STEP.get(step, set()) & roles
                ]
        return super().handle_exception(exc)

    def parsed(self, serializer_class, **kwargs) -> dict:
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def answer(self, assessment: Assessment, status_code: int = status.HTTP_200_OK) -> Response:
        assessment = Assessment.objects.select_related("application", "assessor", "reviewer").get(pk=assessment.pk)
        return Response(s.AssessmentOutput(assessment).data, status=status_code)


def actor_of(request) -> Actor:
    return Actor.for_user(request.user, via_api=True)


class Instrument(ApiView):
    permission_classes = [AnyStaff]

    @extend_schema(
        operation_id="assessment_instrument",
        responses={200: s.InstrumentOutput},
        description="The GB/T 42195-2022 items, levels and grades, in Chinese and English (SPEC §4).",
    )
    def get(self, request):
        return Response(s.InstrumentOutput(s.instrument_document()).data)


class ApplicationAssessments(AssessmentApiView, generics.ListAPIView):
    serializer_class = s.AssessmentOutput
    filter_backends: list = []

    def get_permissions(self):
        return [Assessor()] if self.request.method == "POST" else [AnyStaff()]

    def get_queryset(self):
        application = application_visible_to(self.request.user, self.kwargs["reference"])
        return application.assessments.select_related("application", "assessor", "reviewer").order_by(
            "-assessed_on", "-id"
        )

    @extend_schema(
        operation_id="applications_assessments_list",
        parameters=[REFERENCE],
        description="The application's assessments, newest first.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="applications_assessments_create",
        parameters=[REFERENCE],
        request=s.AssessmentCreateInput,
        examples=examples.ASSESSMENT,
        responses={201: s.AssessmentOutput},
        description="Record an assessment (a draft; `complete: true` completes it at once, and an application "
        "waiting for it moves to review).",
    )
    def post(self, request, reference: str):
        body = self.parsed(s.AssessmentCreateInput)
        assessment = services.assessment_create(
            application=application_visible_to(request.user, reference), actor=actor_of(request), **body
        )
        return self.answer(assessment, status.HTTP_201_CREATED)


class AssessmentDetail(AssessmentApiView):
    def get_permissions(self):
        return [Assessor()] if self.request.method == "PATCH" else [AnyStaff()]

    @extend_schema(
        operation_id="assessments_retrieve",
        parameters=[ASSESSMENT_ID],
        responses={200: s.AssessmentOutput},
        description="One assessment.",
    )
    def get(self, request, id: str):
        return self.answer(assessment_for(request, id))

    @extend_schema(
        operation_id="assessments_partial_update",
        parameters=[ASSESSMENT_ID],
        request=s.AssessmentPatchInput,
        responses={200: s.AssessmentOutput},
        description="Change a draft (R-ASM-4: a completed assessment is never edited). Items are merged.",
    )
    def patch(self, request, id: str):
        body = self.parsed(s.AssessmentPatchInput)
        assessment = services.assessment_update(assessment=assessment_for(request, id), actor=actor_of(request), **body)
        return self.answer(assessment)


class AssessmentComplete(AssessmentApiView):
    permission_classes = [Assessor]

    @extend_schema(
        operation_id="assessments_complete",
        parameters=[ASSESSMENT_ID],
        request=None,
        responses={200: s.AssessmentOutput},
        description="draft → completed: total and grade frozen (R-ASM-1…4); 422 naming the missing items.",
    )
    def post(self, request, id: str):
        return self.answer(
            services.assessment_complete(assessment=assessment_for(request, id), actor=actor_of(request))
        )


class AssessmentApprove(AssessmentApiView):
    permission_classes = [Reviewer]

    @extend_schema(
        operation_id="assessments_approve",
        parameters=[ASSESSMENT_ID],
        request=None,
        responses={200: s.AssessmentOutput},
        description="completed → approved, by a reviewer who is not the assessor (four eyes, R-ASM-4: 403).",
    )
    def post(self, request, id: str):
        return self.answer(services.assessment_approve(assessment=assessment_for(request, id), actor=actor_of(request)))


class AssessmentReject(AssessmentApiView):
    permission_classes = [Reviewer]

    @extend_schema(
        operation_id="assessments_reject",
        parameters=[ASSESSMENT_ID],
        request=s.AssessmentRejectInput,
        responses={200: s.AssessmentOutput},
        description="completed → rejected, with a reason; an application under review goes back for assessment.",
    )
    def post(self, request, id: str):
        body = self.parsed(s.AssessmentRejectInput)
        assessment = services.assessment_reject(
            assessment=assessment_for(request, id), reason=body["reason"], actor=actor_of(request)
        )
        return self.answer(assessment)


urlpatterns = [
    path("assessment-instrument/", Instrument.as_view(), name="assessment-instrument"),
    path("applications/<str:reference>/assessments/", ApplicationAssessments.as_view(), name="application-assessments"),
    path("assessments/<str:id>/", AssessmentDetail.as_view(), name="assessment-detail"),
    path("assessments/<str:id>/complete/", AssessmentComplete.as_view(), name="assessment-complete"),
    path("assessments/<str:id>/approve/", AssessmentApprove.as_view(), name="assessment-approve"),
    path("assessments/<str:id>/reject/", AssessmentReject.as_view(), name="assessment-reject"),
]
