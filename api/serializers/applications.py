"""Serializers of the applications part of API.md: what intake sends, what an application looks
like, its events and its queue positions.

Input serializers check shape only (types, lengths, codes). Every rule of SPEC §3 (identity, age,
residence, choices, evidence, bars) is checked by admissions.services.applications, which names
the same dotted field paths (`applicant.id_number`, `choices.1`) the request uses.
"""

from __future__ import annotations

import json

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.utils import html

from admissions.evidence import EVIDENCE_MAX_BYTES, evidence_content_type, evidence_too_large
from admissions.models import Application, ApplicationState, Category, CategoryStatus, Channel, CoupleMode, Sex
from admissions.models.applications import Language
from admissions.selectors import policy_in_force
from admissions.services.applications import STAFF_REMOVAL_REASONS, available_transitions, stored_hukou_district
from admissions.services.couples import couples_for
from admissions.services.privacy import contact_details_visible, id_number_for
from admissions.services.reconfirmation import reconfirm_due
from admissions.services.transitions import transitions_for
from api.serializers.fields import (
    SAYS_SOMETHING,
    EmailTextField,
    PhoneField,
    ReasonField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    WrittenTextField,
)
from api.serializers.review_requests import ReviewRequestOutput
from facilities.models import CareLevel
from facilities.roles import sees_full_id_numbers


# --- input ---------------------------------------------------------------------------------------
class ApplicantInput(serializers.Serializer):
    name = WrittenTextField(max_length=100)
    id_number = StrictCharField(max_length=30, help_text="18 characters (GB 11643); the last may be X.")
    date_of_birth = serializers.DateField()
    sex = serializers.ChoiceField(choices=Sex.choices)
    phone = PhoneField(max_length=30, required=False, allow_blank=True)
    hukou_district = StrictCharField(
        max_length=40, help_text="A district code of the city, or `other` (with the contributor exemption)."
    )
    residence_district = StrictCharField(max_length=40, required=False, allow_null=True, allow_blank=True)
    address = StrictCharField(max_length=255, required=False, allow_blank=True)
    lives_alone = StrictBooleanField(required=False)
    no_spouse_no_children = StrictBooleanField(required=False)
    contributor_exemption_requested = StrictBooleanField(required=False)
    language = serializers.ChoiceField(choices=Language.choices, required=False)


class ContactInput(serializers.Serializer):
    name = StrictCharField(max_length=100, required=False, allow_blank=True)
    relation = StrictCharField(max_length=40, required=False, allow_blank=True)
    phone = PhoneField(max_length=30, required=False, allow_blank=True)
    email = EmailTextField(
        max_length=254,
        required=False,
        allow_blank=True,
        help_text="Notifications go to it by email as well as by SMS to the phone (R-OFF-6).",
    )


class DeclarationsInput(serializers.Serializer):
    no_infectious_disease = StrictBooleanField(required=False)
    no_serious_mental_disorder = StrictBooleanField(required=False)


class CategoryClaimInput(serializers.Serializer):
    code = serializers.ChoiceField(choices=Category.choices)
    evidence = StrictCharField(
        max_length=255, required=False, allow_blank=True, help_text="A reference to the evidence document."
    )


class ApplicationInput(serializers.Serializer):
    """POST /applications/ (and, every field optional, PATCH /applications/{reference}/)."""

    applicant = ApplicantInput()
    contact = ContactInput(required=False)
    declarations = DeclarationsInput(required=False)
    categories = serializers.ListField(child=CategoryClaimInput(), required=False, max_length=len(Category.values))
    choices = serializers.ListField(
        child=StrictCharField(max_length=20), required=False, max_length=10, help_text="Facility codes."
    )
    spouse_resident_in = serializers.ListField(child=StrictCharField(max_length=20), required=False, max_length=10)


class ApplicationCreateInput(ApplicationInput):
    submit = StrictBooleanField(default=True, help_text="false keeps the application a draft.")


class ApplicantPatchInput(ApplicantInput):
    """The applicant's fields, each optional: what is not sent is kept."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        # R-CHG-1: a draft may be saved without its hukou district; `submit` asks for it.
        fields["hukou_district"].allow_blank = True
        return fields


class ApplicationPatchInput(ApplicationInput):
    applicant = ApplicantPatchInput(required=False)
    version = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=2_147_483_647,
        help_text="The version you read (or send `If-Match`); a stale one gets 409.",
    )
    reason = StrictCharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Why the correction is made; required when `applicant.id_number` changes (R-CHG-1).",
    )


def intake_merged(data, changes: dict) -> None:
    """Apply the validated fields of a PATCH to the stored IntakeData `data`, in place."""
    applicant = changes.get("applicant", {})
    for field in (
        "name",
        "id_number",
        "date_of_birth",
        "sex",
        "phone",
        "hukou_district",
        "address",
        "lives_alone",
        "no_spouse_no_children",
        "contributor_exemption_requested",
        "language",
    ):
        if field in applicant:
            setattr(data, field, applicant[field])
    if "residence_district" in applicant:
        data.residence_district = applicant["residence_district"] or None
    for field, value in changes.get("contact", {}).items():
        setattr(data, f"contact_{field}", value)
    for field, value in changes.get("declarations", {}).items():
        setattr(data, field, value)
    if "categories" in changes:
        # A claim named again without new evidence keeps what it had (a reference or an uploaded file).
        stored = {claim["code"]: claim for claim in data.categories or []}
        merged = []
        for claim in changes["categories"]:
            old = stored.get(claim["code"], {})
            evidence = (claim.get("evidence") or "").strip()
            if evidence:
                merged.append({"code": claim["code"], "evidence": evidence, "evidence_file": old.get("evidence_file")})
            else:
                merged.append({**old, "code": claim["code"]})
        data.categories = merged
    if "choices" in changes:
        data.choices = list(changes["choices"])
    if "spouse_resident_in" in changes:
        data.spouse_resident_in = list(changes["spouse_resident_in"])


def evidence_attached(data, *, code: str, upload, evidence: str | None = None) -> None:
    """Make `upload` the evidence file of the claim `code` in the stored IntakeData, claiming it if needed."""
    claims = [dict(claim) for claim in data.categories or []]
    for claim in claims:
        if claim["code"] == code:
            claim["evidence_file"] = upload
            if evidence:
                claim["evidence"] = evidence
            break
    else:
        claims.append({"code": code, "evidence": evidence or "", "evidence_file": upload})
    data.categories = claims


def intake_from(validated: dict):
    """The IntakeData of a validated POST body."""
    from admissions.services.applications import IntakeData

    applicant = validated["applicant"]
    contact = validated.get("contact", {})
    declarations = validated.get("declarations", {})
    return IntakeData(
        name=applicant["name"],
        id_number=applicant["id_number"],
        date_of_birth=applicant["date_of_birth"],
        sex=applicant["sex"],
        hukou_district=applicant["hukou_district"],
        residence_district=applicant.get("residence_district") or None,
        phone=applicant.get("phone", ""),
        address=applicant.get("address", ""),
        language=applicant.get("language", "zh-hans"),
        lives_alone=applicant.get("lives_alone", False),
        no_spouse_no_children=applicant.get("no_spouse_no_children", False),
        contributor_exemption_requested=applicant.get("contributor_exemption_requested", False),
        contact_name=contact.get("name", ""),
        contact_relation=contact.get("relation", ""),
        contact_phone=contact.get("phone", ""),
        contact_email=contact.get("email", ""),
        no_infectious_disease=declarations.get("no_infectious_disease", False),
        no_serious_mental_disorder=declarations.get("no_serious_mental_disorder", False),
        categories=[dict(claim) for claim in validated.get("categories", [])],
        choices=list(validated.get("choices", [])),
        spouse_resident_in=list(validated.get("spouse_resident_in", [])),
    )


class ReasonInput(serializers.Serializer):
    reason = ReasonField()


class OptionalReasonInput(serializers.Serializer):
    reason = StrictCharField(max_length=2000, required=False, allow_blank=True)


class CategoryDecisionInput(serializers.Serializer):
    code = serializers.ChoiceField(choices=Category.choices)
    verified = StrictBooleanField()
    note = StrictCharField(max_length=2000, required=False, allow_blank=True)


class ExemptionDecisionInput(serializers.Serializer):
    granted = StrictBooleanField()
    note = ReasonField()


class ApproveInput(serializers.Serializer):
    categories = serializers.ListField(child=CategoryDecisionInput(), required=False, max_length=len(Category.values))
    exemption = ExemptionDecisionInput(required=False, allow_null=True)


class RemoveInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=[(code, code) for code in STAFF_REMOVAL_REASONS])
    note = StrictCharField(max_length=2000, required=False, allow_blank=True)


# --- output --------------------------------------------------------------------------------------
def _assessment_in_force(application: Application):
    """The assessment that gives the application its grade and care level: the one the approval
    (or a reassessment) fixed, or else this application's approved one awaiting that approval."""
    if application.current_assessment is not None:
        return application.current_assessment
    approved = [a for a in application.assessments.all() if a.state == "approved"]
    return approved[0] if approved else None


CONTACT_HIDDEN = (
    "null for a facility officer unless the application has an open entry or a live offer at their home, "
    "or lives there (R-PRIV-5)."
)


class ApplicantOutput(serializers.Serializer):
    name = serializers.CharField(source="applicant.name")
    id_number = serializers.SerializerMethodField(help_text="Masked in lists and for roles that do not check identity.")
    date_of_birth = serializers.DateField(source="applicant.date_of_birth")
    sex = serializers.ChoiceField(source="applicant.sex", choices=Sex.choices)
    hukou_district = serializers.SerializerMethodField(
        help_text="A district code, or `other`; empty in a draft saved without it (R-CHG-1)."
    )
    residence_district = serializers.CharField(source="residence_district.code", allow_null=True)
    contributor_exemption_requested = serializers.BooleanField()
    contributor_exemption_granted = serializers.BooleanField(allow_null=True)
    phone = serializers.CharField(source="applicant.phone", allow_null=True, help_text=CONTACT_HIDDEN)
    email = serializers.CharField(source="applicant.email", allow_null=True, help_text=CONTACT_HIDDEN)
    address = serializers.CharField(allow_null=True, help_text=CONTACT_HIDDEN)
    lives_alone = serializers.BooleanField()
    no_spouse_no_children = serializers.BooleanField()
    language = serializers.ChoiceField(source="applicant.language", choices=Language.choices)

    def get_id_number(self, application: Application) -> str:
        request = self.context["request"]
        if self.context.get("mask_id_numbers") or not sees_full_id_numbers(request.user):
            return application.applicant.masked_id_number
        # One application's own record: full, and recorded (R-PRIV-1).
        match = getattr(request, "resolver_match", None)
        where = match.view_name if match else "api"  # api:application-detail, …
        return id_number_for(request.user, application, where=where)

    def get_hukou_district(self, application: Application) -> str:
        return stored_hukou_district(application)


class ContactOutput(serializers.Serializer):
    name = serializers.CharField(source="contact_name", allow_null=True, help_text=CONTACT_HIDDEN)
    relation = serializers.CharField(source="contact_relation", allow_null=True, help_text=CONTACT_HIDDEN)
    phone = serializers.CharField(source="contact_phone", allow_null=True, help_text=CONTACT_HIDDEN)
    email = serializers.CharField(source="contact_email", allow_null=True, help_text=CONTACT_HIDDEN)


class DeclarationsOutput(serializers.Serializer):
    no_infectious_disease = serializers.BooleanField(source="declares_no_infectious_disease")
    no_serious_mental_disorder = serializers.BooleanField(source="declares_no_serious_mental_disorder")


class CategoryClaimOutput(serializers.Serializer):
    code = serializers.ChoiceField(choices=Category.choices)
    status = serializers.ChoiceField(choices=CategoryStatus.choices)
    evidence = serializers.CharField(help_text="The document reference given at intake.")
    evidence_file = serializers.SerializerMethodField(help_text="Whether a file was uploaded as evidence.")
    note = serializers.CharField(help_text="The reviewer's note on the decision.")

    def get_evidence_file(self, claim) -> bool:
        return bool(claim.evidence_file)


class RefusalsOutput(serializers.Serializer):
    count = serializers.IntegerField(help_text="Refusals (declines, expiries, no-shows) within the window (R-OFF-4).")
    window_days = serializers.IntegerField()


class CoupleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    partner = serializers.CharField(help_text="The partner's application reference.")
    mode = serializers.ChoiceField(choices=CoupleMode.choices)


class ApplicationOutput(serializers.Serializer):
    reference = serializers.CharField()
    state = serializers.ChoiceField(choices=ApplicationState.choices)
    version = serializers.IntegerField(help_text="Send it back as `If-Match` or `version` to PATCH safely.")
    applicant = ApplicantOutput(source="*")
    contact = ContactOutput(source="*")
    declarations = DeclarationsOutput(source="*")
    categories = serializers.SerializerMethodField()
    channel = serializers.ChoiceField(source="channel_code", choices=Channel.choices, allow_null=True)
    choices = serializers.SerializerMethodField(help_text="Facility codes, in order of preference.")
    spouse_resident_in = serializers.SerializerMethodField()
    care_level = serializers.SerializerMethodField()
    grade = serializers.SerializerMethodField()
    assessment_valid_until = serializers.SerializerMethodField()
    queued_at = serializers.DateTimeField(allow_null=True)
    refusals = serializers.SerializerMethodField()
    barred_until = serializers.DateField(source="applicant.barred_until", allow_null=True)
    available_transitions = serializers.SerializerMethodField(help_text="The transitions you may take now (URL names).")
    reconfirm_due = serializers.SerializerMethodField(
        help_text="R-CHG-3: while the family is asked to confirm they still want to wait, the day by which "
        "they must (past once suspended `not_reconfirmed`); otherwise, while waiting, the day of the next ask; "
        "else null."
    )
    review_requests = serializers.SerializerMethodField(
        help_text="Re-reviews of its assessments, newest first (R-ASM-6)."
    )
    couple = serializers.SerializerMethodField(help_text="The live couple this application is in (R-CPL-1), or null.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(CategoryClaimOutput(many=True))
    def get_categories(self, application: Application):
        return CategoryClaimOutput(application.category_claims.all(), many=True, context=self.context).data

    def get_choices(self, application: Application) -> list[str]:
        return [choice.facility.code for choice in application.choices.all()]

    def get_spouse_resident_in(self, application: Application) -> list[str]:
        return [choice.facility.code for choice in application.choices.all() if choice.spouse_resident]

    @extend_schema_field(serializers.ChoiceField(choices=CareLevel.choices, allow_null=True))
    def get_care_level(self, application: Application):
        # R-POL-1: the level under the policy in force, kept on the application once approved.
        if application.care_level:
            return application.care_level
        assessment = _assessment_in_force(application)
        return assessment.care_level if assessment else None

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=0, max_value=4))
    def get_grade(self, application: Application):
        assessment = _assessment_in_force(application)
        return assessment.grade if assessment else None

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_assessment_valid_until(self, application: Application):
        assessment = _assessment_in_force(application)
        return assessment.valid_until.isoformat() if assessment and assessment.valid_until else None

    @extend_schema_field(RefusalsOutput)
    def get_refusals(self, application: Application):
        if "_policy" not in self.context:
            self.context["_policy"] = policy_in_force()
        return {
            # Annotated by the views (`with_refusals_in_window`): one query for a whole list page.
            "count": application.refusals_in_window,
            "window_days": self.context["_policy"].parameters.refusal_window_days,
        }

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_reconfirm_due(self, application: Application):
        if "_policy" not in self.context:
            self.context["_policy"] = policy_in_force()
        due = reconfirm_due(application, self.context["_policy"].parameters)
        return due.isoformat() if due else None

    @extend_schema_field(ReviewRequestOutput(many=True))
    def get_review_requests(self, application: Application):
        # Prefetched newest first by applications_visible_to (one query for a whole list page).
        return ReviewRequestOutput(application.review_requests.all(), many=True).data

    @extend_schema_field(CoupleOutput(allow_null=True))
    def get_couple(self, application: Application):
        # One read for a whole list page: the couples of every application on it (R-CPL-3).
        cache = self.context.get("_couples")
        if cache is None or application.pk not in cache["ids"]:
            parent = getattr(self, "parent", None)
            items = list(parent.instance) if parent is not None and parent.instance is not None else [application]
            ids = {a.pk for a in items} | {application.pk}
            cache = self.context["_couples"] = {"ids": ids, "couples": couples_for(ids)}
        return cache["couples"].get(application.pk)

    def get_available_transitions(self, application: Application) -> list[str]:
        return transitions_for(self.context["request"].user, available_transitions(application))

    def to_representation(self, application: Application):
        data = super().to_representation(application)
        if not contact_details_visible(self.context["request"].user, application):  # R-PRIV-5
            data["applicant"]["phone"] = data["applicant"]["address"] = data["applicant"]["email"] = None
            data["contact"] = dict.fromkeys(data["contact"])
        return data


# POST /applications/ answers the application plus its lookup code. Described as an extension of
# the Application component (allOf) rather than a second serializer, so the state enum keeps one home.
REPLAY_PROPERTIES = {
    "lookup_code_shown": {
        "type": "boolean",
        "description": "Only in a replay (the same Idempotency-Key): false, the code is not shown again (R-SEC-3).",
    },
    "lookup_code_detail": {
        "type": "string",
        "description": "Only in a replay: says that the code is shown only once and how to get a new one.",
    },
}
APPLICATION_CREATED_SCHEMA = {
    "allOf": [
        {"$ref": "#/components/schemas/ApplicationOutput"},
        {
            "type": "object",
            "properties": {
                "lookup_code": {
                    "type": "string",
                    "description": "For the family's public lookup; shown in this answer only (R-PUB-1): a replay "
                    "with the same Idempotency-Key has `lookup_code_shown: false` instead (R-SEC-3).",
                },
                **REPLAY_PROPERTIES,
            },
        },
    ]
}


class LookupCodeOutput(serializers.Serializer):
    lookup_code = serializers.CharField(
        required=False,
        help_text="A new code; the old one stops working. Not in a replay with the same Idempotency-Key (R-SEC-3).",
    )
    reference = serializers.CharField(required=False, help_text="Only in a replay: the application.")
    lookup_code_shown = serializers.BooleanField(
        required=False, help_text=REPLAY_PROPERTIES["lookup_code_shown"]["description"]
    )
    lookup_code_detail = serializers.CharField(
        required=False, help_text=REPLAY_PROPERTIES["lookup_code_detail"]["description"]
    )


class EventActorOutput(serializers.Serializer):
    kind = serializers.ChoiceField(source="actor_kind", choices=["user", "client", "system", "family"])
    name = serializers.CharField(source="actor_name")


class ApplicationEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    application = serializers.CharField(source="application.reference")
    transition = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    actor = EventActorOutput(source="*")
    at = serializers.DateTimeField()
    reason = serializers.SerializerMethodField()
    data = serializers.DictField(help_text="What the transition used (free-form, per transition).")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_reason(self, event) -> str | None:
        return event.reason or None


class ScoreBreakdownOutput(serializers.Serializer):
    care = serializers.IntegerField()
    age = serializers.IntegerField()
    family = serializers.IntegerField()
    waiting = serializers.IntegerField()


class EstimatedWaitOutput(serializers.Serializer):
    months_low = serializers.IntegerField()
    months_high = serializers.IntegerField()


class PositionOutput(serializers.Serializer):
    facility = serializers.CharField(source="entry.facility.code")
    position = serializers.IntegerField()
    ahead_same_care_level = serializers.IntegerField()
    ahead_on_hold = serializers.IntegerField()
    score = serializers.IntegerField()
    score_breakdown = ScoreBreakdownOutput()
    estimated_wait = EstimatedWaitOutput(allow_null=True)
    care_level = serializers.ChoiceField(source="entry.care_level", choices=CareLevel.choices)
    queued_at = serializers.DateTimeField(source="entry.queued_at")


class EvidenceTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = f"The evidence file is larger than {EVIDENCE_MAX_BYTES // (1024 * 1024)} MiB."


# In a multipart form every part is text, so a client's null arrives as the text "null" (and
# JavaScript's undefined as "undefined": `FormData.append("evidence", null)` sends exactly that), a
# number as its digits, true as "true", and DRF takes an empty part for a field left out. Taken as
# text, "null" became the claim's document reference. A reference is text that says something, as the
# schema says, so a part that spells a JSON value other than a string (null, true, false, a number,
# an object, a list) or undefined is refused; a client with no reference leaves the part out (issue
# 16; schemathesis sent 5.026058916977876e+166 for a string, ST201).
FORM_UNDEFINED = "undefined"


def spells_a_value_not_text(text: str) -> bool:
    """Whether a form part's text is the form spelling of a value that is not text."""
    if text.strip() == FORM_UNDEFINED:
        return True
    try:
        value = json.loads(text)
    except ValueError:  # (no RecursionError: _LimitAsSent has already kept the part to 255 characters)
        return False
    return not isinstance(value, str)


# The document says only "says something": a look-ahead pattern for "not null" was misread by
# schemathesis (it took matching strings for breaking ones, ST201), and JSON Schema's `not` beside a
# file part stopped its coverage phase (a runtime error). The field's description names the two
# refused spellings, and the API answers them 400, which the fuzzer accepts for valid-looking data.
@extend_schema_field({"type": "string", "maxLength": 255, "pattern": SAYS_SOMETHING.regex.pattern})
class FormReferenceField(StrictCharField):
    """A document reference sent as a form part: text, never empty nor the form spelling of a null."""

    default_error_messages = {
        "form_repeated": _("must be given once: one document reference, not a list"),
        "form_null": _(
            "must be a document reference written as text, not null, true, false or a number alone; "
            "leave the field out when there is none"
        ),
    }

    def get_value(self, dictionary):
        if html.is_html_input(dictionary):
            # A list sent as a form repeats the part: DRF would keep one of them silently (ST201).
            parts = dictionary.getlist(self.field_name)
            if len(parts) > 1:
                return parts
            # DRF would take the empty part for one left out; kept, it is refused as blank.
            if dictionary.get(self.field_name) == "":
                return ""
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if isinstance(data, list):
            self.fail("form_repeated")
        if isinstance(data, str) and spells_a_value_not_text(data):
            self.fail("form_null")
        return super().to_internal_value(data)


class EvidenceUploadInput(serializers.Serializer):
    """POST /applications/{reference}/categories/{code}/evidence/: one file, PDF, JPEG or PNG."""

    file = serializers.FileField(help_text="PDF, JPEG or PNG, at most 10 MiB.", max_length=200)
    evidence = FormReferenceField(
        max_length=255,
        required=False,
        help_text="A document reference to keep beside the file (R-APP-8), e.g. 最低生活保障证 穗民低字第202400123号. "
        "Leave it out when there is none: the text `null` or `undefined`, and any other spelling of a value that "
        "is not text (`true`, `false`, a number alone, a JSON object or list), is refused (400).",
    )

    def validate_file(self, upload):
        # The rule is admissions.evidence's, the same the staff intake form applies.
        if evidence_too_large(upload):
            raise EvidenceTooLarge()
        if evidence_content_type(upload) is None:
            raise serializers.ValidationError("must be a PDF, JPEG or PNG file (checked on its content)")
        return upload
