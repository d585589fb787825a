"""Real values of the seeded demo data for schemathesis' path parameters (issue 16).

`.ci/schemathesis` seeds a throwaway database, then runs
`python .ci/fuzz_values.py schemathesis.toml $work/schemathesis.toml`: this writes the config with
each `"${FUZZ_…}"` of its `[parameters]` and `[[operations]]` tables replaced by the value (a
whole number unquoted, so that an integer path parameter gets an integer: a string "12" would be
a schema violation that the API rightly accepts, ST201). Without them nearly every generated
reference, code or id is unknown and the operation answers 404 ("mostly rejected"): with them the
fuzzer reaches the checks behind the lookup. Each value is chosen in the state its operations act
on (a submitted application for accept-for-assessment, a pending offer for accept, …); where the
data has none, the first of any state, so the run still starts.

An act that ends or moves what it acts on (withdraw, remove, suspend, reject, approve, decline, …)
gets an application or offer of its own: sharing one, the first act to run leaves the others
nothing but 409s and 422s ("mostly rejected"). The few things the seeded data never holds (a
category claimed while queued, a couple, a re-review) are made here through the services, as a
clerk would.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()
# The services called below log each notice they send; the CI log wants schemathesis' report, not those.
logging.disable(logging.WARNING)

import datetime as dt  # noqa: E402
import random  # noqa: E402

from django.utils import timezone  # noqa: E402

from admissions.models import LIVE_OFFER_STATES, Applicant, Application, CategoryClaim, Offer  # noqa: E402
from admissions.people import People  # noqa: E402
from admissions.services.applications import lookup_code_issue  # noqa: E402
from admissions.services.changes import application_category_claim  # noqa: E402
from admissions.services.couples import couple_link  # noqa: E402
from admissions.services.review_requests import review_request_create  # noqa: E402
from assessments.models import Assessment  # noqa: E402
from core.actor import Actor  # noqa: E402
from facilities.models import Bed, Facility, FacilityLevel  # noqa: E402


def first(queryset, field: str, **states) -> str:
    """`field` of the first row in one of `states` (by primary key), else of any row, else ""."""
    row = queryset.filter(**states).order_by("pk").values_list(field, flat=True).first()
    if row is None:
        row = queryset.order_by("pk").values_list(field, flat=True).first()
    return "" if row is None else str(row)


def nth(queryset, field: str, n: int, **states) -> str:
    """`field` of the n-th row (from 0, by primary key) in one of `states`, else as `first`."""
    rows = list(queryset.filter(**states).order_by("pk").values_list(field, flat=True)[: n + 1])
    return str(rows[n]) if len(rows) > n else first(queryset, field, **states)


def queued_without_offer():
    """Waiting applications with no live offer: the ones every change of R-CHG-2 may act on."""
    return Application.objects.filter(state="waiting").exclude(offers__state__in=LIVE_OFFER_STATES).order_by("pk")


def made_by_a_clerk(queued: list[Application]) -> dict[str, str]:
    """A category claimed while queued (to verify), a couple (to unlink) and a re-review (to assign and
    decide): states the seeded data never holds, made through the services. Each from its own
    applications, from the end of `queued`, away from those the other operations act on."""
    clerk = Actor(kind="system", name="ci-fuzz")
    found = {"FUZZ_CLAIMED": "", "FUZZ_CLAIMED_CATEGORY": "", "FUZZ_COUPLE": "", "FUZZ_REVIEW_REQUEST": ""}
    spare = list(reversed(queued))
    if spare:
        claimed = spare.pop(0)
        taken = set(claimed.category_claims.values_list("code", flat=True))
        code = next(c for c in ("dibao", "youfu", "model_worker", "tekun", "low_income") if c not in taken)
        application_category_claim(
            application=claimed, code=code, evidence="最低生活保障证 穗民低字第202400123号", actor=clerk
        )
        found |= {"FUZZ_CLAIMED": claimed.reference, "FUZZ_CLAIMED_CATEGORY": code}
    for i, one in enumerate(spare):
        homes = set(one.choices.values_list("facility_id", flat=True))
        partner = next(
            (o for o in spare[i + 1 :] if homes & set(o.choices.values_list("facility_id", flat=True))), None
        )
        if partner is not None:
            couple = couple_link(
                applications=[one.reference, partner.reference], mode="either_first", reason="夫妻", actor=clerk
            )
            found["FUZZ_COUPLE"] = str(couple.pk)
            spare = [a for a in spare if a.pk not in (one.pk, partner.pk)]
            break
    for application in spare:
        try:
            found["FUZZ_REVIEW_REQUEST"] = str(
                review_request_create(application=application, reason="家属对评估等级有异议", actor=clerk).pk
            )
            break
        except Exception:  # noqa: BLE001 - outside the re-review window: try the next one
            continue
    return found


def new_applicant() -> dict[str, str]:
    """A person who may apply (R-APP-1…7), as the demo's people are drawn: a valid ID number of
    someone over 60 who has no application yet, a district of the city and homes they may choose."""
    homes = Facility.objects.filter(accepting_applications=True).select_related("district")
    by_district: dict[str, list[Facility]] = {}
    for home in homes:
        if home.level == FacilityLevel.DISTRICT:
            by_district.setdefault(home.district.code, []).append(home)
    city = [home for home in homes if home.level == FacilityLevel.CITY]
    if not city:
        return {}
    people = People(random.Random(16))
    people.used_id_numbers.update(Applicant.objects.values_list("id_number", flat=True))
    data, _categories = people.intake(by_district, city)
    return {
        "FUZZ_NEW_NAME": data.name,
        "FUZZ_NEW_ID_NUMBER": data.id_number,
        "FUZZ_NEW_BORN": data.date_of_birth.isoformat(),
        "FUZZ_NEW_SEX": data.sex,
        "FUZZ_NEW_DISTRICT": data.residence_district,
        "FUZZ_NEW_CHOICE": data.choices[0],
    }


def values() -> dict[str, str]:
    applications = Application.objects.all()
    queued = list(queued_without_offer())
    # Two waiting applications that share a home, for POST /couples/ (R-CPL-1); from the middle of
    # the list, clear of the ones acted on by position below and of those made_by_a_clerk takes.
    pair = next(
        (
            (a, b)
            for i, a in enumerate(queued[6:-4], start=6)
            for b in queued[i + 1 : -4]
            if set(a.choices.values_list("facility_id", flat=True))
            & set(b.choices.values_list("facility_id", flat=True))
        ),
        (None, None),
    )
    clerk = made_by_a_clerk(queued)
    changed = queued[4] if len(queued) > 4 else None
    reference = queued[0] if queued else None
    pairs = [a.pk for a in pair if a is not None]
    verified = (
        CategoryClaim.objects.filter(status="verified", application__in=queued[5:-4])
        .exclude(application__in=pairs)
        .order_by("pk")
        .first()
    )
    home = (
        Facility.objects.filter(beds__status="vacant", accepting_applications=True).order_by("code").first()
        or Facility.objects.order_by("code").first()
    )
    lookup = applications.filter(state="waiting").order_by("pk").last() or applications.order_by("pk").last()
    # Codes are kept only as hashes: a new one is issued for one application of this throwaway data.
    code = lookup_code_issue(application=lookup, actor=Actor(kind="system", name="ci-fuzz")) if lookup else ""
    today = timezone.localdate()
    accepted = Offer.objects.filter(state="accepted").order_by("pk").first()
    claim = CategoryClaim.objects.exclude(evidence_file="").select_related("application").order_by("pk").first()
    return {
        "FUZZ_REFERENCE": queued[0].reference if queued else first(applications, "reference", state="waiting"),
        # Acts that end or move an application, each on its own (see the module's docstring).
        "FUZZ_REFERENCE_WITHDRAW": queued[1].reference if len(queued) > 1 else first(applications, "reference"),
        "FUZZ_REFERENCE_REMOVE": queued[2].reference if len(queued) > 2 else first(applications, "reference"),
        "FUZZ_REFERENCE_SUSPEND": queued[3].reference if len(queued) > 3 else first(applications, "reference"),
        "FUZZ_REFERENCE_CHANGES": queued[4].reference if len(queued) > 4 else first(applications, "reference"),
        "FUZZ_REFERENCE_APPROVE": nth(applications, "reference", 0, state="review"),
        "FUZZ_REFERENCE_REJECT": nth(applications, "reference", 1, state="review"),
        "FUZZ_REFERENCE_RETURN": nth(applications, "reference", 2, state="review"),
        "FUZZ_VERIFIED": verified.application.reference if verified else first(applications, "reference"),
        "FUZZ_VERIFIED_CATEGORY": verified.code if verified else "dibao",
        "FUZZ_COUPLE_A": pair[0].reference if pair[0] else first(applications, "reference"),
        "FUZZ_COUPLE_B": pair[1].reference if pair[1] else first(applications, "reference"),
        **clerk,
        **new_applicant(),
        # What the changes of R-CHG-2 keep valid: the applicant's own districts and first home, and
        # (personal details) the ID number with the birth date and sex it encodes (R-APP-1).
        "FUZZ_REFERENCE_DISTRICT": reference.hukou_district.code if reference and reference.hukou_district else "",
        "FUZZ_REFERENCE_CHOICE": reference.choices.order_by("rank").first().facility.code if reference else "",
        "FUZZ_CHANGES_ID_NUMBER": changed.applicant.id_number if changed else "",
        "FUZZ_CHANGES_BORN": changed.applicant.date_of_birth.isoformat() if changed else "",
        "FUZZ_CHANGES_SEX": changed.applicant.sex if changed else "",
        "FUZZ_REFERENCE_DRAFT": first(applications, "reference", state="draft"),
        "FUZZ_REFERENCE_SUBMITTED": first(applications, "reference", state="submitted"),
        "FUZZ_REFERENCE_ASSESSMENT_PENDING": first(applications, "reference", state="assessment_pending"),
        "FUZZ_REFERENCE_IN_REVIEW": first(applications, "reference", state="review"),
        "FUZZ_REFERENCE_SUSPENDED": first(applications, "reference", state="suspended"),
        "FUZZ_EVIDENCE_REFERENCE": claim.application.reference if claim else first(applications, "reference"),
        "FUZZ_CATEGORY": claim.code if claim else "dibao",
        "FUZZ_FACILITY": home.code if home else "",
        "FUZZ_DISTRICT": home.district.code if home else "",
        "FUZZ_LOOKUP_REFERENCE": lookup.reference if lookup else "",
        "FUZZ_LOOKUP_CODE": code,
        "FUZZ_FROM": (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1).isoformat(),
        "FUZZ_TO": (today.replace(day=1) - dt.timedelta(days=1)).isoformat(),
        "FUZZ_BED_OCCUPIED": first(Bed.objects.filter(facility=home), "pk", status="occupied"),
        "FUZZ_BED_VACANT": first(Bed.objects.filter(facility=home), "pk", status="vacant"),
        "FUZZ_BED_OUT_OF_SERVICE": first(Bed.objects.all(), "pk", status="out_of_service"),
        "FUZZ_OFFER_PENDING": first(Offer.objects.all(), "pk", state="pending"),
        "FUZZ_OFFER_PENDING_DECLINE": nth(Offer.objects.all(), "pk", 1, state="pending"),
        "FUZZ_OFFER_ACCEPTED": first(Offer.objects.all(), "pk", state="accepted"),
        # One day after the accepted offer's admission deadline: within the one extension allowed.
        "FUZZ_ADMIT_BY": (timezone.localdate(accepted.admit_by) + dt.timedelta(days=1)).isoformat()
        if accepted and accepted.admit_by
        else today.isoformat(),
        "FUZZ_TODAY": today.isoformat(),
        # A policy version takes effect today or later (R-POL-1): a month ahead, clear of today's.
        "FUZZ_POLICY_FROM": (today + dt.timedelta(days=30)).isoformat(),
        "FUZZ_YEAR": str(today.year),
        "FUZZ_ASSESSMENT_DRAFT": first(Assessment.objects.all(), "pk", state="draft"),
        # PATCH edits a draft that complete/ does not finish first.
        "FUZZ_ASSESSMENT_DRAFT_EDIT": nth(Assessment.objects.all(), "pk", 1, state="draft"),
        "FUZZ_ASSESSMENT_COMPLETED": first(Assessment.objects.all(), "pk", state="completed"),
    }


def render(template: str, found: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        text = found[match.group(1)]
        # An ID number is text of digits (its schema is a string): quoted like any other text.
        return text if text.isdigit() and "ID_NUMBER" not in match.group(1) else json.dumps(text)

    return re.sub(r'"\$\{(FUZZ_[A-Z_]+)\}"', value, template)


if __name__ == "__main__":
    found = values()
    missing = [name for name, value in found.items() if not value]
    if missing:
        sys.exit(f"fuzz_values: the seeded data has no value for {', '.join(missing)}")
    source, target = sys.argv[1:3]
    Path(target).write_text(render(Path(source).read_text(encoding="utf-8"), found), encoding="utf-8")
