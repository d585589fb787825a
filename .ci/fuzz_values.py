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
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import datetime as dt  # noqa: E402

from django.utils import timezone  # noqa: E402

from admissions.models import Application, CategoryClaim, Offer  # noqa: E402
from admissions.services.applications import lookup_code_issue  # noqa: E402
from assessments.models import Assessment  # noqa: E402
from core.actor import Actor  # noqa: E402
from facilities.models import Bed, Facility  # noqa: E402


def first(queryset, field: str, **states) -> str:
    """`field` of the first row in one of `states` (by primary key), else of any row, else ""."""
    row = queryset.filter(**states).order_by("pk").values_list(field, flat=True).first()
    if row is None:
        row = queryset.order_by("pk").values_list(field, flat=True).first()
    return "" if row is None else str(row)


def values() -> dict[str, str]:
    applications = Application.objects.all()
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
        "FUZZ_REFERENCE": first(applications, "reference", state="waiting"),
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
        "FUZZ_OFFER_ACCEPTED": first(Offer.objects.all(), "pk", state="accepted"),
        # One day after the accepted offer's admission deadline: within the one extension allowed.
        "FUZZ_ADMIT_BY": (timezone.localdate(accepted.admit_by) + dt.timedelta(days=1)).isoformat()
        if accepted and accepted.admit_by
        else today.isoformat(),
        "FUZZ_TODAY": today.isoformat(),
        "FUZZ_YEAR": str(today.year),
        "FUZZ_ASSESSMENT_DRAFT": first(Assessment.objects.all(), "pk", state="draft"),
        "FUZZ_ASSESSMENT_COMPLETED": first(Assessment.objects.all(), "pk", state="completed"),
    }


def render(template: str, found: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        text = found[match.group(1)]
        return text if text.isdigit() else json.dumps(text)

    return re.sub(r'"\$\{(FUZZ_[A-Z_]+)\}"', value, template)


if __name__ == "__main__":
    found = values()
    missing = [name for name, value in found.items() if not value]
    if missing:
        sys.exit(f"fuzz_values: the seeded data has no value for {', '.join(missing)}")
    source, target = sys.argv[1:3]
    Path(target).write_text(render(Path(source).read_text(encoding="utf-8"), found), encoding="utf-8")
