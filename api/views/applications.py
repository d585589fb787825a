"""API views: applications (API.md). Thin: parse, call one service or selector, render.

A facility officer sees the applications that chose their home, and nothing else (SPEC §10);
every other role sees all. Lists always mask ID numbers; one application's record shows the full
number to intake officers, reviewers and administrators.
"""

from __future__ import annotations

import re

from django.urls import path
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from admissions.dashboard import with_refusals_in_window
from admissions.filters import ApplicationFilter
from admissions.models import Application, Category
from admissions.models.reconfirmation import with_reconfirmation
from admissions.selectors import positions_for_application
from admissions.services import applications as services
from admissions.services.assessments import application_return_for_assessment
from admissions.services.reconfirmation import reconfirm
from admissions.services.transitions import transitions_for
from admissions.visibility import application_visible_to, applications_visible_to
from api import examples
from api.base import LOOKUP_CODE_SHOWN_ONCE, ApiView
from api.pagination import OldestFirstCursor
from api.permissions import AnyStaff, role_permission, transition_permission
from api.serializers import applications as s
from core.actor import Actor
from core.errors import WrongState
from facilities.models import Role

Intake = role_permission(Role.INTAKE)
IntakeOrReviewer = role_permission(Role.INTAKE, Role.REVIEWER)
Reviewer = role_permission(Role.REVIEWER)

REFERENCE = OpenApiParameter("reference", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. 2026-000123")


def actor_of(request) -> Actor:
    return Actor.for_user(request.user, via_api=True)


class ApplicationApiView(ApiView):
    """Tells a caller refused for the state only the transitions their roles may take (R-FSM-3)."""

    def handle_exception(self, exc):
        if isinstance(exc, WrongState) and "available_transitions" in exc.extra:
            exc.extra["available_transitions"] = transitions_for(self.request.user, exc.extra["available_transitions"])
        return super().handle_exception(exc)

    # R-SEC-3, R-PRIV-2: an answer about an application holds personal data (and maybe a lookup
    # code), so its idempotency record keeps only the reference, and a replay reads the application
    # as it is now, without the code.
    def stored_answer(self, response) -> object:
        data = response.data if isinstance(response.data, dict) else {}
        reference = data.get("reference") or self.kwargs.get("reference")
        if response.status_code >= 400 or not isinstance(reference, str):
            return super().stored_answer(response)
        return {"reference": reference, "lookup_code_shown": "lookup_code" in data}

    def replay(self, record) -> Response:
        body = record.response_body if isinstance(record.response_body, dict) else {}
        if record.status >= 400 or set(body) != {"reference", "lookup_code_shown"}:
            return super().replay(record)
        extra = {}
        if body["lookup_code_shown"]:
            extra = {"lookup_code_shown": False, "lookup_code_detail": str(LOOKUP_CODE_SHOWN_ONCE)}
        application = applications_visible_to(self.request.user).filter(reference=body["reference"]).first()
        if application is None:  # no longer visible to this caller: nothing more to say
            response = Response({"reference": body["reference"], **extra}, status=record.status)
        else:
            response = self.answer(application, status_code=record.status, **extra)
        response["Idempotent-Replayed"] = "true"
        return response

    def answer(self, application: Application, *, status_code: int = status.HTTP_200_OK, **extra) -> Response:
        """The application as API.md shows it, re-read with what the answer needs."""
        application = with_reconfirmation(with_refusals_in_window(applications_visible_to(self.request.user))).get(
            pk=application.pk
        )
        data = {**s.ApplicationOutput(application, context={"request": self.request}).data, **extra}
        return Response(data, status=status_code, headers={"ETag": f'"{application.version}"'})

    def parsed(self, serializer_class, **kwargs) -> dict:
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


# --- list and create -----------------------------------------------------------------------------
class ApplicationList(ApplicationApiView, generics.ListAPIView):
    filterset_class = ApplicationFilter

    def get_permissions(self):
        return [Intake()] if self.request.method == "POST" else [AnyStaff()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI generator: no request, maybe no database
            return Application.objects.none()
        return with_reconfirmation(with_refusals_in_window(applications_visible_to(self.request.user)))

    def get_serializer(self, *args, **kwargs):
        # SPEC §10: lists always show ID numbers masked.
        return s.ApplicationOutput(*args, context={"request": self.request, "mask_id_numbers": True}, **kwargs)

    @extend_schema(
        operation_id="applications_list",
        responses={200: s.ApplicationOutput(many=True)},
        description="Applications, newest first, ID numbers masked. A facility officer sees those that chose "
        "their home.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="applications_create",
        request=s.ApplicationCreateInput,
        examples=examples.APPLICATION,
        responses={201: OpenApiResponse(response=s.APPLICATION_CREATED_SCHEMA, description="The application.")},
        description="Register an application (R-APP-1…10); `submit: false` keeps it a draft. The lookup code is in "
        "this answer only. A second open application → 409 with `open_application`; a barred person → 422 with "
        "`barred_until`.",
    )
    def post(self, request):
        body = self.parsed(s.ApplicationCreateInput)
        application, code = services.application_create(
            data=s.intake_from(body), submit=body["submit"], actor=actor_of(request), via="api"
        )
        return self.answer(application, status_code=status.HTTP_201_CREATED, lookup_code=code)


# --- one application ------------------------------------------------------------------------------
# The version (ETag) as If-Match carries it: 3, "3" or W/"3"; `*` is any version. One pattern for the
# parse and the OpenAPI document, so that a header the API refuses is never described as valid.
_VERSION_TAG_PATTERN = r'^\s*(?:\*|(?:W/)?"?([0-9]{1,10})"?)\s*$'
_VERSION_TAG = re.compile(_VERSION_TAG_PATTERN)
IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": _VERSION_TAG_PATTERN},
    OpenApiParameter.HEADER,
    required=False,
    description='The version (ETag) you read, e.g. "3"; a stale one gets 409.',
)


def _expected_version(request, body: dict) -> int | None:
    header = request.headers.get("If-Match")
    if header is not None:
        match = _VERSION_TAG.match(header)
        if match is None:
            raise ValidationError({"If-Match": ['must be the application\'s version, e.g. "3"']})
        if match.group(1) is not None:  # not `*`
            return int(match.group(1))
    return body.get("version")


class ApplicationDetail(ApplicationApiView):
    def get_permissions(self):
        # R-CHG-1: intake, or a reviewer (in `review` only: the service reads the same table,
        # services/transitions.py CORRECTION_ROLES_BY_STATE, and refuses the rest with 403).
        return [transition_permission("correct")()] if self.request.method == "PATCH" else [AnyStaff()]

    @extend_schema(
        operation_id="applications_retrieve",
        parameters=[REFERENCE],
        responses={200: s.ApplicationOutput},
        description="One application; the ETag is its version.",
    )
    def get(self, request, reference: str):
        return self.answer(application_visible_to(request.user, reference))

    @extend_schema(
        operation_id="applications_partial_update",
        summary="Correct what was entered at intake, before approval",
        parameters=[REFERENCE, IF_MATCH],
        request=s.ApplicationPatchInput,
        examples=examples.CORRECTION,
        responses={200: s.ApplicationOutput},
        description="Corrections before approval (R-CHG-1): in `draft`, `submitted`, `assessment_pending` or "
        "`review`, any field given at intake; an intake officer in all four, a reviewer in `review`. Fields not "
        "sent are kept; `categories`, `choices` and `spouse_resident_in` replace the stored lists. A change of "
        "`applicant.id_number` also needs `reason`, and the number must not belong to another person's record "
        "(409). A draft may be saved with missing fields (`submit` checks them); in the other states the "
        "corrected application must meet every rule of intake. Another state → 409 naming it; a stale `version` "
        "or `If-Match` → 409. The event `corrected` lists the changed fields with old and new values, ID "
        "numbers, phones and addresses masked.",
    )
    def patch(self, request, reference: str):
        body = self.parsed(s.ApplicationPatchInput)
        application = application_visible_to(request.user, reference)
        data = services.intake_data_of(application)
        s.intake_merged(data, body)
        application = services.application_update(
            application=application,
            data=data,
            actor=actor_of(request),
            expected_version=_expected_version(request, body),
            reason=body.get("reason", ""),
        )
        return self.answer(application)


# --- transitions: one POST each, calling its service -----------------------------------------------
def _transition_view(name, *, body=None, act, description=""):
    """A POST endpoint for one transition: the roles of ROLES_BY_TRANSITION (services/transitions.py),
    parse `body`, call `act`, answer the application."""

    class Transition(ApplicationApiView):
        permission_classes = [transition_permission(name)]

        @extend_schema(
            operation_id=f"applications_{name.replace('-', '_')}",
            parameters=[REFERENCE],
            request=body,
            examples=examples.TRANSITIONS.get(name, []),
            responses={200: s.ApplicationOutput},
            description=description,
        )
        def post(self, request, reference: str):
            data = self.parsed(body) if body is not None else {}
            application = application_visible_to(request.user, reference)
            return self.answer(act(application=application, actor=actor_of(request), **data))

    Transition.__name__ = Transition.__qualname__ = "Application" + name.title().replace("-", "")
    return Transition.as_view()


def _approve(*, application, actor, categories=(), exemption=None):
    return services.application_approve(
        application=application, categories=[dict(c) for c in categories], exemption=exemption, actor=actor
    )


TRANSITIONS = {
    "submit": _transition_view("submit", act=services.application_submit, description="draft → submitted (R-APP-1…8)."),
    "accept-for-assessment": _transition_view(
        "accept-for-assessment",
        act=services.application_accept_for_assessment,
        description="submitted → assessment_pending, or straight to review with a valid approved assessment.",
    ),
    "reject": _transition_view(
        "reject", body=s.ReasonInput, act=services.application_reject, description="→ rejected."
    ),
    "approve": _transition_view(
        "approve",
        body=s.ApproveInput,
        act=_approve,
        description="review → waiting: categories verified, the channel fixed, queued (R-APP-8). 422 before the "
        "assessment is approved.",
    ),
    "return-for-assessment": _transition_view(
        "return-for-assessment",
        body=s.ReasonInput,
        act=application_return_for_assessment,
        description="review → assessment_pending.",
    ),
    "suspend": _transition_view(
        "suspend", body=s.ReasonInput, act=services.application_suspend, description="→ suspended."
    ),
    "resume": _transition_view(
        "resume",
        body=s.OptionalReasonInput,
        act=services.application_resume,
        description="suspended → waiting; needs a valid assessment (422 otherwise).",
    ),
    "withdraw": _transition_view(
        "withdraw", body=s.ReasonInput, act=services.application_withdraw, description="→ withdrawn."
    ),
    "remove": _transition_view("remove", body=s.RemoveInput, act=services.application_remove, description="→ removed."),
    "reconfirm": _transition_view(
        "reconfirm",
        act=lambda *, application, actor: reconfirm(application=application, actor=actor),
        description="R-CHG-3: the family, through staff, confirms they still want to wait. Resumes an application "
        "suspended `not_reconfirmed` when its assessment is valid; otherwise it stays suspended (the "
        "confirmation is recorded). 409 outside the queue.",
    ),
}


class LookupCodeIssue(ApplicationApiView):
    permission_classes = [Intake]

    @extend_schema(
        operation_id="applications_lookup_code",
        parameters=[REFERENCE],
        request=None,
        responses={200: s.LookupCodeOutput},
    )
    def post(self, request, reference: str):
        code = services.lookup_code_issue(
            application=application_visible_to(request.user, reference), actor=actor_of(request)
        )
        return Response(s.LookupCodeOutput({"lookup_code": code}).data)

    def replay(self, record) -> Response:
        """R-SEC-3: never the code again; the answer says so."""
        body = record.response_body if isinstance(record.response_body, dict) else {}
        if record.status >= 400 or "reference" not in body:
            return super().replay(record)
        data = {
            "reference": body["reference"],
            "lookup_code_shown": False,
            "lookup_code_detail": str(LOOKUP_CODE_SHOWN_ONCE),
        }
        return Response(s.LookupCodeOutput(data).data, status=record.status, headers={"Idempotent-Replayed": "true"})


# --- reads beside the application --------------------------------------------------------------------
class ApplicationEvents(ApplicationApiView, generics.ListAPIView):
    permission_classes = [AnyStaff]
    pagination_class = OldestFirstCursor
    serializer_class = s.ApplicationEventOutput
    filter_backends: list = []

    def get_queryset(self):
        application = application_visible_to(self.request.user, self.kwargs["reference"])
        return application.events.select_related("application")

    @extend_schema(
        operation_id="applications_events_list",
        parameters=[REFERENCE],
        description="The application's append-only event list, oldest first (R-FSM-2).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ApplicationPositions(ApplicationApiView, generics.ListAPIView):
    permission_classes = [AnyStaff]
    serializer_class = s.PositionOutput
    filter_backends: list = []

    def get_queryset(self):
        return positions_for_application(application_visible_to(self.request.user, self.kwargs["reference"]))

    @extend_schema(
        operation_id="applications_positions_list",
        parameters=[REFERENCE],
        description="Per chosen home with an open queue entry: position, score and estimated wait (R-Q-4, R-Q-5).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CategoryEvidenceUpload(ApplicationApiView):
    """Evidence as a file (R-APP-8), for a claim made or about to be made in draft or submitted."""

    permission_classes = [Intake]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="applications_category_evidence_upload",
        parameters=[
            REFERENCE,
            OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH, enum=Category.values),
        ],
        request={"multipart/form-data": s.EvidenceUploadInput},
        responses={200: s.ApplicationOutput},
        description="Attach a file (PDF, JPEG or PNG, by content; at most 10 MiB) as the evidence of a category, "
        "claiming it if it was not claimed yet. Only before approval (R-CHG-1), like PATCH.",
    )
    def post(self, request, reference: str, code: str):
        if code not in Category.values:
            raise ValidationError(
                {"code": [gettext("must be one of %(codes)s") % {"codes": ", ".join(Category.values)}]}
            )
        body = self.parsed(s.EvidenceUploadInput)
        application = application_visible_to(request.user, reference)
        data = services.intake_data_of(application)
        s.evidence_attached(data, code=code, upload=body["file"], evidence=body.get("evidence"))
        application = services.application_update(
            application=application, data=data, actor=actor_of(request), expected_version=application.version
        )
        return self.answer(application)


urlpatterns = [
    path("applications/", ApplicationList.as_view(), name="application-list"),
    path("applications/<str:reference>/", ApplicationDetail.as_view(), name="application-detail"),
    *[
        path(f"applications/<str:reference>/{name}/", view, name=f"application-{name}")
        for name, view in TRANSITIONS.items()
    ],
    path("applications/<str:reference>/lookup-code/", LookupCodeIssue.as_view(), name="application-lookup-code"),
    path("applications/<str:reference>/events/", ApplicationEvents.as_view(), name="application-events"),
    path("applications/<str:reference>/positions/", ApplicationPositions.as_view(), name="application-positions"),
    path(
        "applications/<str:reference>/categories/<str:code>/evidence/",
        CategoryEvidenceUpload.as_view(),
        name="application-category-evidence",
    ),
]
