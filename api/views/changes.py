"""API views: changes after approval (API.md "Life while waiting", SPEC §12 R-CHG-2). Thin: parse,
call one service of admissions/services/changes.py, answer the application as it is now; a change
that moves the queue answers its new `positions` too (score and position at each chosen home).

Every change takes the version read (`If-Match` or `version` in the body): a stale one gets 409.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from admissions.models import Category
from admissions.selectors import positions_for_application
from admissions.services import changes as services
from admissions.visibility import application_visible_to
from api import examples
from api.permissions import role_permission
from api.serializers import applications as app_s
from api.serializers import changes as s
from facilities.models import Role

from .applications import IF_MATCH, REFERENCE, ApplicationApiView, _expected_version, actor_of

Intake = role_permission(Role.INTAKE)
Reviewer = role_permission(Role.REVIEWER)
CODE = OpenApiParameter(
    "code", OpenApiTypes.STR, OpenApiParameter.PATH, enum=Category.values, description="A category, e.g. dibao"
)

WITH_POSITIONS = {
    "allOf": [
        {"$ref": "#/components/schemas/ApplicationOutput"},
        {
            "type": "object",
            "properties": {
                "positions": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/PositionOutput"},
                    "description": "Score and position at each chosen home after the change (R-Q-3, R-Q-4).",
                }
            },
        },
    ]
}
REFUSALS = "400 a malformed body; 409 the wrong state, a live offer or a stale version; 422 a broken rule of §3."


class ChangeView(ApplicationApiView):
    """One change: `body` parsed, `act` called with the application, the actor and the version."""

    body: type = s.ContactChangeInput
    with_positions = False

    def act(self, application, body: dict, **kwargs):  # pragma: no cover - each view defines it
        raise NotImplementedError

    def post(self, request, reference: str, **kwargs):
        body = self.parsed(self.body)
        application = application_visible_to(request.user, reference)
        application = self.act(
            application,
            body,
            actor=actor_of(request),
            expected_version=_expected_version(request, body),
            **kwargs,
        )
        if not self.with_positions:
            return self.answer(application)
        positions = app_s.PositionOutput(positions_for_application(application), many=True).data
        return self.answer(application, positions=positions)


def _schema(operation: str, body, description: str, *, positions: bool = False, code: bool = False, example=()):
    response = (
        OpenApiResponse(response=WITH_POSITIONS, description="The application, with its new positions.")
        if positions
        else app_s.ApplicationOutput
    )
    return extend_schema(
        operation_id=operation,
        parameters=[REFERENCE, *([CODE] if code else []), IF_MATCH],
        request=body,
        examples=list(example),
        responses={200: response},
        description=f"{description} {REFUSALS}",
    )


class ContactChange(ChangeView):
    permission_classes = [Intake]
    body = s.ContactChangeInput

    @_schema(
        "applications_contact",
        s.ContactChangeInput,
        "R-CHG-2: the applicant's phone, email, address, language and the contact person, at any time "
        "before a final state (offers included); no effect on the queue.",
        example=examples.CONTACT,
    )
    def post(self, request, reference: str):
        return super().post(request, reference)

    def act(self, application, body, **kwargs):
        changes = {f"applicant.{k}": v for k, v in (body.get("applicant") or {}).items()}
        changes |= {f"contact.{k}": v for k, v in (body.get("contact") or {}).items()}
        return services.application_contact_change(
            application=application, changes=changes, reason=body.get("reason", ""), **kwargs
        )


class PersonalDetailsChange(ChangeView):
    permission_classes = [Reviewer]
    body = s.PersonalDetailsChangeInput
    with_positions = True

    @_schema(
        "applications_personal_details",
        s.PersonalDetailsChangeInput,
        "R-CHG-2: name, ID number, birth date, sex, by a reviewer with a reason after approval; the ID number, "
        "age and one-open-application rules are checked again (409 naming the open application).",
        positions=True,
        example=examples.PERSONAL_DETAILS,
    )
    def post(self, request, reference: str):
        return super().post(request, reference)

    def act(self, application, body, **kwargs):
        return services.application_personal_details_change(
            application=application, changes=dict(body["applicant"]), reason=body.get("reason", ""), **kwargs
        )


class DistrictsChange(ChangeView):
    permission_classes = [Intake]
    body = s.DistrictsChangeInput
    with_positions = True

    @_schema(
        "applications_districts",
        s.DistrictsChangeInput,
        "R-CHG-2: hukou or residence district, by intake with a reason, while queued with no live offer. Choices "
        "the new district no longer allows are listed in a 422 (`dropped_choices`, errors `choices.N`) unless "
        "`confirm_dropped_choices` is true; then they are dropped.",
        positions=True,
    )
    def post(self, request, reference: str):
        return super().post(request, reference)

    def act(self, application, body, **kwargs):
        return services.application_districts_change(
            application=application,
            hukou_district=body.get("hukou_district"),
            residence_district=body.get("residence_district"),
            reason=body.get("reason", ""),
            confirm_dropped_choices=body.get("confirm_dropped_choices", False),
            **kwargs,
        )


class FamilySituationChange(ChangeView):
    permission_classes = [Intake]
    body = s.FamilySituationChangeInput
    with_positions = True

    @_schema(
        "applications_family_situation",
        s.FamilySituationChangeInput,
        "R-CHG-2: lives alone, no spouse and no children, spouse resident per chosen home; by intake with a "
        "reason while queued with no live offer. Every open entry is rescored at once, `queued_at` kept.",
        positions=True,
        example=examples.FAMILY_SITUATION,
    )
    def post(self, request, reference: str):
        return super().post(request, reference)

    def act(self, application, body, **kwargs):
        return services.application_family_situation_change(
            application=application,
            lives_alone=body["lives_alone"],
            no_spouse_no_children=body["no_spouse_no_children"],
            spouse_resident_in=body["spouse_resident_in"],
            reason=body.get("reason", ""),
            **kwargs,
        )


class CategoryClaim(ChangeView):
    permission_classes = [Intake]
    body = s.NewCategoryClaimInput

    @_schema(
        "applications_categories_claim",
        s.NewCategoryClaimInput,
        "R-CHG-2: a new category claimed with evidence while queued; it counts once a reviewer verifies it.",
        example=examples.CATEGORY_CLAIM,
    )
    def post(self, request, reference: str):
        return super().post(request, reference)

    def act(self, application, body, **kwargs):
        return services.application_category_claim(
            application=application, code=body["code"], evidence=body.get("evidence", ""), **kwargs
        )


class CategoryVerify(ChangeView):
    permission_classes = [Reviewer]
    body = s.CategoryVerifyInput
    with_positions = True

    @_schema(
        "applications_categories_verify",
        s.CategoryVerifyInput,
        "R-CHG-2: a reviewer verifies or refuses a claim made while queued; the channel is recomputed, "
        "`queued_at` kept.",
        positions=True,
        code=True,
        example=examples.CATEGORY_VERIFY,
    )
    def post(self, request, reference: str, code: str):
        return super().post(request, reference, code=code)

    def act(self, application, body, *, code, **kwargs):
        return services.application_category_verify(
            application=application, code=code, verified=body["verified"], note=body.get("note", ""), **kwargs
        )


class CategoryEnd(ChangeView):
    permission_classes = [Reviewer]
    body = s.CategoryEndInput
    with_positions = True

    @_schema(
        "applications_categories_end",
        s.CategoryEndInput,
        "R-CHG-2: a reviewer records, with a reason, that a verified category has ended; the channel is "
        "recomputed, `queued_at` kept.",
        positions=True,
        code=True,
        example=examples.CATEGORY_END,
    )
    def post(self, request, reference: str, code: str):
        return super().post(request, reference, code=code)

    def act(self, application, body, *, code, **kwargs):
        return services.application_category_end(
            application=application, code=code, reason=body.get("reason", ""), **kwargs
        )


class ChoicesChange(ChangeView):
    permission_classes = [Reviewer]
    body = s.ChoicesChangeInput
    with_positions = True

    @_schema(
        "applications_choices",
        s.ChoicesChangeInput,
        "R-CHG-2: the new ordered list of homes, by a reviewer with a reason while queued, within the choice "
        "rules. A kept home keeps its entry and `queued_at`; a dropped one's entry closes `choice_dropped`; a new "
        "one is queued from now; a new home with a vacant bed allocates at once.",
        positions=True,
    )
    def post(self, request, reference: str):
        return super().post(request, reference)

    def act(self, application, body, **kwargs):
        return services.application_choices_change(
            application=application, choices=body["choices"], reason=body.get("reason", ""), **kwargs
        )


urlpatterns = [
    path("applications/<str:reference>/contact/", ContactChange.as_view(), name="application-contact"),
    path(
        "applications/<str:reference>/personal-details/",
        PersonalDetailsChange.as_view(),
        name="application-personal-details",
    ),
    path("applications/<str:reference>/districts/", DistrictsChange.as_view(), name="application-districts"),
    path(
        "applications/<str:reference>/family-situation/",
        FamilySituationChange.as_view(),
        name="application-family-situation",
    ),
    path("applications/<str:reference>/categories/", CategoryClaim.as_view(), name="application-categories"),
    path(
        "applications/<str:reference>/categories/<str:code>/verify/",
        CategoryVerify.as_view(),
        name="application-category-verify",
    ),
    path(
        "applications/<str:reference>/categories/<str:code>/end/",
        CategoryEnd.as_view(),
        name="application-category-end",
    ),
    path("applications/<str:reference>/choices/", ChoicesChange.as_view(), name="application-choices"),
]
