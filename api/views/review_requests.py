"""API views: re-reviews (复核, R-ASM-6; API.md). Thin: parse, call one service, render.

The window, one re-review per assessment, the assessor who took no part and the reviewer other than
the first approver are the services' (admissions/services/review_requests.py).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.urls import path
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from admissions.models import ReviewRequest
from admissions.services import review_requests as services
from admissions.visibility import application_visible_to
from api import examples
from api.base import ApiView
from api.permissions import role_permission
from api.serializers import review_requests as s
from api.views.applications import REFERENCE
from core.actor import Actor
from core.errors import InvalidInput, NotFound
from facilities.models import Role

Intake = role_permission(Role.INTAKE)
Reviewer = role_permission(Role.REVIEWER)
REVIEW_REQUEST_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The re-review's id.")


def actor_of(request) -> Actor:
    return Actor.for_user(request.user, via_api=True)


def review_request_for(request, id: str) -> ReviewRequest:
    """The re-review, if this caller may see its application; anything not a number is a 404."""
    pk = int(id) if id.isascii() and id.isdigit() and len(id) <= 18 else None
    found = ReviewRequest.objects.select_related("application").filter(pk=pk).first()
    if found is None:
        raise NotFound(gettext("No such re-review."))
    application_visible_to(request.user, found.application.reference)
    return found


class ReviewRequestApiView(ApiView):
    def parsed(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def answer(self, review_request: ReviewRequest, status_code: int = status.HTTP_200_OK) -> Response:
        review_request = ReviewRequest.objects.select_related("application", "assessor").get(pk=review_request.pk)
        return Response(s.ReviewRequestOutput(review_request).data, status=status_code)


class ApplicationReviewRequests(ReviewRequestApiView):
    permission_classes = [Intake]

    @extend_schema(
        operation_id="applications_review_requests_create",
        parameters=[REFERENCE],
        request=s.ReviewRequestCreateInput,
        examples=examples.REVIEW_REQUEST,
        responses={201: s.ReviewRequestOutput},
        description="The family asks, through intake, for a re-review of the latest assessment's outcome, within "
        "review_request_days of being told it; one per assessment (422 otherwise); not for a closed application.",
    )
    def post(self, request, reference: str):
        body = self.parsed(s.ReviewRequestCreateInput)
        review_request = services.review_request_create(
            application=application_visible_to(request.user, reference), reason=body["reason"], actor=actor_of(request)
        )
        return self.answer(review_request, status.HTTP_201_CREATED)


class ReviewRequestAssign(ReviewRequestApiView):
    permission_classes = [Reviewer]

    @extend_schema(
        operation_id="review_requests_assign",
        parameters=[REVIEW_REQUEST_ID],
        request=s.ReviewRequestAssignInput,
        responses={200: s.ReviewRequestOutput},
        description="Assign an assessor who took no part in the assessment or its approval (422 otherwise).",
    )
    def post(self, request, id: str):
        review_request = review_request_for(request, id)
        body = self.parsed(s.ReviewRequestAssignInput)
        assessor = get_user_model().objects.filter(username=body["assessor"]).first()
        if assessor is None:
            raise InvalidInput(gettext("Choose an assessor."), errors={"assessor": [gettext("no such user")]})
        review_request = services.review_request_assign(
            review_request=review_request, assessor=assessor, reason=body["reason"], actor=actor_of(request)
        )
        return self.answer(review_request)


class ReviewRequestDecide(ReviewRequestApiView):
    permission_classes = [Reviewer]

    @extend_schema(
        operation_id="review_requests_decide",
        parameters=[REVIEW_REQUEST_ID],
        request=s.ReviewRequestDecideInput,
        responses={200: s.ReviewRequestOutput},
        description="Approve the re-review's assessment and decide: `{assessment}` (changed when the grade "
        'differs) or `{outcome: "upheld", reason}`. The reviewer who approved the first assessment may not '
        "decide (403). Changed is applied as a reassessment at once, or when a live offer ends.",
    )
    def post(self, request, id: str):
        review_request = review_request_for(request, id)
        body = self.parsed(s.ReviewRequestDecideInput)
        review_request = services.review_request_decide(review_request=review_request, actor=actor_of(request), **body)
        return self.answer(review_request)


urlpatterns = [
    path(
        "applications/<str:reference>/review-requests/",
        ApplicationReviewRequests.as_view(),
        name="application-review-requests",
    ),
    path("review-requests/<str:id>/assign/", ReviewRequestAssign.as_view(), name="review-request-assign"),
    path("review-requests/<str:id>/decide/", ReviewRequestDecide.as_view(), name="review-request-decide"),
]
