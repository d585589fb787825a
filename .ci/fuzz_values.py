"""Real values of the seeded demo data for schemathesis' path parameters (issue 16).

`.ci/schemathesis` seeds a throwaway database, then runs
`python .ci/fuzz_values.py schemathesis.toml $work/schemathesis.toml $work/fuzz_pools.json`: this
writes the config with
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

One target per act still leaves a single success per run: every later request on it is refused for
its state. So `pools()` makes, through the services as seed_demo does (its _Seeder), a pool of new
targets per one-shot act (POOL of them, each in the state the act needs) and writes them to
fuzz_pools.json, from which .ci/fuzz_hooks.py hands the next one to each valid request after a
success. It also gives the body fields that hold only for the target itself (an offer's new
admission deadline, a re-review's new assessment, an evidence file's content, a new person's ID
number with the birth date and sex it encodes) in every phase, where schemathesis.toml's body
parameters reach only the fuzzing phase.
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

from django.contrib.auth.models import User  # noqa: E402
from django.utils import timezone  # noqa: E402

from admissions.management.commands.seed_demo import QUEUED, ROLES, Plan, _Seeder  # noqa: E402
from admissions.models import (  # noqa: E402
    LIVE_OFFER_STATES,
    Applicant,
    Application,
    ApplicationState,
    CategoryClaim,
    Couple,
    CoupleMember,
    Offer,
    ReviewRequest,
    WebhookSubscription,
)
from admissions.people import People  # noqa: E402
from admissions.services.applications import application_suspend, lookup_code_issue  # noqa: E402
from admissions.services.assessments import assessment_approve, assessment_create  # noqa: E402
from admissions.services.beds import beds_add_batch  # noqa: E402
from admissions.services.changes import application_category_claim, application_category_verify  # noqa: E402
from admissions.services.couples import couple_link  # noqa: E402
from admissions.services.review_requests import (  # noqa: E402
    can_request_review,
    review_request_assign,
    review_request_create,
)
from admissions.services.webhooks import webhook_subscribe  # noqa: E402
from assessments.models import Assessment  # noqa: E402
from core.actor import Actor  # noqa: E402
from facilities.models import Bed, Facility, FacilityLevel  # noqa: E402
from facilities.roles import roles_assign  # noqa: E402
from facilities.services import facility_create  # noqa: E402


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


# Targets per one-shot act (.ci/fuzz_hooks.py): one for each pass of a phase over the act in a 600 s
# run (examples, coverage and its catch-ups, six of fuzzing, the stateful ones together), some for
# targets moved meanwhile, and a few for more successes in a fuzzing pass (beyond the hooks' RESERVE).
# Twelve ran out before the run's end (.ci/fuzz_hooks.py's report: "SPENT").
POOL = 16
# Targets for an act that does not move what it acts on (an edit): the hooks go on with one while it stays
# as made, and these are for when it does not.
SPARE = 3
API = "/api/v1"


class Clerk:
    """Makes the states a pool needs through the services, as seed_demo makes its demo data (its
    _Seeder: the same people, assessments and offers), from new applications, so nothing the
    values above point at is touched."""

    def __init__(self):
        users = {user.username: user for user in User.objects.filter(username__in=[name for name, _ in ROLES])}
        self.seeder = _Seeder(random.Random(1616), users)
        self.seeder.used_id_numbers.update(Applicant.objects.values_list("id_number", flat=True))
        homes = Facility.objects.filter(accepting_applications=True).select_related("district")
        self.by_district: dict[str, list[Facility]] = {}
        for home in homes:
            if home.level == FacilityLevel.DISTRICT:
                self.by_district.setdefault(home.district.code, []).append(home)
        self.city = [home for home in homes if home.level == FacilityLevel.CITY]
        self.actor = Actor(kind="system", name="ci-fuzz")

    def person(self, away_from: Facility | None = None):
        """A new person as the demo draws them; with `away_from`, one who does not choose that home."""
        if away_from is None:
            return self.seeder.intake(self.by_district, self.city)
        by_district = {code: [h for h in homes if h != away_from] for code, homes in self.by_district.items()}
        return self.seeder.intake(by_district, [home for home in self.city if home != away_from] or self.city)

    def applications(self, stage: str, n: int = POOL, away_from: Facility | None = None) -> list[Application]:
        """n new applications taken as far as `stage` (seed_demo's plans: draft, submitted,
        assessment_pending, review, or queued), each in that state; with `away_from`, of people who
        do not choose that home."""
        made = []
        for _ in range(n * 3):
            data, categories = self.person(away_from)
            application = self.seeder._drive(Plan(stage=stage, grade=2, data=data, categories=categories))
            application.refresh_from_db()
            wanted = ApplicationState.WAITING if stage == QUEUED else stage
            if application.state == wanted and not application.offers.filter(state__in=LIVE_OFFER_STATES).exists():
                made.append(application)
            if len(made) == n:
                break
        return made

    def reviewed(self, n: int = POOL) -> list[Application]:
        """In review with the assessment approved, so that approving the application may succeed."""
        made = self.applications(ApplicationState.REVIEW, n)
        for application in made:
            assessment = application.assessments.filter(state="completed").first()
            if assessment is not None:
                assessment_approve(assessment=assessment, actor=self.seeder.actors["reviewer"])
        return made

    def assessments(self, *, complete: bool, n: int = POOL, by=None) -> list[int]:
        """n assessments, drafts or completed, by `by` (a user; else the demo's assessor). A draft is
        completed or edited only by its own assessor: drafts for the API are the API client's own."""
        actor = Actor.for_user(by) if by is not None else self.seeder.actors["assessor"]
        ids = []
        for application in self.applications(ApplicationState.ASSESSMENT_PENDING, n):
            items, coma = self.seeder.items(2)
            assessment = assessment_create(
                application=application,
                assessed_on=timezone.localdate(),
                items=items,
                coma=coma,
                complete=complete,
                actor=actor,
            )
            ids.append(assessment.pk)
        return ids


def sharing_a_home(applications: list[Application]) -> list[tuple[Application, Application]]:
    """Pairs of the applications that chose a home in common (R-CPL-1), each application in one pair."""
    pairs, spare = [], list(applications)
    while spare:
        one = spare.pop(0)
        homes = set(one.choices.values_list("facility_id", flat=True))
        partner = next((o for o in spare if homes & set(o.choices.values_list("facility_id", flat=True))), None)
        if partner is not None:
            spare.remove(partner)
            pairs.append((one, partner))
    return pairs


def not_claiming(applications: list[Application], code: str) -> list[Application]:
    """Those of `applications` that do not claim category `code` yet: a person drawn as the demo draws
    them may have claimed it at intake, and a category is claimed once (409)."""
    return [a for a in applications if not a.category_claims.filter(code=code).exists()]


def refs(applications) -> list[dict]:
    return [{"path.reference": a.reference} for a in applications]


def ids(rows) -> list[dict]:
    return [{"path.id": pk} for pk in rows]


def pools(found: dict[str, str]) -> dict[str, list[dict]]:
    """Per operation, its targets (.ci/fuzz_hooks.py): each new, made here in the state its act needs,
    so the first is sure to be in it too; the one schemathesis.toml names (found[...]) only when none
    could be made."""
    clerk = Clerk()
    client = User.objects.get(username="fuzz-admin")  # the API token's user (.ci/schemathesis)
    home = Facility.objects.get(code=found["FUZZ_FACILITY"])
    beds = Bed.objects.filter(facility=home).order_by("pk")
    per_act: dict[str, list[dict]] = {}

    def pool(operation: str, first: dict, more: list[dict]) -> None:
        per_act[operation] = more or [first]

    # Offers: made by the allocation as seed_demo makes them (a resident leaves, the bed is offered);
    # pending ones to accept or decline, accepted ones to admit, fail or extend. First, so that the
    # allocation offers beds to these and not to the applications of the pools below.
    # (_offers stops once the whole data holds `offered` pending offers: the seeded ones count too.)
    clerk.applications(QUEUED, 6 * POOL)
    before = set(Offer.objects.values_list("pk", flat=True))
    waiting = Offer.objects.filter(state="pending").count()
    clerk.seeder._offers(admitted=0, admission_check=3 * POOL, offered=waiting + 2 * POOL)
    new = Offer.objects.exclude(pk__in=before).order_by("pk")
    pending = list(new.filter(state="pending").values_list("pk", flat=True))
    accepted = list(new.filter(state="accepted"))
    offers = "POST " + API + "/offers/{id}"
    pool(f"{offers}/accept/", {"path.id": int(found["FUZZ_OFFER_PENDING"])}, ids(pending[::2]))
    pool(f"{offers}/decline/", {"path.id": int(found["FUZZ_OFFER_PENDING_DECLINE"])}, ids(pending[1::2]))
    first_accepted = {"path.id": int(found["FUZZ_OFFER_ACCEPTED"])}
    pool(
        f"{offers}/admit/",
        {**first_accepted, "body.admitted_on": found["FUZZ_TODAY"]},
        [{"path.id": o.pk, "body.admitted_on": found["FUZZ_TODAY"]} for o in accepted[0::3]],
    )
    pool(f"{offers}/fail-check/", first_accepted, ids(o.pk for o in accepted[1::3]))
    pool(
        f"{offers}/extend-admission/",
        {**first_accepted, "body.admit_by": found["FUZZ_ADMIT_BY"]},
        [
            {"path.id": o.pk, "body.admit_by": (timezone.localdate(o.admit_by) + dt.timedelta(days=1)).isoformat()}
            for o in accepted[2::3]
        ],
    )
    app = f"POST {API}/applications/{{reference}}"
    for act, name in (("withdraw", "WITHDRAW"), ("remove", "REMOVE"), ("suspend", "SUSPEND")):
        pool(f"{app}/{act}/", {"path.reference": found[f"FUZZ_REFERENCE_{name}"]}, refs(clerk.applications(QUEUED)))
    suspended = clerk.applications(QUEUED)
    for application in suspended:
        application_suspend(application=application, reason="住院治疗", actor=clerk.actor)
    pool(f"{app}/resume/", {"path.reference": found["FUZZ_REFERENCE_SUSPENDED"]}, refs(suspended))
    for act, name in (("approve", "APPROVE"), ("reject", "REJECT"), ("return-for-assessment", "RETURN")):
        pool(f"{app}/{act}/", {"path.reference": found[f"FUZZ_REFERENCE_{name}"]}, refs(clerk.reviewed()))
    pool(f"{app}/submit/", {"path.reference": found["FUZZ_REFERENCE_DRAFT"]}, refs(clerk.applications("draft")))
    pool(
        f"{app}/accept-for-assessment/",
        {"path.reference": found["FUZZ_REFERENCE_SUBMITTED"]},
        refs(clerk.applications("submitted")),
    )
    # A draft (schemathesis.toml says why completing at once is left to `/assessments/{id}/complete/`).
    today = {"body.assessed_on": found["FUZZ_TODAY"], "body.complete": False}
    pool(
        f"{app}/assessments/",
        {"path.reference": found["FUZZ_REFERENCE_ASSESSMENT_PENDING"], **today},
        [{**t, **today} for t in refs(clerk.applications("assessment_pending"))],
    )
    # Re-reviews: asked for on an application just approved, within the window (R-ASM-6).
    fresh = [a for a in clerk.applications(QUEUED, 2 * POOL) if can_request_review(a)]
    pool(f"{app}/review-requests/", {"path.reference": fresh[0].reference}, refs(fresh))
    # Re-reviews to assign, to an assessor who took no part in the assessment (R-ASM-6), and ones whose
    # new assessment that assessor has recorded, to decide.
    assessor, _ = User.objects.get_or_create(username="fuzz-assessor", defaults={"is_staff": True})
    roles_assign(user=assessor, roles=["assessor"])
    assign = {"path.id": int(found["FUZZ_REVIEW_REQUEST"]), "body.assessor": assessor.username}
    per_act[f"POST {API}/review-requests/{{id}}/assign/"] = [assign]
    decide = []
    for application in [a for a in clerk.applications(QUEUED, 2 * POOL) if can_request_review(a)][:POOL]:
        request = review_request_create(application=application, reason="家属对评估等级有异议", actor=clerk.actor)
        review_request_assign(review_request=request, assessor=assessor, actor=clerk.actor)
        items, coma = clerk.seeder.items(3)
        new = assessment_create(
            application=application,
            assessed_on=timezone.localdate(),
            items=items,
            coma=coma,
            complete=True,
            actor=Actor.for_user(assessor),
        )
        decide.append({"path.id": request.pk, "body.assessment": new.pk})
    per_act[f"POST {API}/review-requests/{{id}}/decide/"] = decide
    # New people who may apply (R-APP-1…7): ID number, birth date and sex agree; their own homes.
    people = []
    for _ in range(4 * POOL):
        data, _categories = clerk.person()
        people.append(
            {
                "body.applicant.name": data.name,
                "body.applicant.id_number": data.id_number,
                "body.applicant.date_of_birth": data.date_of_birth.isoformat(),
                "body.applicant.sex": data.sex,
                "body.applicant.hukou_district": data.residence_district,
                "body.applicant.residence_district": data.residence_district,
                "body.choices": [data.choices[0]],
                "body.categories": [],
                "body.spouse_resident_in": [],
                "body.declarations": {"no_infectious_disease": True, "no_serious_mental_disorder": True},
            }
        )
    per_act[f"POST {API}/applications/"] = people
    # Couples: two new queued applications that chose the same home (R-CPL-1), and couples to unlink.
    # Not of the home whose beds the fuzzer frees and adds (schemathesis.toml's "path.code"): each is
    # offered to the head of its queue there, and an application with a bed offer may not be linked
    # (R-CPL-1). (Beds freed elsewhere, by a declined offer say, still reach one now and then.)
    pairs = sharing_a_home(clerk.applications(QUEUED, 5 * POOL, away_from=home))
    pool(
        f"POST {API}/couples/",
        {"body.applications": [found["FUZZ_COUPLE_A"], found["FUZZ_COUPLE_B"]]},
        [{"body.applications": [a.reference, b.reference]} for a, b in pairs[:POOL]],
    )
    couples = [
        couple_link(applications=[a.reference, b.reference], mode="either_first", reason="夫妻", actor=clerk.actor).pk
        for a, b in pairs[POOL:]
    ]
    pool(f"DELETE {API}/couples/{{id}}/", {"path.id": int(found["FUZZ_COUPLE"])}, ids(couples))
    # New category claims (R-CHG-2), one per application and code: new queued applications of their own.
    pool(f"{app}/categories/", {"path.reference": found["FUZZ_REFERENCE"]}, refs(clerk.applications(QUEUED)))
    # Webhooks go to this machine only (.ci/schemathesis: WEBHOOK_ALLOWED_HOSTS), in every phase; one to
    # read and list the deliveries of, and others to end, so that ending one leaves the other readable.
    # The requests meant to be invalid end the one schemathesis.toml names for DELETE (an unknown query
    # parameter does not stop a DELETE), so that one is neither read nor in the pool.
    hook = {"url": "http://127.0.0.1:9/fuzz-webhook", "events": ["application.state_changed"]}
    per_act[f"POST {API}/webhooks/"] = [{"body.url": hook["url"]}]
    made = [webhook_subscribe(**hook, secret="fuzz-" + "0" * 32, actor=clerk.actor).pk for _ in range(POOL + 2)]
    found |= {"FUZZ_WEBHOOK": str(made[0]), "FUZZ_WEBHOOK_DELETE": str(made[1])}
    for label in (f"GET {API}/webhooks/{{id}}/", f"GET {API}/webhooks/{{id}}/deliveries/"):
        per_act[label] = ids(made[:1])
    per_act[f"DELETE {API}/webhooks/{{id}}/"] = ids(made[2:])
    # Category claims to verify, and verified ones to end: of codes the toml's own claims do not use (a
    # path parameter rewritten to the value the toml gave is judged as schemathesis had generated it).
    claimed = not_claiming(clerk.applications(QUEUED), "heroic_deed")
    for application in claimed:
        application_category_claim(
            application=application, code="heroic_deed", evidence="见义勇为证书 穗见字第2019015号", actor=clerk.actor
        )
    pool(
        f"POST {API}/applications/{{reference}}/categories/{{code}}/verify/",
        {"path.reference": found["FUZZ_CLAIMED"], "path.code": found["FUZZ_CLAIMED_CATEGORY"]},
        [{"path.reference": a.reference, "path.code": "heroic_deed"} for a in claimed],
    )
    # Twice the pool: ending a claim is refused for every later pass on the same one (409), and a run
    # reported this operation "mostly rejected" when its last pass found the pool spent.
    verified = not_claiming(clerk.applications(QUEUED, 2 * POOL), "family_planning_special")
    for application in verified:
        application_category_claim(
            application=application,
            code="family_planning_special",
            evidence="计划生育特殊家庭证明 穗卫字第2020031号",
            actor=clerk.actor,
        )
        application_category_verify(
            application=application, code="family_planning_special", verified=True, note="已核对原件", actor=clerk.actor
        )
    pool(
        f"POST {API}/applications/{{reference}}/categories/{{code}}/end/",
        {"path.reference": found["FUZZ_VERIFIED"], "path.code": found["FUZZ_VERIFIED_CATEGORY"]},
        [{"path.reference": a.reference, "path.code": "family_planning_special"} for a in verified],
    )
    # The changes of R-CHG-2 with the values they keep valid: the application's own districts and home,
    # the ID number with the birth date and sex it encodes (R-APP-1). Applications of their own, new,
    # so at the end of the queue: the head of the queue is offered the beds the fuzzer frees, and an
    # offered application may no longer change its districts, homes or family situation. Not one-shot:
    # a few, for when one is offered a bed all the same (.ci/fuzz_hooks.py goes on with one that is not).
    for changing in clerk.applications(QUEUED, SPARE):
        at = {"path.reference": changing.reference}
        district = changing.hukou_district.code
        first_home = changing.choices.order_by("rank").first().facility.code
        applicant = changing.applicant
        for tail, target in (
            ("districts/", {**at, "body.hukou_district": district, "body.residence_district": district}),
            ("choices/", {**at, "body.choices": [first_home]}),
            ("family-situation/", {**at, "body.spouse_resident_in": []}),
            ("contact/", at),
            (
                "personal-details/",
                {
                    **at,
                    "body.applicant.id_number": applicant.id_number,
                    "body.applicant.date_of_birth": applicant.date_of_birth.isoformat(),
                    "body.applicant.sex": applicant.sex,
                },
            ),
        ):
            per_act.setdefault(f"{app}/{tail}", []).append(target)
    # Corrections before approval (R-CHG-1): submitted applications of their own.
    per_act[f"PATCH {API}/applications/{{reference}}/"] = refs(clerk.applications("submitted", SPARE))
    # The family's lookup and re-confirmation (R-PUB-1, R-CHG-3) with the code issued above, in every phase.
    family = {"body.reference": found["FUZZ_LOOKUP_REFERENCE"], "body.code": found["FUZZ_LOOKUP_CODE"]}
    per_act[f"POST {API}/public/lookup/"] = [family]
    per_act[f"POST {API}/public/reconfirm/"] = [family]
    # Evidence: a category claimed at intake, on an application that may still be corrected (R-APP-8),
    # and a file whose content is a PDF (no document can say that of a generated file).
    data, _categories = clerk.person()
    data.categories = [{"code": "dibao", "evidence": "最低生活保障证 穗民低字第202400123号"}]
    submitted = clerk.seeder._drive(Plan(stage="submitted", grade=2, data=data))
    # As text, not bytes: schemathesis takes a body holding bytes for one that breaks the document.
    pdf = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    # The application goes into schemathesis.toml, not the pool: a path parameter the hook rewrites to the
    # value the toml gave is judged by what schemathesis had generated before the toml replaced it.
    found |= {"FUZZ_EVIDENCE_REFERENCE": submitted.reference, "FUZZ_CATEGORY": "dibao"}
    per_act[f"POST {API}/applications/{{reference}}/categories/{{code}}/evidence/"] = [{"body.file": pdf}]

    # Beds of the home in each state.
    def bed_ids(status):
        return list(beds.filter(status=status).values_list("pk", flat=True)[: 2 * POOL])

    # New homes that take no applications, so that no one waits there and no bed of theirs is offered:
    # the allocation had offered nearly every vacant bed of the data before the run began. One has
    # vacant beds to take out of service; each of the others takes batches of beds until it holds a
    # home's most (5,000: a full home refuses a batch, 422), the home of schemathesis.toml's "path.code"
    # being full after a few batches of up to 2,000.
    quiet = [
        facility_create(
            code=f"FZ-QUIET-{n:02d}",
            values={
                "name": f"模糊测试空置院{n}",
                "district": found["FUZZ_DISTRICT"],
                "level": "district",
                "accepting_applications": False,
            },
            actor_name="ci-fuzz",
        )
        for n in range(POOL + 1)
    ]
    vacant, _decisions = beds_add_batch(facility=quiet[0], bed_type="general", count=2 * POOL, prefix="FZ")
    pool(
        f"POST {API}/beds/{{id}}/out-of-service/", {"path.id": int(found["FUZZ_BED_VACANT"])}, ids(b.pk for b in vacant)
    )
    per_act[f"POST {API}/facilities/{{code}}/beds/batch/"] = [{"path.code": home.code} for home in quiet[1:]]
    pool(
        f"POST {API}/beds/{{id}}/return-to-service/",
        {"path.id": int(found["FUZZ_BED_OUT_OF_SERVICE"])},
        ids(Bed.objects.filter(status="out_of_service").order_by("pk").values_list("pk", flat=True)[: 2 * POOL]),
    )
    discharge = {"body.date": found["FUZZ_TODAY"]}
    pool(
        f"POST {API}/beds/{{id}}/discharge/",
        {"path.id": int(found["FUZZ_BED_OCCUPIED"]), **discharge},
        [{**t, **discharge} for t in ids(bed_ids("occupied"))],
    )
    # Assessments: drafts to complete, drafts to edit, completed ones to approve or reject.
    assessments = "POST " + API + "/assessments/{id}"
    # PATCH edits drafts (not one-shot) of its own: the seeded data may hold none. A few: one completed
    # meanwhile is never edited again (409), and a run whose one draft was reported it mostly rejected.
    # (an assessment date the document cannot bound: not after today, not before the validity runs out)
    per_act[f"PATCH {API}/assessments/{{id}}/"] = [
        {**target, "body.assessed_on": found["FUZZ_TODAY"]}
        for target in ids(clerk.assessments(complete=False, n=SPARE, by=client))
    ]
    pool(
        f"{assessments}/complete/",
        {"path.id": int(found["FUZZ_ASSESSMENT_DRAFT"])},
        ids(clerk.assessments(complete=False, by=client)),
    )
    for act in ("approve", "reject"):
        pool(
            f"{assessments}/{act}/",
            {"path.id": int(found["FUZZ_ASSESSMENT_COMPLETED"])},
            ids(clerk.assessments(complete=True)),
        )
    return per_act


# What must still hold of a target for its act: the state it was made in. .ci/fuzz_hooks.py reads these
# queries' answers when the run starts and again before it hands a target out, and skips one whose answers
# have changed meanwhile (an application offered a bed elsewhere, a draft assessment completed, a claim
# ended by an earlier pass): every valid request on it would be refused (409, 422), and a pass that met
# nothing else was reported "mostly rejected".
HELD_BY_ID = {
    "offers": (Offer, ("state", "admit_by_extended_at")),
    "beds": (Bed, ("status",)),
    "assessments": (Assessment, ("state",)),
    "couples": (Couple, ("unlinked_at",)),
    "review-requests": (ReviewRequest, ("state",)),
    "webhooks": (WebhookSubscription, ("active",)),
}


def what_holds(label: str, target: dict) -> list:
    """The queries (values_list) whose answers say that `target` is still as it was made for `label`'s act."""
    resource = label.split()[1].split("/")[3]  # "POST /api/v1/offers/{id}/accept/" -> "offers"
    if "path.id" in target and resource in HELD_BY_ID:
        model, fields = HELD_BY_ID[resource]
        return [model.objects.filter(pk=target["path.id"]).values_list(*fields)]
    if "path.reference" in target:
        reference = target["path.reference"]
        queries = [Application.objects.filter(reference=reference).values_list("state")]
        if "path.code" in target:
            claim = CategoryClaim.objects.filter(application__reference=reference, code=target["path.code"])
            queries.append(claim.values_list("status"))
        # Acts that add to an application without moving it: what they add, each added once (a category
        # claimed twice is 409, a second re-review of one assessment too). Without it a pass went on with
        # an application whose every category the earlier passes had claimed, and met only 409s.
        if label.endswith("/categories/"):
            queries.append(
                CategoryClaim.objects.filter(application__reference=reference).order_by("code").values_list("code")
            )
        if label.endswith("/review-requests/"):
            queries.append(
                ReviewRequest.objects.filter(application__reference=reference).order_by("pk").values_list("pk")
            )
        return queries
    if "body.applications" in target:  # two applications to link: neither offered a bed nor linked since
        references = target["body.applications"]
        return [
            Application.objects.filter(reference__in=references)
            .order_by("reference")
            .values_list("reference", "state"),
            CoupleMember.objects.filter(application__reference__in=references, live=True)
            .order_by("pk")
            .values_list("pk"),
        ]
    if "body.applicant.id_number" in target:  # a new person: no one registered with that ID number since
        return [Applicant.objects.filter(id_number=target["body.applicant.id_number"]).values_list("pk")]
    return []


def with_what_holds(per_act: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Each target with its queries as SQL for sqlite3 ("holds": [[sql, params], ...]), the hooks' reader."""
    for label, targets in per_act.items():
        for target in targets:
            held = []
            for query in what_holds(label, target):
                sql, params = query.query.sql_with_params()
                held.append([sql.replace("%s", "?"), list(params)])
            if held:
                target["holds"] = held
    return per_act


if __name__ == "__main__":
    found = values()
    missing = [name for name, value in found.items() if not value]
    if missing:
        sys.exit(f"fuzz_values: the seeded data has no value for {', '.join(missing)}")
    source, target, pools_file = sys.argv[1:4]
    made = with_what_holds(pools(found))  # first: it makes some of the values the toml names
    Path(target).write_text(render(Path(source).read_text(encoding="utf-8"), found), encoding="utf-8")
    Path(pools_file).write_text(json.dumps(made, ensure_ascii=False, indent=1), encoding="utf-8")
