"""Applying (SPEC §3) and the staff transitions of the application lifecycle (§5).

Each public function is one act: it runs in one transaction, locks what it changes, checks its
rules, changes the data, appends the event (R-FSM-2) and schedules what follows. On any error it
raises before anything is kept (R-FSM-3).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from admissions.identity import (
    age_on,
    birth_date_from_id_number,
    id_number_errors,
    normalise_id_number,
    sex_from_id_number,
)
from admissions.models import (
    FINAL_STATES,
    Applicant,
    Application,
    ApplicationState,
    Category,
    CategoryClaim,
    CategoryStatus,
    FacilityChoice,
    ReferenceCounter,
)
from admissions.models.applications import DuplicateDecision, DuplicateMatch, DuplicateReview
from admissions.policy import PolicyInForce
from admissions.selectors import get_application, policy_in_force
from admissions.services.privacy import applicant_for_id_number, applicant_identify_again
from assessments.models import Assessment, AssessmentState
from core.actor import Actor
from core.dates import shown_date
from core.errors import Conflict, DomainError, InvalidInput, NotPermitted, RuleViolation, WrongState
from core.phones import PHONE_RULE, InvalidPhone, normalise_phone
from facilities.models import District, Facility, FacilityLevel

from .allocation import allocation_run_for_application
from .closing import (
    application_removal_apply,
    application_remove_for_refusals,
    application_withdraw_apply,
)
from .events import event_record
from .locks import lock_application, lock_application_with_facilities, lock_facilities
from .queue import entries_open_or_refresh
from .reconfirmation import reconfirmation_record_on_resume
from .transitions import (
    CORRECTION_ROLES_BY_STATE,
    available_transitions,
    may_correct,
    reason_required,
    transition_apply,
    transition_guard,
)

S = ApplicationState
LOOKUP_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # R-PUB-1: no 0, O, 1, I
LOOKUP_CODE_LENGTH = 6
CONTACT_EMAIL_MAX_LENGTH = Application._meta.get_field("contact_email").max_length


# --- helpers shared by the transitions ------------------------------------------------------------
# Taking an edge, the table of roles, the reasons: admissions/services/transitions.py.


# --- lookup codes (R-PUB-1, R-SEC-8) ------------------------------------------------------------
def lookup_code_keys() -> list[str]:
    """The keys lookup codes are hashed with, newest first (R-SEC-8): `LOOKUP_CODE_KEYS`, then the
    current SECRET_KEY as the oldest unless it is listed. Codes issued before this upgrade were
    hashed with SECRET_KEY, so they keep working, and each is re-hashed under the newest key on its
    next successful lookup; codes hashed under a key of `LOOKUP_CODE_KEYS` do not depend on
    SECRET_KEY, so rotating it breaks none of them."""
    keys = [key for key in settings.LOOKUP_CODE_KEYS if key]
    if settings.SECRET_KEY not in keys:
        keys.append(settings.SECRET_KEY)
    return keys


def lookup_code_hash(reference: str, code: str, *, key: str | None = None) -> str:
    """HMAC-SHA256 of the reference and the code, under `key` (default: the newest key)."""
    message = f"{reference}:{code.strip().upper()}".encode()
    return hmac.new((key if key is not None else lookup_code_keys()[0]).encode(), message, hashlib.sha256).hexdigest()


def lookup_code_matching_key(expected: str, reference: str, code: str) -> int | None:
    """The index (0: newest) of the key under which `code` hashes to `expected`, or None. Every
    key is tried and compared in constant time whatever matches, so the work is always the same."""
    found = None
    for index, key in enumerate(lookup_code_keys()):
        if hmac.compare_digest(expected, lookup_code_hash(reference, code, key=key)) and found is None:
            found = index
    return found


def lookup_code_matches(application: Application, code: str) -> bool:
    return bool(application.lookup_code_hash) and (
        lookup_code_matching_key(application.lookup_code_hash, application.reference, code) is not None
    )


def lookup_code_rehash(application: Application, code: str) -> None:
    """R-SEC-8: a code that matched under an older key is stored again under the newest. Only if
    the stored hash is still the one that matched (a new code issued meanwhile is kept); no event
    and no new version, since nothing the staff see has changed."""
    old = application.lookup_code_hash
    new = lookup_code_hash(application.reference, code)
    if new != old:
        Application.objects.filter(pk=application.pk, lookup_code_hash=old).update(lookup_code_hash=new)
        application.lookup_code_hash = new


def _new_lookup_code(application: Application) -> str:
    code = "".join(secrets.choice(LOOKUP_CODE_ALPHABET) for _ in range(LOOKUP_CODE_LENGTH))
    application.lookup_code_hash = lookup_code_hash(application.reference, code)
    application.lookup_code_issued_at = timezone.now()
    return code


def lookup_code_issue(*, application: Application, actor: Actor) -> str:
    """A new lookup code; the old one stops working at once. Returned once, never stored."""
    with transaction.atomic():
        application = lock_application(application)
        if application.is_final:
            raise WrongState(
                gettext("Finished applications get no new lookup code."),
                current_state=application.state,
                available_transitions=[],
            )
        code = _new_lookup_code(application)
        application.version += 1
        application.save(update_fields=["lookup_code_hash", "lookup_code_issued_at", "version", "updated_at"])
        event_record(
            application=application, transition="lookup_code_issued", from_state=application.state, actor=actor
        )
    return code


# --- intake --------------------------------------------------------------------------------------
@dataclass
class IntakeData:
    """What intake records (API.md POST /applications/), already parsed into Python types."""

    name: str
    id_number: str
    date_of_birth: dt.date
    sex: str
    hukou_district: str  # a district code or "other"
    residence_district: str | None = None
    phone: str = ""
    address: str = ""
    language: str = "zh-hans"
    lives_alone: bool = False
    no_spouse_no_children: bool = False
    contributor_exemption_requested: bool = False
    contact_name: str = ""
    contact_relation: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    no_infectious_disease: bool = False
    no_serious_mental_disorder: bool = False
    categories: list[dict] | None = None  # [{"code", "evidence"?, "evidence_file"?}]
    choices: list[str] | None = None  # facility codes in order of preference
    spouse_resident_in: list[str] | None = None


def _districts(data: IntakeData, *, for_submission: bool = True):
    """The hukou and residence districts, then format errors (unknown codes, 400) and rule errors
    (the contributor exemption, 422). A draft may leave the hukou district out (R-CHG-1)."""
    errors: dict[str, list[str]] = {}  # format
    rule_errors: dict[str, list[str]] = {}
    codes = {data.hukou_district, data.residence_district} - {None, "", "other"}
    known = {d.code: d for d in District.objects.filter(code__in=codes)}
    hukou = None
    if not data.hukou_district:
        if for_submission:
            errors["applicant.hukou_district"] = [gettext("is required: a district of the city, or 'other'")]
    elif data.hukou_district != "other":
        hukou = known.get(data.hukou_district)
        if hukou is None:
            errors["applicant.hukou_district"] = [gettext("is not a district of the city, nor 'other'")]
    residence = None
    if data.residence_district:
        residence = known.get(data.residence_district)
        if residence is None:
            errors["applicant.residence_district"] = [gettext("is not a district of the city")]
    if data.hukou_district == "other":
        if not data.contributor_exemption_requested:
            rule_errors["applicant.hukou_district"] = [
                gettext("an outside hukou needs the contributor exemption requested at intake")
            ]
        elif residence is None and "applicant.residence_district" not in errors:
            rule_errors["applicant.residence_district"] = [
                gettext("is required under the contributor exemption: it stands in for the hukou district")
            ]
    return hukou, residence, errors, rule_errors


def _facilities(data: IntakeData) -> tuple[list[Facility], dict[str, list[str]]]:
    codes = list(data.choices or [])
    known = {f.code: f for f in Facility.objects.filter(code__in=codes).select_related("district")}
    errors: dict[str, list[str]] = {}
    facilities = []
    for index, code in enumerate(codes):
        facility = known.get(code)
        if facility is None:
            errors[f"choices.{index}"] = [gettext("no facility has the code %(code)s") % {"code": repr(str(code)[:20])}]
        else:
            facilities.append(facility)
    for code in data.spouse_resident_in or []:
        if code not in codes:
            errors["spouse_resident_in"] = [gettext("must name only facilities among the choices")]
    return facilities, errors


def choice_district(hukou: District | None, residence: District | None) -> District | None:
    """R-APP-7 read with R-APP-3: the district whose district-level homes the applicant may choose,
    the hukou district, or for a hukou outside the city (None) the residence district that stands in
    for it. The intake form lists the homes of this district (selectors.homes_to_choose)."""
    return hukou if hukou is not None else residence


def _choice_rule_errors(
    facilities: list[Facility], *, district_id: int | None, params, accepting_checked_for: set[int] | None = None
) -> dict[str, list[str]]:
    """R-APP-7. `accepting_checked_for`: the facilities whose "accepting applications" is checked
    (all when None; after approval only the homes added, R-CHG-2)."""
    errors: dict[str, list[str]] = {}
    if not 1 <= len(facilities) <= params.max_choices:
        errors["choices"] = [
            ngettext(
                "choose exactly %(max)s facility",
                "choose 1 to %(max)s facilities",
                params.max_choices,
            )
            % {"max": params.max_choices}
        ]
        return errors
    seen: set[int] = set()
    city_level = 0
    for index, facility in enumerate(facilities):
        key = f"choices.{index}"
        if facility.pk in seen:
            errors[key] = [gettext("is chosen twice; choices must be distinct")]
            continue
        seen.add(facility.pk)
        if facility.level == FacilityLevel.CITY:
            city_level += 1
            if city_level > params.max_city_level_choices:
                errors[key] = [
                    ngettext(
                        "at most %(max)s city-level choice is allowed",
                        "at most %(max)s city-level choices are allowed",
                        params.max_city_level_choices,
                    )
                    % {"max": params.max_city_level_choices}
                ]
                continue
        elif facility.district_id != district_id:
            errors[key] = [gettext("a district-level home must be in the applicant's own district")]
            continue
        if not facility.accepting_applications and (
            accepting_checked_for is None or facility.pk in accepting_checked_for
        ):
            errors[key] = [gettext("this home is not accepting applications")]
    return errors


def _category_errors(categories: list[dict]) -> dict[str, list[str]]:
    """R-APP-8: known codes, each once, each with evidence."""
    errors: dict[str, list[str]] = {}
    seen = set()
    for index, claim in enumerate(categories):
        code = claim.get("code")
        if code not in Category.values:
            errors[f"categories.{index}.code"] = [
                gettext("is not a category: %(codes)s") % {"codes": ", ".join(Category.values)}
            ]
        elif code in seen:
            errors[f"categories.{index}.code"] = [gettext("is claimed twice")]
        seen.add(code)
        if not (str(claim.get("evidence") or "").strip() or claim.get("evidence_file")):
            errors[f"categories.{index}.evidence"] = [
                gettext("each category needs evidence: a document reference or a file")
            ]
    return errors


def _intake_errors(data: IntakeData, *, for_submission: bool, on: dt.date, policy: PolicyInForce):
    """Every check of R-APP-1…8 at once, so the officer sees all problems together. Format errors
    (400) are returned separately from rule errors (422)."""
    params = policy.parameters
    format_errors: dict[str, list[str]] = {}
    rule_errors: dict[str, list[str]] = {}
    # The ID number holds the birth date and sex (R-APP-1): a draft saved with only a name and an ID
    # number (R-CHG-1) takes them from it. A submission must still say the sex.
    if not id_number_errors(data.id_number or "", date_of_birth=None, sex=None):
        data.date_of_birth = data.date_of_birth or birth_date_from_id_number(data.id_number)
        if not for_submission:
            data.sex = data.sex or sex_from_id_number(data.id_number)
    if not (data.name or "").strip():
        format_errors["applicant.name"] = [gettext("is required")]
    if data.sex not in ("F", "M"):
        format_errors["applicant.sex"] = [gettext("must be F or M")]
    format_errors.update(
        id_number_errors(
            data.id_number, date_of_birth=data.date_of_birth, sex=data.sex if data.sex in ("F", "M") else None
        )
    )
    hukou, residence, district_format_errors, district_rule_errors = _districts(data, for_submission=for_submission)
    format_errors.update(district_format_errors)
    rule_errors.update(district_rule_errors)
    facilities, facility_errors = _facilities(data)
    format_errors.update(facility_errors)
    format_errors.update(_category_errors(data.categories or []))
    format_errors.update(_contact_email_errors(data.contact_email))
    # R-SEC-9: validated and kept in one normal form (core/phones.py).
    for attribute, path in (("phone", "applicant.phone"), ("contact_phone", "contact.phone")):
        try:
            setattr(data, attribute, normalise_phone(getattr(data, attribute)))
        except InvalidPhone:
            format_errors[path] = [str(PHONE_RULE)]
    if for_submission:
        if data.date_of_birth:
            rule_errors.update(_min_age_errors(data.date_of_birth, on=on, params=params))
        if not data.no_infectious_disease:
            rule_errors["declarations.no_infectious_disease"] = [gettext("must be declared to submit")]
        if not data.no_serious_mental_disorder:
            rule_errors["declarations.no_serious_mental_disorder"] = [gettext("must be declared to submit")]
        if not facility_errors:
            district = choice_district(hukou, residence)
            district_id = district.pk if district else None
            rule_errors.update(_choice_rule_errors(facilities, district_id=district_id, params=params))
    return hukou, residence, facilities, format_errors, rule_errors


def _contact_email_errors(email: str) -> dict[str, list[str]]:
    """The contact's email address is optional; when given, notifications go to it (R-OFF-6), so it
    must be one a mail server accepts."""
    email = (email or "").strip()
    if not email:
        return {}
    try:
        validate_email(email)
    except ValidationError:
        return {"contact.email": [gettext("must be an email address such as name@example.com")]}
    if len(email) > CONTACT_EMAIL_MAX_LENGTH:
        return {"contact.email": [gettext("must be at most %(max)s characters") % {"max": CONTACT_EMAIL_MAX_LENGTH}]}
    return {}


def _raise_intake_errors(format_errors, rule_errors) -> None:
    if format_errors:
        raise InvalidInput(gettext("Some fields are not valid."), errors={**format_errors, **rule_errors})
    if rule_errors:
        raise RuleViolation(gettext("The application does not meet the rules."), errors=rule_errors)


def _check_bar_and_open(applicant: Applicant | None, *, on: dt.date, exclude_pk: int | None = None) -> None:
    if applicant is None:
        return
    if applicant.barred_until and applicant.barred_until > on:
        until = shown_date(applicant.barred_until)  # in words, as every date (issue 15); ISO in `extra`
        raise RuleViolation(
            gettext("This person may not apply until %(date)s.") % {"date": until},
            errors={"applicant.id_number": [gettext("barred until %(date)s") % {"date": until}]},
            extra={"barred_until": applicant.barred_until.isoformat()},
            rule="R-APP-6",
        )
    open_one = applicant.applications.exclude(state__in=FINAL_STATES).exclude(pk=exclude_pk).first()
    if open_one is not None:
        raise Conflict(
            gettext("This person already has an open application, %(reference)s.") % {"reference": open_one.reference},
            errors={
                "applicant.id_number": [
                    gettext("already has the open application %(reference)s") % {"reference": open_one.reference}
                ]
            },
            extra={"open_application": open_one.reference},
            rule="R-APP-5",
        )


def _min_age_errors(date_of_birth: dt.date, *, on: dt.date, params) -> dict[str, list[str]]:
    """R-APP-2, the one comparison: at least `min_age` on the application date. Submit, a correction
    of the birth date and the live check (which also says the age) all ask here."""
    if age_on(date_of_birth, on) >= params.min_age:
        return {}
    return {
        "applicant.date_of_birth": [
            gettext("the applicant must be at least %(min_age)s on the application date") % {"min_age": params.min_age}
        ]
    }


def identity_live_problems(id_number: str, *, on: dt.date, exclude_pk: int | None = None) -> list[str]:
    """What submitting would refuse about this person, for the live check as the officer types a
    valid ID number: under the minimum age (R-APP-2), barred (R-APP-6), an open application
    (R-APP-5). Reads only; the same checks as submit, so the two never disagree."""
    problems = []
    params = policy_in_force(on).parameters
    born = birth_date_from_id_number(id_number)
    if _min_age_errors(born, on=on, params=params):
        problems.append(
            gettext("The applicant is %(age)s: applicants must be at least %(min_age)s on the application date.")
            % {"age": age_on(born, on), "min_age": params.min_age}
        )
    try:
        _check_bar_and_open(applicant_for_id_number(id_number), on=on, exclude_pk=exclude_pk)
    except DomainError as refused:
        problems.append(refused.message)
    return problems


def _next_reference(year: int) -> str:
    counter, _ = ReferenceCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{year}-{counter.last:06d}"


def _write_intake(application: Application, data: IntakeData, *, hukou, residence, facilities) -> None:
    application.hukou_district = hukou
    application.residence_district = residence
    application.address = data.address
    application.lives_alone = data.lives_alone
    application.no_spouse_no_children = data.no_spouse_no_children
    application.contributor_exemption_requested = data.contributor_exemption_requested
    application.contact_name = data.contact_name
    application.contact_relation = data.contact_relation
    application.contact_phone = data.contact_phone
    application.contact_email = data.contact_email.strip()
    application.declares_no_infectious_disease = data.no_infectious_disease
    application.declares_no_serious_mental_disorder = data.no_serious_mental_disorder
    application.save()
    # Choices and claims are replaced as a whole: intake edits happen before anything refers to them.
    application.choices.all().delete()
    spouse_in = set(data.spouse_resident_in or [])
    FacilityChoice.objects.bulk_create(
        FacilityChoice(application=application, facility=f, rank=i + 1, spouse_resident=f.code in spouse_in)
        for i, f in enumerate(facilities)
    )
    application.category_claims.all().delete()
    for claim in data.categories or []:
        CategoryClaim.objects.create(
            application=application,
            code=claim["code"],
            evidence=str(claim.get("evidence") or "").strip(),
            evidence_file=claim.get("evidence_file") or "",
        )


def application_create(*, data: IntakeData, submit: bool, actor: Actor, via: str = "web") -> tuple[Application, str]:
    """Register an application (draft, or submitted at once). Returns it and its lookup code,
    which is shown this once and stored only as a hash (R-PUB-1)."""
    now = timezone.now()
    today = timezone.localdate(now)
    policy = policy_in_force(today)
    data.id_number = normalise_id_number(data.id_number)
    hukou, residence, facilities, format_errors, rule_errors = _intake_errors(
        data, for_submission=submit, on=today, policy=policy
    )
    _raise_intake_errors(format_errors, rule_errors)
    with transaction.atomic():
        # By the number, or by its keyed hash once anonymised (R-PRIV-3): the bar still holds.
        applicant = applicant_for_id_number(data.id_number, lock=True)
        _check_bar_and_open(applicant, on=today)
        if applicant is None:
            applicant = Applicant(id_number=data.id_number)
        applicant_identify_again(applicant, data.id_number)
        applicant.name = data.name.strip()
        applicant.date_of_birth = data.date_of_birth
        applicant.sex = data.sex
        applicant.phone = data.phone
        applicant.language = data.language if data.language in ("zh-hans", "en") else "zh-hans"
        try:
            with transaction.atomic():
                applicant.save()
                application = Application(reference=_next_reference(today.year), applicant=applicant, created_via=via)
                code = _new_lookup_code(application)
                _write_intake(application, data, hukou=hukou, residence=residence, facilities=facilities)
        except IntegrityError as exc:  # a concurrent intake of the same person won the race (R-APP-5)
            raise Conflict(gettext("This person already has an open application."), rule="R-APP-5") from exc
        event_record(application=application, transition="create", from_state="", actor=actor)
        if submit:
            _submit(application, actor=actor, now=now)
    return application, code


# --- corrections before approval (R-CHG-1) --------------------------------------------------------
# The fields of the intake as the API names them, and the event's masked view of each (SPEC §12).
def _mask_id_number(value: str) -> str:
    return Applicant(id_number=value or None).masked_id_number if value else ""


def _mask_phone(value: str) -> str:
    """13812345678 → 138****5678; short numbers keep their last two digits only."""
    value = value or ""
    if len(value) >= 8:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return "*" * max(len(value) - 2, 0) + value[-2:]


def _mask_address(value: str) -> str:
    """The first three characters (usually the district), the rest starred."""
    value = value or ""
    return value[:3] + "*" * min(max(len(value) - 3, 0), 12)


def _mask_email(value: str) -> str:
    local, at, domain = (value or "").partition("@")
    return (local[:1] + "***" + at + domain) if value else ""


CORRECTION_MASKS = {
    "applicant.id_number": _mask_id_number,
    "applicant.phone": _mask_phone,
    "applicant.address": _mask_address,
    "contact.phone": _mask_phone,
    "contact.email": _mask_email,
}


def _evidence_file_name(value) -> str:
    return str(getattr(value, "name", value) or "") if value else ""


def _intake_snapshot(data: IntakeData) -> dict:
    """The intake as plain JSON values keyed by the API's field paths, to compare before and after."""
    return {
        "applicant.name": (data.name or "").strip(),
        "applicant.id_number": data.id_number or "",
        "applicant.date_of_birth": data.date_of_birth.isoformat() if data.date_of_birth else "",
        "applicant.sex": data.sex or "",
        "applicant.phone": data.phone or "",
        "applicant.language": data.language or "",
        "applicant.hukou_district": data.hukou_district or "",
        "applicant.residence_district": data.residence_district or "",
        "applicant.address": data.address or "",
        "applicant.lives_alone": bool(data.lives_alone),
        "applicant.no_spouse_no_children": bool(data.no_spouse_no_children),
        "applicant.contributor_exemption_requested": bool(data.contributor_exemption_requested),
        "contact.name": data.contact_name or "",
        "contact.relation": data.contact_relation or "",
        "contact.phone": data.contact_phone or "",
        "contact.email": (data.contact_email or "").strip(),
        "declarations.no_infectious_disease": bool(data.no_infectious_disease),
        "declarations.no_serious_mental_disorder": bool(data.no_serious_mental_disorder),
        "categories": [
            {
                "code": claim.get("code"),
                "evidence": str(claim.get("evidence") or "").strip(),
                "evidence_file": _evidence_file_name(claim.get("evidence_file")),
            }
            for claim in data.categories or []
        ],
        "choices": list(data.choices or []),
        "spouse_resident_in": sorted(data.spouse_resident_in or []),
    }


def correction_changes(before: IntakeData, after: IntakeData) -> dict[str, dict]:
    """R-CHG-1, SPEC §12: old and new values of the changed fields only; ID numbers, phones,
    addresses (and the contact's email) masked."""
    old, new = _intake_snapshot(before), _intake_snapshot(after)
    changes = {}
    for path, value in new.items():
        if old[path] != value:
            mask = CORRECTION_MASKS.get(path, lambda v: v)
            changes[path] = {"old": mask(old[path]), "new": mask(value)}
    return changes


def _check_correction_permitted(application: Application, actor: Actor) -> None:
    """R-CHG-1: only before approval (409 naming the state), and by the roles of the one table
    (services/transitions.py CORRECTION_ROLES_BY_STATE; 403)."""
    if application.state not in CORRECTION_ROLES_BY_STATE:
        raise WrongState(
            gettext(
                "This application is %(state)s: what was entered at intake can be corrected only in draft, "
                "submitted, waiting for assessment or under review."
            )
            % {"state": ApplicationState(application.state).label},
            current_state=application.state,
            available_transitions=available_transitions(application),
        )
    if not may_correct(actor.user, application.state):
        if application.state == S.REVIEW:
            message = gettext("Only an intake officer or a reviewer may correct an application under review.")
        else:
            message = gettext("Only an intake officer may correct an application that is %(state)s.") % {
                "state": ApplicationState(application.state).label
            }
        raise NotPermitted(message)


def application_update(
    *,
    application: Application,
    data: IntakeData,
    actor: Actor,
    expected_version: int | None = None,
    reason: str = "",
) -> Application:
    """R-CHG-1 Corrections before approval: anything entered at intake, in `draft`, `submitted`,
    `assessment_pending` or `review`, by the roles of CORRECTION_ROLES_BY_STATE. A draft may stay
    incomplete (a name and a valid ID number suffice; `submit` checks R-APP-1…8); in the other
    states the corrected application must meet them all. An ID number is corrected only with a
    reason, and R-APP-5, R-APP-6 and the unique constraint still hold. A stale `expected_version`
    gets 409 (R-FSM-4). The event `corrected` holds old and new values of the changed fields only,
    masked (SPEC §12); nothing changed, nothing recorded."""
    today = timezone.localdate()
    policy = policy_in_force(today)
    data.id_number = normalise_id_number(data.id_number)
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise InvalidInput(
            gettext("The reason is too long."),
            errors={"reason": [gettext("must be at most %(max)s characters") % {"max": 2000}]},
        )
    with transaction.atomic():
        application = lock_application(application, expected_version=expected_version)
        _check_correction_permitted(application, actor)
        before = intake_data_of(application)
        hukou, residence, facilities, format_errors, rule_errors = _intake_errors(
            data, for_submission=application.state != S.DRAFT, on=today, policy=policy
        )
        applicant = application.applicant
        id_changed = data.id_number != (applicant.id_number or "")
        if id_changed and not reason and "applicant.id_number" not in format_errors:
            format_errors["reason"] = [gettext("give the reason for changing the ID number")]
        _raise_intake_errors(format_errors, rule_errors)
        changes = correction_changes(before, data)
        if not changes:
            return application
        if id_changed:
            other = applicant_for_id_number(data.id_number, lock=True)
            _check_bar_and_open(other, on=today, exclude_pk=application.pk)
            if other is not None:
                raise Conflict(
                    gettext("Another person's record already has this ID number."),
                    errors={
                        "applicant.id_number": [
                            gettext(
                                "belongs to another person's record: check the number, or withdraw this "
                                "application and register under that record"
                            )
                        ]
                    },
                    rule="R-APP-5",
                )
            applicant.id_number = data.id_number
        applicant.name = data.name.strip()
        applicant.date_of_birth = data.date_of_birth
        applicant.sex = data.sex
        applicant.phone = data.phone
        applicant.language = data.language if data.language in ("zh-hans", "en") else "zh-hans"
        try:
            with transaction.atomic():
                applicant.save()
        except IntegrityError as exc:  # a concurrent intake took the number meanwhile (unique constraint)
            raise Conflict(
                gettext("Another person's record already has this ID number."),
                errors={"applicant.id_number": [gettext("was registered for another person meanwhile")]},
            ) from exc
        application.version += 1
        _write_intake(application, data, hukou=hukou, residence=residence, facilities=facilities)
        event_record(
            application=application,
            transition="corrected",
            from_state=application.state,
            actor=actor,
            reason=reason,
            data={"changes": changes},
        )
    return application


application_correct = application_update


def application_contact_update(
    *, application: Application, changes: dict[str, str], actor: Actor, via: str
) -> Application:
    """The contact person's fields (name, relation, phone, email), in any state: under the application's
    lock, with the version bumped (a stale writer elsewhere gets a conflict) and an event naming the
    fields (R-FSM-2). The Django admin's one edit of an application."""
    with transaction.atomic():
        application = lock_application(application.pk)
        for name, value in changes.items():
            setattr(application, name, value)
        application.version += 1
        application.save(update_fields=[*changes, "version", "updated_at"])
        event_record(
            application=application,
            transition="update",
            from_state=application.state,
            actor=actor,
            data={"fields": list(changes), "via": via},
        )
    return application


def stored_hukou_district(application: Application) -> str:
    """The code, or "other" (null: outside the city). A draft saved without a hukou district (R-CHG-1)
    also stores null, but without the contributor exemption that "other" needs: it reads as missing."""
    if application.hukou_district is not None:
        return application.hukou_district.code
    if application.state == S.DRAFT and not application.contributor_exemption_requested:
        return ""
    return "other"


def intake_data_of(application: Application) -> IntakeData:
    """The stored intake as IntakeData, for a partial update or a re-check at submission."""
    applicant = application.applicant
    choices = list(application.choices.select_related("facility").order_by("rank"))
    return IntakeData(
        name=applicant.name,
        id_number=applicant.id_number,
        date_of_birth=applicant.date_of_birth,
        sex=applicant.sex,
        phone=applicant.phone,
        language=applicant.language,
        hukou_district=stored_hukou_district(application),
        residence_district=application.residence_district.code if application.residence_district else None,
        address=application.address,
        lives_alone=application.lives_alone,
        no_spouse_no_children=application.no_spouse_no_children,
        contributor_exemption_requested=application.contributor_exemption_requested,
        contact_name=application.contact_name,
        contact_relation=application.contact_relation,
        contact_phone=application.contact_phone,
        contact_email=application.contact_email,
        no_infectious_disease=application.declares_no_infectious_disease,
        no_serious_mental_disorder=application.declares_no_serious_mental_disorder,
        categories=[
            {"code": c.code, "evidence": c.evidence, "evidence_file": c.evidence_file}
            for c in application.category_claims.all()
        ],
        choices=[c.facility.code for c in choices],
        spouse_resident_in=[c.facility.code for c in choices if c.spouse_resident],
    )


def _submit(application: Application, *, actor: Actor, now: dt.datetime) -> None:
    today = timezone.localdate(now)
    policy = policy_in_force(today)
    transition_guard(application, "submit")
    _, _, _, format_errors, rule_errors = _intake_errors(
        intake_data_of(application), for_submission=True, on=today, policy=policy
    )
    _raise_intake_errors(format_errors, rule_errors)
    _check_bar_and_open(application.applicant, on=today, exclude_pk=application.pk)
    application.submitted_at = now
    transition_apply(application, "submit", actor=actor)


def application_submit(*, application: Application, actor: Actor) -> Application:
    """draft → submitted, with every check of R-APP-1…8."""
    with transaction.atomic():
        application = lock_application(application)
        _submit(application, actor=actor, now=timezone.now())
    return application


def application_accept_for_assessment(*, application: Application, actor: Actor) -> Application:
    """submitted → assessment_pending; straight to review when the person already holds a valid
    approved assessment (SPEC §5)."""
    with transaction.atomic():
        application = lock_application(application)
        transition_guard(application, "accept_for_assessment")
        valid = (
            Assessment.objects.filter(
                application__applicant=application.applicant,
                state=AssessmentState.APPROVED,
                valid_until__gte=timezone.localdate(),
            )
            .order_by("-assessed_on", "-id")
            .first()
        )
        if valid is not None:
            application.current_assessment = valid
            return transition_apply(
                application,
                "accept_for_assessment_with_valid_assessment",
                actor=actor,
                data={"assessment": valid.pk, "valid_until": valid.valid_until.isoformat()},
            )
        return transition_apply(application, "accept_for_assessment", actor=actor)


def application_reject(*, application: Application, reason: str, actor: Actor) -> Application:
    reason = reason_required(reason)
    with transaction.atomic():
        application = lock_application(application)
        application.closing_reason = "rejected"
        return transition_apply(application, "reject", actor=actor, reason=reason)


def channel_for(*, application: Application, verified_codes: list[str], on: dt.date, policy: PolicyInForce):
    """R-APP-8: the highest channel any verified category gives; 100+ on the approval date →
    priority at least. Returns the channel and why."""
    age = age_on(application.applicant.date_of_birth, on)
    channel, because = policy.parameters.channel_of(verified_codes=verified_codes, age=age)
    return channel, {"because": because, "verified_categories": verified_codes, "age_on_approval": age}


def application_approve(
    *,
    application: Application,
    categories: list[dict],
    exemption: dict | None,
    actor: Actor,
) -> Application:
    """review → waiting (SPEC §5): the assessment is approved, categories verified, the channel
    fixed, one queue entry per choice, then allocation for each chosen home with a vacant bed."""
    now = timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        application = lock_application_with_facilities(application)
        transition_guard(application, "approve")
        policy = policy_in_force(today)
        claims = {c.code: c for c in application.category_claims.all()}
        errors: dict[str, list[str]] = {}
        decisions = {}
        for index, item in enumerate(categories):
            code = item.get("code")
            if code not in claims:
                errors[f"categories.{index}.code"] = [gettext("was not claimed on this application")]
            elif code in decisions:
                errors[f"categories.{index}.code"] = [gettext("is decided twice")]
            else:
                decisions[code] = item
        if errors:
            raise InvalidInput(gettext("Some category decisions are not valid."), errors=errors)
        assessment = _approved_valid_assessment(application, today)
        if assessment is None:
            raise RuleViolation(
                gettext("The assessment must be approved (and still valid) before the application is approved."),
                errors={"assessment": [gettext("no approved, valid assessment")]},
                rule="R-ASM-4",
            )
        exemption_needed = application.contributor_exemption_requested and application.hukou_district_id is None
        if exemption_needed:
            if not exemption or exemption.get("granted") is None or not str(exemption.get("note") or "").strip():
                raise InvalidInput(
                    gettext("The contributor exemption must be granted or refused, with a note."),
                    errors={"exemption": [gettext("granted (true/false) and a note are required")]},
                    rule="R-APP-3",
                )
            application.contributor_exemption_granted = bool(exemption["granted"])
            application.contributor_exemption_note = str(exemption["note"]).strip()
            if not exemption["granted"]:
                application.closing_reason = "exemption_refused"
                return transition_apply(
                    application,
                    "reject",
                    actor=actor,
                    reason=application.contributor_exemption_note,
                    data={"exemption": "refused"},
                )
        for code, item in decisions.items():
            claim = claims[code]
            claim.status = CategoryStatus.VERIFIED if item.get("verified") else CategoryStatus.REFUSED
            claim.note = str(item.get("note") or "")
            claim.verified_by = actor.user
            claim.verified_at = now
            claim.save()
        verified = [c.code for c in application.category_claims.all() if c.status == CategoryStatus.VERIFIED]
        channel, reason = channel_for(application=application, verified_codes=verified, on=today, policy=policy)
        application.channel_code = channel
        application.channel_reason = reason
        application.current_assessment = assessment
        if application.queued_at is None:
            application.queued_at = now
        transition_apply(
            application,
            "approve",
            actor=actor,
            data={"channel": channel, "channel_reason": reason, "assessment": assessment.pk, "policy": policy.version},
        )
        entries_open_or_refresh(application=application, policy=policy)
        allocation_run_for_application(application=application, trigger="application_approved", actor=actor)
    return application


def _approved_valid_assessment(application: Application, today: dt.date):
    # An upheld re-review's assessment is stored but never becomes the current one (R-ASM-6).
    candidates = Assessment.objects.filter(state=AssessmentState.APPROVED, valid_until__gte=today).exclude(
        made_for_review__outcome="upheld"
    )
    own = candidates.filter(application=application).order_by("-assessed_on", "-id").first()
    if own is not None:
        return own
    current = application.current_assessment
    if current is not None and current.state == AssessmentState.APPROVED and current.valid_until >= today:
        return current
    return None


def application_suspend(*, application: Application, reason: str, actor: Actor) -> Application:
    reason = reason_required(reason)
    with transaction.atomic():
        application = lock_application(application)
        return transition_apply(application, "suspend", actor=actor, reason=reason)


def application_resume(*, application: Application, reason: str = "", actor: Actor) -> Application:
    """suspended → waiting; needs a valid assessment (SPEC §5), then allocation (R-ALLOC-3)."""
    with transaction.atomic():
        application = lock_application_with_facilities(application)
        transition_guard(application, "resume")
        assessment = application.current_assessment
        if assessment is None or assessment.valid_until < timezone.localdate():
            raise RuleViolation(
                gettext("The assessment has expired: a new one must be approved before the application resumes."),
                errors={"assessment": [gettext("expired")]},
                rule="R-ASM-5",
            )
        # R-CHG-3: resuming an application paused for want of a confirmation is that confirmation.
        reconfirmation_record_on_resume(application, actor=actor)
        transition_apply(application, "resume", actor=actor, reason=(reason or "").strip())
        allocation_run_for_application(application=application, trigger="application_resumed", actor=actor)
    return application


def application_withdraw(*, application: Application, reason: str, actor: Actor) -> Application:
    reason = reason_required(reason)
    with transaction.atomic():
        application = lock_application_with_facilities(application)
        application_withdraw_apply(application, reason=reason, actor=actor)  # R-OFF-5 (services/closing.py)
    return application


# The reasons staff may give (API.md). `refusal_limit` is the system's alone (R-OFF-5): it sets a bar.
STAFF_REMOVAL_REASONS = ("deceased", "ineligible", "other")


def application_remove(*, application: Application, reason: str, note: str = "", actor: Actor) -> Application:
    """Any non-final → removed, by a reviewer. The refusal limit removes through
    `application_remove_for_refusals` (services/closing.py) instead."""
    if reason not in STAFF_REMOVAL_REASONS:
        raise InvalidInput(
            gettext("Unknown removal reason."),
            errors={"reason": [gettext("must be one of %(values)s") % {"values": ", ".join(STAFF_REMOVAL_REASONS)}]},
        )
    with transaction.atomic():
        application = lock_application_with_facilities(application)
        application_removal_apply(application, reason=reason, note=note, actor=actor)
    return application


# --- duplicates (R-APP-10) ------------------------------------------------------------------------
def duplicate_review_record(
    *, application: Application, other_reference: str, match: str, decision: str, note: str, actor: Actor
) -> DuplicateReview:
    errors = {}
    if match not in DuplicateMatch.values:
        errors["match"] = [gettext("must be one of %(values)s") % {"values": ", ".join(DuplicateMatch.values)}]
    if decision not in DuplicateDecision.values:
        errors["decision"] = [gettext("must be one of %(values)s") % {"values": ", ".join(DuplicateDecision.values)}]
    if not (note or "").strip():
        errors["note"] = [gettext("a note is required")]
    other = Application.objects.filter(reference=other_reference).first()
    if other is None or other.pk == application.pk:
        errors["other_reference"] = [gettext("is not another application")]
    if errors:
        raise InvalidInput(gettext("The duplicate review is not valid."), errors=errors, rule="R-APP-10")
    with transaction.atomic():
        review, created = DuplicateReview.objects.get_or_create(
            application=application,
            other_application=other,
            defaults={"match": match, "decision": decision, "note": note.strip(), "decided_by": actor.user},
        )
        if not created:
            raise Conflict(gettext("This possible duplicate has already been reviewed."))
        event_record(
            application=application,
            transition="duplicate_reviewed",
            from_state=application.state,
            actor=actor,
            reason=note.strip(),
            data={"other": other.reference, "match": match, "decision": decision},
        )
    return review


__all__ = [
    "IntakeData",
    "application_accept_for_assessment",
    "application_approve",
    "application_correct",
    "application_create",
    "application_reject",
    "application_remove",
    "application_remove_for_refusals",
    "application_resume",
    "application_submit",
    "application_suspend",
    "application_update",
    "application_withdraw",
    "available_transitions",
    "duplicate_review_record",
    "get_application",
    "lock_facilities",
    "lookup_code_issue",
]
