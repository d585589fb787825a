"""Personal data (SPEC §16): who saw a full ID number (R-PRIV-1), anonymising people whose
applications closed long ago (R-PRIV-3), one person's data for them to take away (R-PRIV-4), and
who may see contact details (R-PRIV-5).

A person is one `Applicant` row, found by the resident ID number. Anonymising keeps the row (its
applications, offers, events and decisions refer to it) and moves the number to a keyed hash with
the key's id, so a person who applies again is found on the same row: their bar (R-APP-6) and their
refusals (R-OFF-5, counted over all of the row's applications) still hold, and the number is put
back because they have just given it again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from admissions.identity import normalise_id_number
from admissions.models import (
    FINAL_STATES,
    LIVE_OFFER_STATES,
    Applicant,
    Application,
    CategoryClaim,
    IdAccess,
    Notification,
    Occupancy,
    Offer,
    QueueEntry,
)
from admissions.models.queue import QueueEntryStatus
from admissions.selectors import policy_in_force
from facilities.models import Role
from facilities.roles import facility_of, roles_of, sees_full_id_numbers

# --- the keyed hash of an ID number (R-PRIV-3) ----------------------------------------------------


def _hash_keys() -> list[tuple[str, str]]:
    """(key id, key), newest first (settings.ID_NUMBER_HASH_KEYS)."""
    return list(settings.ID_NUMBER_HASH_KEYS)


def id_number_hash(id_number: str, *, key_id: str | None = None) -> tuple[str, str]:
    """(key id, HMAC-SHA256 hex) of the normalised number, under the newest key or the one named."""
    keys = dict(_hash_keys())
    key_id = key_id or _hash_keys()[0][0]
    digest = hmac.new(keys[key_id].encode(), normalise_id_number(id_number).encode(), hashlib.sha256).hexdigest()
    return key_id, digest


def applicant_for_id_number(id_number: str, *, lock: bool = False) -> Applicant | None:
    """The person with this ID number: by the number itself, or, once anonymised, by its keyed
    hash under any key still configured (R-PRIV-3, so R-APP-6 and R-OFF-5 keep working)."""
    number = normalise_id_number(id_number)
    match = Q(id_number=number)
    for key_id, _key in _hash_keys():
        match |= Q(id_number_key_id=key_id, id_number_hash=id_number_hash(number, key_id=key_id)[1])
    queryset = Applicant.objects.filter(match).order_by("pk")
    if lock:
        queryset = queryset.select_for_update()
    return queryset.first()


def applicant_identify_again(applicant: Applicant, id_number: str) -> None:
    """An anonymised person applies again: their number goes back on their row (not saved here)."""
    if applicant.id_number is None:
        applicant.id_number = normalise_id_number(id_number)
        applicant.id_number_hash = ""
        applicant.id_number_key_id = ""
        applicant.anonymised_at = None


# --- the access log of full ID numbers (R-PRIV-1) -------------------------------------------------


def id_access_record(*, user, applicant: Applicant, application: Application | None, where: str) -> IdAccess:
    return IdAccess.objects.create(
        applicant=applicant,
        application=application,
        user=user if getattr(user, "is_authenticated", False) else None,
        actor_name=(user.get_username() if getattr(user, "is_authenticated", False) else "system")[:150],
        at=timezone.now(),
        where=where[:80],
    )


def id_number_for(user, application: Application, *, where: str) -> str:
    """The ID number as this user may see it on one application's own page or record (SPEC §10):
    full for the roles that check identity, and then recorded (R-PRIV-1); masked for the rest."""
    applicant = application.applicant
    if not sees_full_id_numbers(user) or not applicant.id_number:
        return applicant.masked_id_number
    id_access_record(user=user, applicant=applicant, application=application, where=where)
    return applicant.id_number


def id_accesses_for_application(application: Application) -> QuerySet[IdAccess]:
    """Every display of this person's number on this application, or on the person's own record."""
    return (
        IdAccess.objects.filter(
            Q(application=application) | Q(application__isnull=True, applicant_id=application.applicant_id)
        )
        .select_related("application")
        .order_by("-at", "-id")
    )


# --- contact details (R-PRIV-5) --------------------------------------------------------------------


def contact_details_visible(user, application: Application) -> bool:
    """A facility officer (and nothing else) sees the phone, address, email and contact person only
    of applications with an open entry or a live offer at their own home, and of its residents."""
    if roles_of(user) != {Role.FACILITY}:
        return True
    own = facility_of(user)
    if own is None:
        return False
    return (
        QueueEntry.objects.filter(application=application, facility=own, status=QueueEntryStatus.OPEN).exists()
        or Offer.objects.filter(application=application, facility=own, state__in=LIVE_OFFER_STATES).exists()
        or Occupancy.objects.filter(
            application__applicant_id=application.applicant_id, facility=own, discharged_on__isnull=True
        ).exists()
    )


# --- retention (R-PRIV-3) ---------------------------------------------------------------------------


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


def persons_due_for_anonymising(*, today: dt.date | None = None) -> QuerySet[Applicant]:
    """People not yet anonymised, every application of whom has been final for `retention_years`
    (and who left any home they lived in as long ago: a resident's data is still needed)."""
    today = today or timezone.localdate()
    years = policy_in_force(today).parameters.retention_years
    cutoff = _years_before(today, years)
    tz = timezone.get_current_timezone()
    closed_before = dt.datetime.combine(cutoff, dt.time.min, tzinfo=tz)
    recent = Application.objects.filter(applicant=models.OuterRef("pk")).filter(
        ~Q(state__in=FINAL_STATES) | Q(closed_at__isnull=True) | Q(closed_at__gte=closed_before)
    )
    living_here = Occupancy.objects.filter(application__applicant=models.OuterRef("pk")).filter(
        Q(discharged_on__isnull=True) | Q(discharged_on__gte=cutoff)
    )
    return (
        Applicant.objects.filter(anonymised_at__isnull=True, applications__isnull=False)
        .exclude(models.Exists(recent))
        .exclude(models.Exists(living_here))
        .distinct()
    )


@dataclass
class AnonymisingReport:
    persons: int = 0
    applications: int = 0
    evidence_files: int = 0
    notifications: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "persons": self.persons,
            "applications": self.applications,
            "evidence_files": self.evidence_files,
            "notifications": self.notifications,
        }


REMOVED = "[removed]"  # R-PRIV-3: evidence of a person anonymised after the retention period


def person_anonymise(applicant: Applicant, *, report: AnonymisingReport, now: dt.datetime) -> None:
    """One person, in one transaction: name masked, ID number to its keyed hash, contact data,
    evidence files and notification recipients and bodies removed. References, events, decisions,
    offers, assessments' scores and statistics stay."""
    files: list[FieldFile] = []
    with transaction.atomic():
        applicant = Applicant.objects.select_for_update().get(pk=applicant.pk)
        if applicant.anonymised_at is not None:
            return  # another run did it meanwhile
        key_id, digest = id_number_hash(applicant.id_number or "")
        applicant.name = applicant.masked_name
        applicant.id_number = None
        applicant.id_number_hash = digest
        applicant.id_number_key_id = key_id
        applicant.phone = ""
        applicant.anonymised_at = now
        applicant.save(
            update_fields=["name", "id_number", "id_number_hash", "id_number_key_id", "phone", "anonymised_at"]
        )
        applications = Application.objects.filter(applicant=applicant)
        report.applications += applications.update(
            address="",
            contact_name="",
            contact_relation="",
            contact_phone="",
            contact_email="",
            contributor_exemption_note="",
        )
        for claim in CategoryClaim.objects.filter(application__applicant=applicant):
            if claim.evidence_file:
                files.append(claim.evidence_file)
                report.evidence_files += 1
            # The document's own reference (a certificate number) is personal data too.
            CategoryClaim.objects.filter(pk=claim.pk).update(evidence=REMOVED, evidence_file="")
        report.notifications += Notification.objects.filter(application__applicant=applicant).update(
            recipient="", body="", last_error=""
        )
        report.persons += 1

        def delete_files() -> None:  # only once the rows no longer name them
            for stored in files:
                try:
                    stored.storage.delete(stored.name)
                except OSError as exc:  # reported; the row no longer points at it
                    report.errors.append(f"{stored.name}: {exc.__class__.__name__}")

        transaction.on_commit(delete_files)


def persons_anonymise(*, today: dt.date | None = None) -> AnonymisingReport:
    """R-PRIV-3, the nightly task: idempotent (an anonymised person is never done twice)."""
    report = AnonymisingReport()
    now = timezone.now()
    for applicant in persons_due_for_anonymising(today=today).only("pk").iterator():
        person_anonymise(applicant, report=report, now=now)
    return report


# --- one person's data (R-PRIV-4) -------------------------------------------------------------------

# Kept out of the export: secrets and internal hashes, not data about the person.
NOT_EXPORTED = {"lookup_code_hash", "id_number_hash", "id_number_key_id", "version", "dedupe_key"}


def _value(value):
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, FieldFile):
        return bool(value)
    return value


def _record(obj: models.Model, *, skip: tuple[str, ...] = ()) -> dict:
    data = {}
    for model_field in obj._meta.concrete_fields:
        if model_field.name in NOT_EXPORTED or model_field.name in skip:
            continue
        if model_field.is_relation:
            related = getattr(obj, model_field.name)
            data[model_field.name] = str(related) if related is not None else None
        else:
            data[model_field.name] = _value(getattr(obj, model_field.attname))
    return data


def applicant_export(application: Application, *, user, where: str) -> dict:
    """Everything held about the person of this application (PIPL art. 45): the person, every one of
    their applications with its choices, claims, events, assessments, queue entries, offers,
    occupancy and notifications, and the access log of their ID number. Shows the full number, so
    the export itself is recorded (R-PRIV-1)."""
    applicant = application.applicant
    if applicant.id_number:
        id_access_record(user=user, applicant=applicant, application=application, where=where)
    person = _record(applicant)
    applications = []
    for each in applicant.applications.order_by("created_at", "id"):
        record = _record(each, skip=("applicant",))
        record["choices"] = [_record(c, skip=("application",)) for c in each.choices.order_by("rank")]
        record["categories"] = [_record(c, skip=("application",)) for c in each.category_claims.order_by("id")]
        record["events"] = [_record(e, skip=("application", "actor_user")) for e in each.events.order_by("at", "id")]
        record["assessments"] = [
            _record(a, skip=("application",)) for a in each.assessments.order_by("assessed_on", "id")
        ]
        record["queue_entries"] = [
            _record(q, skip=("application",)) for q in each.queue_entries.order_by("facility__code", "id")
        ]
        record["offers"] = [_record(o, skip=("application", "queue_entry")) for o in each.offers.order_by("made_at")]
        occupancy = Occupancy.objects.filter(application=each).first()
        record["occupancy"] = _record(occupancy, skip=("application", "offer")) if occupancy else None
        record["notifications"] = [
            _record(n, skip=("application",)) for n in each.notifications.order_by("created_at", "id")
        ]
        applications.append(record)
    accesses = [
        {
            "at": _value(access.at),
            "who": access.actor_name,
            "where": access.where,
            "application": access.application.reference if access.application else None,
        }
        for access in IdAccess.objects.filter(applicant=applicant).select_related("application").order_by("at", "id")
    ]
    return {
        "exported_at": _value(timezone.now()),
        "applicant": person,
        "applications": applications,
        "id_number_accesses": accesses,
    }
