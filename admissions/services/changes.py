"""Changes after approval (SPEC §12, R-CHG-2): one function per act.

Each act runs in one transaction: it locks the application (the facilities first when the queue may
change: services/locks.py), refuses a stale `expected_version` with 409, checks the rules of §3 on the
application as it would be after the change, changes it, bumps the version and appends its own event
(old and new values; ID numbers, phones, emails and addresses masked). The family is told
(`application_changed`) and systems get an `application.changed` webhook. On any failure nothing
has changed and the error names the field (the rule code is in comments, never in the words).

Contact details may change at any time before a final state, offers included, with no effect on the
queue. Personal details after approval. The rest only while queued (`waiting` or `suspended`) with no
live offer: districts, family situation, categories and choices; a change of score or channel
rescores every open entry at once with `queued_at` kept, and allocation runs where beds are vacant
(R-ALLOC-3).
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from admissions.identity import id_number_errors, normalise_id_number
from admissions.models import (
    FINAL_STATES,
    Application,
    ApplicationState,
    CategoryClaim,
    CategoryStatus,
    FacilityChoice,
    OfferState,
    QueueEntry,
    QueueEntryOutcome,
    QueueEntryStatus,
)
from admissions.models.applications import CHANNEL_RANK, Language
from admissions.selectors import base_score_parts, policy_in_force
from core.actor import Actor
from core.errors import Conflict, InvalidInput, RuleViolation, WrongState
from core.phones import PHONE_RULE, InvalidPhone, normalise_phone
from facilities.models import BedStatus, District, Facility, FacilityLevel

from .allocation import allocation_run, allocation_run_for_application
from .applications import (
    _category_errors,
    _check_bar_and_open,
    _choice_rule_errors,
    _contact_email_errors,
    _min_age_errors,
    channel_for,
)
from .events import event_record
from .locks import facility_ids_for, lock_application, lock_facilities
from .notifications import notify
from .privacy import applicant_for_id_number
from .queue import entries_rescore
from .queue_versions import queue_changed
from .transitions import available_transitions, reason_required
from .webhooks import webhooks_enqueue

S = ApplicationState
# R-CHG-2: "the rest only while queued (waiting or suspended), not while an offer is live".
CHANGEABLE_WHILE_QUEUED = (S.WAITING, S.SUSPENDED)
# R-CHG-2: personal details "after approval": every state from `waiting` on that is not final.
AFTER_APPROVAL = (S.WAITING, S.SUSPENDED, S.OFFERED, S.ADMISSION_CHECK)
LIVE_OFFER_STATES = (OfferState.PENDING, OfferState.ACCEPTED)
EVIDENCE_MAX_LENGTH = CategoryClaim._meta.get_field("evidence").max_length


# --- masking (SPEC §12: ID numbers, phones and addresses masked in the event data) ---------------
def mask_text(value: str, *, keep_start: int = 3, keep_end: int = 2) -> str:
    value = value or ""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    end = value[len(value) - keep_end :]
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + end


def mask_email(value: str) -> str:
    value = value or ""
    if "@" not in value:
        return mask_text(value, keep_start=1, keep_end=0)
    local, domain = value.rsplit("@", 1)
    return (local[:1] + "***@" + domain) if local else value


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * 8 + value[-4:] if value and len(value) == 18 else "*" * len(value or "")


def mask_address(value: str) -> str:
    return mask_text(value, keep_start=2, keep_end=0)


MASKS = {
    "applicant.phone": mask_text,
    "applicant.email": mask_email,
    "applicant.address": mask_address,
    "applicant.id_number": mask_id_number,
    "contact.phone": mask_text,
    "contact.email": mask_email,
}


def _diff(before: dict, after: dict) -> dict[str, dict]:
    """{field: {"old", "new"}} for the fields that changed, masked where SPEC §12 says."""
    changes = {}
    for name, new in after.items():
        old = before.get(name)
        if old == new:
            continue
        mask = MASKS.get(name)
        if mask is not None:
            old, new = mask(old or ""), mask(new or "")
        changes[name] = {"old": old, "new": new}
    return changes


# --- the shared steps ----------------------------------------------------------------------------
def _refuse_state(application: Application, states, message: str) -> None:
    if application.state not in states:
        raise WrongState(
            message % {"state": ApplicationState(application.state).label},
            current_state=application.state,
            available_transitions=available_transitions(application),
        )


def _queued_without_live_offer(application: Application) -> None:
    """R-CHG-2: districts, family situation, categories and choices change only while `waiting` or
    `suspended`, and never while an offer is live."""
    _refuse_state(
        application,
        CHANGEABLE_WHILE_QUEUED,
        gettext(
            "This can be changed only while the application waits in the queue or is suspended, "
            "not while it is %(state)s."
        ),
    )
    if application.offers.filter(state__in=LIVE_OFFER_STATES).exists():
        raise Conflict(gettext("This cannot be changed while an offer of a bed is open; wait until it is answered."))


def _lock(application: Application, *, expected_version: int | None, facility_ids=()) -> Application:
    """The facilities first (its choices, a live offer's home, and any in `facility_ids`), then the
    application: the one order (services/locks.py). A stale version gets 409 (R-FSM-4)."""
    unlocked = Application.objects.get(pk=application.pk)
    before = facility_ids_for(unlocked)
    lock_facilities([*before, *facility_ids])
    locked = lock_application(application.pk, expected_version=expected_version)
    if facility_ids_for(locked) != before:
        raise Conflict(gettext("The application changed while it was being locked; try again."))
    return locked


def _record(
    application: Application, *, event: str, actor: Actor, reason: str = "", data: dict, save_fields=None
) -> None:
    """Bump the version, save, append the event, tell the family and the systems (R-CHG-2)."""
    application.version += 1
    if save_fields is None:
        application.save()
    else:
        application.save(update_fields=[*save_fields, "version", "updated_at"])
    recorded = event_record(
        application=application, transition=event, from_state=application.state, actor=actor, reason=reason, data=data
    )
    webhooks_enqueue(
        type="application.changed",
        data={
            "event": recorded.pk,
            "reference": application.reference,
            "change": event,
            "fields": sorted(data.get("changes", {})),
            "at": timezone.localtime(recorded.at).isoformat(),
        },
    )
    notify(application=application, kind="application_changed", context={"change": event})


def _approval_date(application: Application) -> dt.date:
    at = application.events.filter(transition="approve").order_by("-at").values_list("at", flat=True).first()
    return timezone.localdate(at) if at else timezone.localdate()


def _channel_recompute(application: Application, policy) -> tuple[str, str]:
    """R-APP-8: the highest channel of the verified categories (100+ on the approval date: priority)."""
    old = application.channel_code
    verified = list(application.category_claims.filter(status=CategoryStatus.VERIFIED).values_list("code", flat=True))
    channel, why = channel_for(
        application=application, verified_codes=verified, on=_approval_date(application), policy=policy
    )
    application.channel_code = channel
    application.channel_reason = why
    return old, channel


def _allocate_where_vacant(application: Application, *, trigger: str, actor: Actor) -> None:
    """R-ALLOC-3: a change of circumstances starts an allocation at each chosen home with a vacant bed."""
    if application.state == S.WAITING:
        allocation_run_for_application(application=application, trigger=trigger, actor=actor)


def _scores(application: Application) -> dict[str, int]:
    return dict(
        application.queue_entries.filter(status=QueueEntryStatus.OPEN)
        .values_list("facility__code", "base_score")
        .order_by("facility__code")
    )


# --- 1. contact details (intake; any time before a final state; no queue effect) -----------------
CONTACT_FIELDS = {
    # request field → (model object, attribute)
    "applicant.phone": ("applicant", "phone"),
    "applicant.email": ("applicant", "email"),
    "applicant.address": ("application", "address"),
    "applicant.language": ("applicant", "language"),
    "contact.name": ("application", "contact_name"),
    "contact.relation": ("application", "contact_relation"),
    "contact.phone": ("application", "contact_phone"),
    "contact.email": ("application", "contact_email"),
}
CONTACT_MAX_LENGTHS = {
    "applicant.address": 255,
    "contact.name": 100,
    "contact.relation": 40,
    "applicant.email": 254,
}


def _contact_values(application: Application) -> dict[str, str]:
    objects = {"applicant": application.applicant, "application": application}
    return {field: getattr(objects[obj], attr) for field, (obj, attr) in CONTACT_FIELDS.items()}


def _contact_errors(values: dict[str, str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    clean = {}
    for field, value in values.items():
        value = str(value if value is not None else "").strip()
        if field.endswith(".phone"):
            try:
                value = normalise_phone(value)
            except InvalidPhone:
                errors[field] = [str(PHONE_RULE)]
        elif field == "applicant.language" and value not in Language.values:
            errors[field] = [gettext("must be one of %(values)s") % {"values": ", ".join(Language.values)}]
        elif field == "applicant.email":
            for message in _contact_email_errors(value).values():
                errors[field] = message
        elif field == "contact.email":
            errors.update(_contact_email_errors(value))
        limit = CONTACT_MAX_LENGTHS.get(field)
        if limit and len(value) > limit and field not in errors:
            errors[field] = [gettext("must be at most %(max)s characters") % {"max": limit}]
        clean[field] = value
    return clean, errors


def application_contact_change(
    *,
    application: Application,
    changes: dict[str, str],
    reason: str = "",
    actor: Actor,
    expected_version: int | None = None,
) -> Application:
    """R-CHG-2: the applicant's phone, email, address and language and the contact person, at any
    time before a final state, offers included. `changes` maps "applicant.phone", "contact.name", …
    to the new values; the queue is untouched."""
    unknown = sorted(set(changes) - set(CONTACT_FIELDS))
    if unknown:
        raise InvalidInput(
            gettext("Some fields are not contact details."),
            errors={name: [gettext("is not a contact detail that can be changed here")] for name in unknown},
        )
    if not changes:
        raise InvalidInput(
            gettext("Nothing to change."), errors={"applicant": [gettext("give at least one contact detail")]}
        )
    clean, errors = _contact_errors(changes)
    if errors:
        raise InvalidInput(gettext("Some contact details are not valid."), errors=errors)
    reason = (reason or "").strip()
    with transaction.atomic():
        application = lock_application(application, expected_version=expected_version)
        if application.state in FINAL_STATES:
            raise WrongState(
                gettext("A finished application's contact details cannot be changed; it is %(state)s.")
                % {"state": ApplicationState(application.state).label},
                current_state=application.state,
                available_transitions=[],
            )
        before = _contact_values(application)
        objects = {"applicant": application.applicant, "application": application}
        for field, value in clean.items():
            obj, attr = CONTACT_FIELDS[field]
            setattr(objects[obj], attr, value)
        changed = _diff(before, _contact_values(application))
        if not changed:
            return application
        application.applicant.save(update_fields=["phone", "email", "language"])
        _record(
            application,
            event="contact_changed",
            actor=actor,
            reason=reason,
            data={"changes": changed},
            save_fields=["address", "contact_name", "contact_relation", "contact_phone", "contact_email"],
        )
    return application


# --- 2. personal details (reviewer, with a reason; after approval; R-APP-1/2/5 again) -------------
PERSONAL_FIELDS = ("name", "id_number", "date_of_birth", "sex")


def application_personal_details_change(
    *,
    application: Application,
    changes: dict,
    reason: str,
    actor: Actor,
    expected_version: int | None = None,
) -> Application:
    """R-CHG-2: name, ID number, birth date, sex, by a reviewer with a reason after approval. The ID
    number is checked again (R-APP-1) against the birth date and sex as they would be, the age on the
    application date (R-APP-2), and that no other person's record or open application has the number
    (R-APP-5). A new birth date rescores the open entries (age points), `queued_at` kept."""
    reason = reason_required(reason)
    unknown = sorted(set(changes) - set(PERSONAL_FIELDS))
    if unknown or not changes:
        raise InvalidInput(
            gettext("Give the personal details to change: name, ID number, birth date or sex."),
            errors={f"applicant.{name}": [gettext("is not a personal detail")] for name in unknown}
            or {"applicant": [gettext("give at least one personal detail")]},
        )
    with transaction.atomic():
        application = _lock(application, expected_version=expected_version)
        _refuse_state(
            application,
            AFTER_APPROVAL,
            gettext(
                "Personal details are changed here only after approval and before the end; "
                "the application is %(state)s."
            ),
        )
        applicant = application.applicant
        before = {f"applicant.{name}": getattr(applicant, name) for name in PERSONAL_FIELDS}
        new = {
            "name": str(changes.get("name", applicant.name) or "").strip(),
            "id_number": normalise_id_number(str(changes.get("id_number", applicant.id_number) or "")),
            "date_of_birth": changes.get("date_of_birth", applicant.date_of_birth),
            "sex": changes.get("sex", applicant.sex),
        }
        errors: dict[str, list[str]] = {}
        if not new["name"]:
            errors["applicant.name"] = [gettext("is required")]
        elif len(new["name"]) > 100:
            errors["applicant.name"] = [gettext("must be at most %(max)s characters") % {"max": 100}]
        if new["sex"] not in ("F", "M"):
            errors["applicant.sex"] = [gettext("must be F or M")]
        if not isinstance(new["date_of_birth"], dt.date):
            errors["applicant.date_of_birth"] = [gettext("must be a date, YYYY-MM-DD")]
        if not errors:
            # R-APP-1: the number's birth date and sex digit must agree with the details as changed.
            errors.update(id_number_errors(new["id_number"], date_of_birth=new["date_of_birth"], sex=new["sex"]))
        if errors:
            raise InvalidInput(gettext("Some personal details are not valid."), errors=errors)
        params = policy_in_force().parameters
        applied_on = timezone.localdate(application.submitted_at or application.created_at)
        too_young = _min_age_errors(new["date_of_birth"], on=applied_on, params=params)
        if too_young:
            raise RuleViolation(
                gettext("With this birth date the applicant was too young on the application date."), errors=too_young
            )
        if new["id_number"] != applicant.id_number:  # R-APP-5: one person, one open application
            other = applicant_for_id_number(new["id_number"])
            _check_bar_and_open(other, on=timezone.localdate(), exclude_pk=application.pk)
            if other is not None:
                raise Conflict(
                    gettext("Another person's record has this ID number; check the number."),
                    errors={"applicant.id_number": [gettext("belongs to another person's record")]},
                )
        for name, value in new.items():
            setattr(applicant, name, value)
        try:
            with transaction.atomic():
                applicant.save(update_fields=list(PERSONAL_FIELDS))
        except IntegrityError as exc:  # the unique constraint, should another write win the race
            raise Conflict(
                gettext("Another person's record has this ID number; check the number."),
                errors={"applicant.id_number": [gettext("belongs to another person's record")]},
            ) from exc
        after = {f"applicant.{name}": getattr(applicant, name) for name in PERSONAL_FIELDS}
        changed = _diff(
            {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in before.items()},
            {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in after.items()},
        )
        if not changed:
            return application
        data = {"changes": changed}
        if before["applicant.date_of_birth"] != after["applicant.date_of_birth"]:
            policy = policy_in_force()
            scores_before = _scores(application)
            old_channel, new_channel = _channel_recompute(application, policy)
            entries_rescore(application=application, policy=policy)
            data.update(scores={"old": scores_before, "new": _scores(application)})
            if old_channel != new_channel:
                data["channel"] = {"old": old_channel, "new": new_channel}
        _record(application, event="personal_details_changed", actor=actor, reason=reason, data=data)
        _allocate_where_vacant(application, trigger="personal_details_changed", actor=actor)
    return application


# --- 3. districts (intake, with a reason; while queued; dropped choices confirmed) ---------------
def _district(code, path: str, errors: dict) -> District | None:
    district = District.objects.filter(code=code).first() if code else None
    if code and district is None:
        errors[path] = [gettext("is not a district of the city")]
    return district


def choices_dropped_by_district(application: Application, district_id: int | None) -> list[FacilityChoice]:
    """R-APP-7 after a change of district: the district-level choices outside the new district."""
    return [
        choice
        for choice in application.choices.select_related("facility").order_by("rank")
        if choice.facility.level != FacilityLevel.CITY and choice.facility.district_id != district_id
    ]


def application_districts_change(
    *,
    application: Application,
    hukou_district: str | None = None,
    residence_district: str | None = None,
    reason: str,
    confirm_dropped_choices: bool = False,
    actor: Actor,
    expected_version: int | None = None,
) -> Application:
    """R-CHG-2: the hukou or residence district, by intake with a reason, while queued. Choices that
    R-APP-7 no longer allows are listed (422, field `choices.N`) unless `confirm_dropped_choices`;
    then they are dropped (their entries close `choice_dropped`). A change that would leave no
    choice is refused."""
    reason = reason_required(reason)
    errors: dict[str, list[str]] = {}
    if hukou_district is None and residence_district is None:
        errors["hukou_district"] = [gettext("give the new hukou district or the new residence district")]
    new_hukou = _district(hukou_district, "hukou_district", errors) if hukou_district not in (None, "other") else None
    new_residence = _district(residence_district, "residence_district", errors) if residence_district else None
    if errors:
        raise InvalidInput(gettext("Some districts are not valid."), errors=errors)
    with transaction.atomic():
        application = _lock(application, expected_version=expected_version)
        _queued_without_live_offer(application)
        before = {
            "hukou_district": application.hukou_district.code if application.hukou_district else "other",
            "residence_district": application.residence_district.code if application.residence_district else None,
        }
        if hukou_district is not None:
            application.hukou_district = new_hukou
        if residence_district is not None:
            application.residence_district = new_residence
        rule_errors: dict[str, list[str]] = {}
        # R-APP-3: an outside hukou only under the contributor exemption granted at approval, and
        # then the residence district stands in for it.
        if application.hukou_district_id is None:
            if not application.contributor_exemption_granted:
                rule_errors["hukou_district"] = [
                    gettext("an outside hukou is accepted only with the contributor exemption granted at approval")
                ]
            elif application.residence_district_id is None:
                rule_errors["residence_district"] = [
                    gettext("is required under the contributor exemption: it stands in for the hukou district")
                ]
        if rule_errors:
            raise RuleViolation(gettext("The districts do not meet the rules."), errors=rule_errors)
        district_id = application.effective_district_id
        dropped = choices_dropped_by_district(application, district_id)
        kept = [c for c in application.choices.select_related("facility").order_by("rank") if c not in dropped]
        if dropped and not kept:
            raise RuleViolation(
                gettext("After this change none of the chosen homes would be allowed; change the choices first."),
                errors={"choices": [gettext("no chosen home would remain: at least one is needed")]},
            )
        if dropped and not confirm_dropped_choices:
            raise RuleViolation(
                gettext(
                    "These chosen homes are district homes outside the new district and would be dropped; "
                    "confirm to drop them."
                ),
                errors={
                    f"choices.{choice.rank - 1}": [
                        gettext("%(facility)s is a district home outside the new district: it would be dropped")
                        % {"facility": choice.facility.code}
                    ]
                    for choice in dropped
                },
                extra={"dropped_choices": [choice.facility.code for choice in dropped]},
            )
        after = {
            "hukou_district": application.hukou_district.code if application.hukou_district else "other",
            "residence_district": application.residence_district.code if application.residence_district else None,
        }
        changed = _diff(before, after)
        if not changed:
            return application
        data = {"changes": changed}
        if dropped:
            _choices_write(application, [(c.facility, c.spouse_resident) for c in kept])
            _entries_close_dropped(application, [c.facility_id for c in dropped])
            data["dropped_choices"] = [c.facility.code for c in dropped]
        _record(application, event="districts_changed", actor=actor, reason=reason, data=data)
    return application


def _choices_write(application: Application, choices: list[tuple[Facility, bool]]) -> None:
    """The ordered choices replaced (R-APP-7); the queue entries are handled by the caller."""
    before = set(application.choices.values_list("facility_id", flat=True))
    application.choices.all().delete()
    # bulk_create sends no signal: the homes gained and lost change their queue versions here.
    queue_changed(before | {facility.pk for facility, _spouse in choices})
    FacilityChoice.objects.bulk_create(
        FacilityChoice(application=application, facility=facility, rank=rank, spouse_resident=spouse)
        for rank, (facility, spouse) in enumerate(choices, start=1)
    )


def _entries_close_dropped(application: Application, facility_ids: list[int]) -> None:
    """R-Q-1, R-CHG-2: a dropped choice's entry closes with outcome `choice_dropped`, kept on record."""
    queue_changed(facility_ids)  # update() sends no signal
    application.queue_entries.filter(status=QueueEntryStatus.OPEN, facility_id__in=facility_ids).update(
        status=QueueEntryStatus.CLOSED, outcome=QueueEntryOutcome.CHOICE_DROPPED, closed_at=timezone.now()
    )


# --- 4. family situation (intake, with a reason; while queued; rescored at once) -----------------
def application_family_situation_change(
    *,
    application: Application,
    lives_alone: bool,
    no_spouse_no_children: bool,
    spouse_resident_in: list[str],
    reason: str,
    actor: Actor,
    expected_version: int | None = None,
) -> Application:
    """R-CHG-2, R-APP-9: lives alone, no spouse and no living children, spouse resident per chosen
    home; by intake with a reason while queued. Every open entry is rescored at once, `queued_at`
    kept; allocation runs at chosen homes with a vacant bed (R-ALLOC-3)."""
    reason = reason_required(reason)
    spouse_resident_in = list(dict.fromkeys(spouse_resident_in or []))
    with transaction.atomic():
        application = _lock(application, expected_version=expected_version)
        _queued_without_live_offer(application)
        choices = list(application.choices.select_related("facility").order_by("rank"))
        codes = {c.facility.code for c in choices}
        for index, code in enumerate(spouse_resident_in):
            if code not in codes:
                raise InvalidInput(
                    gettext("Spouse resident: only the chosen homes can be named."),
                    errors={f"spouse_resident_in.{index}": [gettext("must be one of the chosen homes")]},
                )
        before = {
            "lives_alone": application.lives_alone,
            "no_spouse_no_children": application.no_spouse_no_children,
            "spouse_resident_in": [c.facility.code for c in choices if c.spouse_resident],
        }
        application.lives_alone = bool(lives_alone)
        application.no_spouse_no_children = bool(no_spouse_no_children)
        for choice in choices:
            spouse = choice.facility.code in spouse_resident_in
            if choice.spouse_resident != spouse:
                choice.spouse_resident = spouse
                choice.save(update_fields=["spouse_resident"])
        after = {
            "lives_alone": application.lives_alone,
            "no_spouse_no_children": application.no_spouse_no_children,
            "spouse_resident_in": [c.facility.code for c in choices if c.spouse_resident],
        }
        changed = _diff(before, after)
        if not changed:
            return application
        scores_before = _scores(application)
        entries_rescore(application=application, policy=policy_in_force())
        _record(
            application,
            event="family_situation_changed",
            actor=actor,
            reason=reason,
            data={"changes": changed, "scores": {"old": scores_before, "new": _scores(application)}},
        )
        _allocate_where_vacant(application, trigger="family_situation_changed", actor=actor)
    return application


# --- 5. categories (a claim by intake; verified, refused or ended by a reviewer) ------------------
def _claim(application: Application, code: str) -> CategoryClaim:
    claim = application.category_claims.filter(code=code).first()
    if claim is None:
        raise RuleViolation(
            gettext("This category is not claimed on this application."),
            errors={"code": [gettext("is not claimed on this application")]},
        )
    return claim


def application_category_claim(
    *,
    application: Application,
    code: str,
    evidence: str = "",
    evidence_file=None,
    actor: Actor,
    expected_version: int | None = None,
) -> Application:
    """R-CHG-2, R-APP-8: a new category claimed with evidence while queued; it counts only once a
    reviewer verifies it. A category refused or ended before may be claimed again."""
    evidence = str(evidence or "").strip()
    errors = {
        key.replace("categories.0.", ""): value
        for key, value in _category_errors(
            [{"code": code, "evidence": evidence, "evidence_file": evidence_file}]
        ).items()
    }
    if len(evidence) > EVIDENCE_MAX_LENGTH:
        errors["evidence"] = [gettext("must be at most %(max)s characters") % {"max": EVIDENCE_MAX_LENGTH}]
    if errors:
        raise InvalidInput(gettext("The category claim is not valid."), errors=errors)
    with transaction.atomic():
        application = _lock(application, expected_version=expected_version)
        _queued_without_live_offer(application)
        claim = application.category_claims.filter(code=code).first()
        if claim is not None and claim.status in (CategoryStatus.CLAIMED, CategoryStatus.VERIFIED):
            raise Conflict(
                gettext("This category is already claimed on this application."),
                errors={"code": [gettext("is already %(status)s") % {"status": CategoryStatus(claim.status).label}]},
            )
        old_status = claim.status if claim else None
        if claim is None:
            claim = CategoryClaim(application=application, code=code)
        claim.evidence = evidence
        if evidence_file:
            claim.evidence_file = evidence_file
        claim.status = CategoryStatus.CLAIMED
        claim.note = ""
        claim.verified_by = None
        claim.verified_at = None
        claim.save()
        _record(
            application,
            event="categories_changed",
            actor=actor,
            data={"changes": {f"categories.{code}": {"old": old_status, "new": CategoryStatus.CLAIMED}}},
        )
    return application


def _category_decide(
    application: Application,
    *,
    code: str,
    status: str,
    from_statuses: tuple[str, ...],
    note: str,
    reason: str,
    actor: Actor,
    expected_version: int | None,
) -> Application:
    with transaction.atomic():
        application = _lock(application, expected_version=expected_version)
        _queued_without_live_offer(application)
        claim = _claim(application, code)
        if claim.status not in from_statuses:
            raise Conflict(
                gettext("This category is %(status)s; it cannot be changed that way.")
                % {"status": CategoryStatus(claim.status).label},
                errors={"code": [gettext("is %(status)s") % {"status": CategoryStatus(claim.status).label}]},
            )
        old_status = claim.status
        claim.status = status
        claim.note = note
        claim.verified_by = actor.user
        claim.verified_at = timezone.now()
        claim.save(update_fields=["status", "note", "verified_by", "verified_at"])
        policy = policy_in_force()
        old_channel, new_channel = _channel_recompute(application, policy)
        data = {"changes": {f"categories.{code}": {"old": old_status, "new": status}}}
        if old_channel != new_channel:
            data["channel"] = {"old": old_channel, "new": new_channel}
            entries_rescore(application=application, policy=policy)  # channel recomputed, queued_at kept
        _record(application, event="categories_changed", actor=actor, reason=reason or note, data=data)
        if old_channel != new_channel:
            _allocate_where_vacant(application, trigger="categories_changed", actor=actor)
    return application


def application_category_verify(
    *,
    application: Application,
    code: str,
    verified: bool,
    note: str = "",
    actor: Actor,
    expected_version: int | None = None,
) -> Application:
    """R-CHG-2: a reviewer verifies or refuses a claim made while queued; the channel is recomputed."""
    return _category_decide(
        application,
        code=code,
        status=CategoryStatus.VERIFIED if verified else CategoryStatus.REFUSED,
        from_statuses=(CategoryStatus.CLAIMED,),
        note=str(note or "").strip(),
        reason="",
        actor=actor,
        expected_version=expected_version,
    )


def application_category_end(
    *, application: Application, code: str, reason: str, actor: Actor, expected_version: int | None = None
) -> Application:
    """R-CHG-2: a reviewer records that a verified category has ended (e.g. 低保 lifted), with a
    reason; the channel is recomputed, `queued_at` kept."""
    reason = reason_required(reason)
    return _category_decide(
        application,
        code=code,
        status=CategoryStatus.ENDED,
        from_statuses=(CategoryStatus.VERIFIED,),
        note=reason,
        reason=reason,
        actor=actor,
        expected_version=expected_version,
    )


# --- 6. choices (reviewer, with a reason; while queued; within R-APP-7) --------------------------
def choices_plan(
    application: Application, codes: list[str]
) -> tuple[list[Facility], dict[str, list[str]], dict[str, list[str]]]:
    """The facilities of `codes` in order, the format errors (unknown codes) and the errors of the
    new list under R-APP-7, with "accepting applications" checked for the added homes only (R-CHG-2)."""
    codes = [str(code) for code in codes or []]
    known = {f.code: f for f in Facility.objects.filter(code__in=codes).select_related("district")}
    errors: dict[str, list[str]] = {}
    facilities = []
    for index, code in enumerate(codes):
        facility = known.get(code)
        if facility is None:
            errors[f"choices.{index}"] = [gettext("no home has the code %(code)s") % {"code": repr(code[:20])}]
        else:
            facilities.append(facility)
    if errors:
        return facilities, errors, {}
    current = set(application.choices.values_list("facility_id", flat=True))
    params = policy_in_force().parameters
    rule_errors = _choice_rule_errors(
        facilities,
        district_id=application.effective_district_id,
        params=params,
        accepting_checked_for={f.pk for f in facilities if f.pk not in current},
    )
    return facilities, {}, rule_errors


def application_choices_change(
    *,
    application: Application,
    choices: list[str],
    reason: str,
    actor: Actor,
    expected_version: int | None = None,
) -> Application:
    """R-CHG-2: a reviewer adds, drops or reorders choices within R-APP-7, with a reason, while
    queued. A kept choice keeps its entry and `queued_at`; a dropped one's entry closes
    `choice_dropped`; a new one is queued from now (also a home dropped before). A new choice at a
    home with a vacant bed starts an allocation there (R-ALLOC-3)."""
    reason = reason_required(reason)
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise InvalidInput(
            gettext("The choices must be a list of home codes."),
            errors={"choices": [gettext("must be a list of home codes")]},
        )
    wanted = Facility.objects.filter(code__in=choices).values_list("pk", flat=True)
    with transaction.atomic():
        application = _lock(application, expected_version=expected_version, facility_ids=list(wanted))
        _queued_without_live_offer(application)
        facilities, format_errors, rule_errors = choices_plan(application, choices)
        if format_errors:
            raise InvalidInput(gettext("Some choices are not homes."), errors=format_errors)
        if rule_errors:  # R-APP-7
            raise RuleViolation(gettext("The chosen homes do not meet the rules."), errors=rule_errors)
        old = list(application.choices.select_related("facility").order_by("rank"))
        old_ids = [c.facility_id for c in old]
        new_ids = [f.pk for f in facilities]
        if old_ids == new_ids:
            return application
        spouse = {c.facility_id: c.spouse_resident for c in old}
        dropped = [fid for fid in old_ids if fid not in new_ids]
        added = [f for f in facilities if f.pk not in old_ids]
        _choices_write(application, [(f, spouse.get(f.pk, False)) for f in facilities])
        _entries_close_dropped(application, dropped)
        now = timezone.now()
        policy = policy_in_force(timezone.localdate(now))
        assessment = application.current_assessment
        written = {c.facility_id: c for c in application.choices.all()}
        for facility in added:
            parts = base_score_parts(
                application=application, assessment=assessment, choice=written[facility.pk], params=policy.parameters
            )
            QueueEntry.objects.create(
                application=application,
                facility=facility,
                channel_rank=CHANNEL_RANK[application.channel_code],
                care_level=assessment.care_level,
                base_score=sum(parts.values()),
                score_parts=parts,
                policy_version=policy.version,
                queued_at=now,  # R-CHG-2: switching homes late never jumps a queue
                queued_epoch=int(now.timestamp()),
            )
        codes = {f.pk: f.code for f in facilities} | {c.facility_id: c.facility.code for c in old}
        _record(
            application,
            event="choices_changed",
            actor=actor,
            reason=reason,
            data={
                "changes": {"choices": {"old": [codes[i] for i in old_ids], "new": [codes[i] for i in new_ids]}},
                "added": [f.code for f in added],
                "dropped": [codes[i] for i in dropped],
            },
        )
        if application.state == S.WAITING:
            for facility in added:
                if facility.beds.filter(status=BedStatus.VACANT).exists():
                    allocation_run(facility=facility, trigger="choices_changed", actor=actor, until_nobody=True)
    return application


__all__ = [
    "AFTER_APPROVAL",
    "CHANGEABLE_WHILE_QUEUED",
    "application_category_claim",
    "application_category_end",
    "application_category_verify",
    "application_choices_change",
    "application_contact_change",
    "application_districts_change",
    "application_family_situation_change",
    "application_personal_details_change",
    "choices_dropped_by_district",
    "choices_plan",
    "mask_address",
    "mask_email",
    "mask_id_number",
    "mask_text",
]
