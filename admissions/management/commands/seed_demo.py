"""`python manage.py seed_demo`: a Guangzhou-like city to try the product with (issue 2).

The homes and the beds they already had are written straight into the tables: years of residents
who came in before the product existed are not something our services could have produced. Every
application, though, goes through the real services (intake, assessment, approval, allocation,
offers, discharges), so each event, queue entry, allocation decision and offer is what the product
itself would have written.

Idempotent: when the demo homes exist it only re-ensures the demo users and prints the logins.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from admissions.models import (
    Application,
    ApplicationState,
    Occupancy,
    Offer,
    OfferState,
    QueueEntry,
    QueueEntryStatus,
)
from admissions.people import GRADE_WEIGHTS, People
from admissions.quiet import quiet_loggers
from admissions.selectors import policy_in_force
from admissions.services import applications as application_services
from admissions.services import assessments as assessment_services
from admissions.services import beds as bed_services
from admissions.services import offers as offer_services
from admissions.services.applications import IntakeData
from core.actor import Actor
from facilities.models import Bed, BedStatus, BedType, CareLevel, District, Facility, FacilityLevel
from facilities.roles import roles_assign
from facilities.selectors import self_care_cap

S = ApplicationState
DEFAULT_DEMO_PASSWORD = "demo-pass-2026"
DEFAULT_SEED = 2026
MIN_APPLICATIONS = 24  # fewer cannot show every state of SPEC §5

# --- the city ---------------------------------------------------------------------------------
# (code, name, district, address). Invented, but shaped like Guangzhou's public homes: 3 city-level
# and 13 district-level (SPEC §1).
CITY_HOMES = [
    ("GZC01", "广州市老人院", "baiyun", "广州市白云区同和街云景路83号"),
    ("GZC02", "广州市第二老人院", "panyu", "广州市番禺区大石街石北路128号"),
    ("GZC03", "广州市福利院", "haizhu", "广州市海珠区南洲路399号"),
]
DISTRICT_HOMES = [
    ("YX01", "越秀区老人院", "yuexiu", "广州市越秀区东风中路316号"),
    ("HZ01", "海珠区社会福利院", "haizhu", "广州市海珠区江南大道南542号"),
    ("LW01", "荔湾区老人院", "liwan", "广州市荔湾区芳村大道中211号"),
    ("TH01", "天河区老人院", "tianhe", "广州市天河区龙洞北路88号"),
    ("BY01", "白云区老人院", "baiyun", "广州市白云区太和镇北太路1633号"),
    ("BY02", "白云区江高颐养院", "baiyun", "广州市白云区江高镇江同路26号"),
    ("HP01", "黄埔区社会福利院", "huangpu", "广州市黄埔区萝岗街开创大道1501号"),
    ("PY01", "番禺区社会福利院", "panyu", "广州市番禺区市桥街福愉东路50号"),
    ("PY02", "番禺区沙湾颐养院", "panyu", "广州市番禺区沙湾街福涌路9号"),
    ("HD01", "花都区社会福利院", "huadu", "广州市花都区新华街公益路71号"),
    ("NS01", "南沙区颐养院", "nansha", "广州市南沙区黄阁镇市南大道230号"),
    ("CH01", "从化区老人院", "conghua", "广州市从化区街口街河滨北路112号"),
    ("ZC01", "增城区社会福利院", "zengcheng", "广州市增城区荔城街府佑路168号"),
]
DEMO_FACILITY_CODES = [home[0] for home in CITY_HOMES + DISTRICT_HOMES]
# Issue 15: English pages show a home's English name and address (made-up demo addresses, as above).
HOMES_EN = {
    "GZC01": ("Guangzhou Elderly Home", "83 Yunjing Road, Tonghe, Baiyun District, Guangzhou"),
    "GZC02": ("Guangzhou Second Elderly Home", "128 Shibei Road, Dashi, Panyu District, Guangzhou"),
    "GZC03": ("Guangzhou Welfare Home", "399 Nanzhou Road, Haizhu District, Guangzhou"),
    "YX01": ("Yuexiu District Elderly Home", "316 Dongfeng Middle Road, Yuexiu District, Guangzhou"),
    "HZ01": ("Haizhu District Social Welfare Home", "542 Jiangnan Avenue South, Haizhu District, Guangzhou"),
    "LW01": ("Liwan District Elderly Home", "211 Fangcun Avenue Middle, Liwan District, Guangzhou"),
    "TH01": ("Tianhe District Elderly Home", "88 Longdong North Road, Tianhe District, Guangzhou"),
    "BY01": ("Baiyun District Elderly Home", "1633 Beitai Road, Taihe, Baiyun District, Guangzhou"),
    "BY02": ("Baiyun Jianggao Care Home", "26 Jiangtong Road, Jianggao, Baiyun District, Guangzhou"),
    "HP01": ("Huangpu District Social Welfare Home", "1501 Kaichuang Avenue, Luogang, Huangpu District, Guangzhou"),
    "PY01": ("Panyu District Social Welfare Home", "50 Fuyu East Road, Shiqiao, Panyu District, Guangzhou"),
    "PY02": ("Panyu Shawan Care Home", "9 Fuyong Road, Shawan, Panyu District, Guangzhou"),
    "HD01": ("Huadu District Social Welfare Home", "71 Gongyi Road, Xinhua, Huadu District, Guangzhou"),
    "NS01": ("Nansha District Care Home", "230 Shinan Avenue, Huangge, Nansha District, Guangzhou"),
    "CH01": ("Conghua District Elderly Home", "112 Hebin North Road, Jiekou, Conghua District, Guangzhou"),
    "ZC01": ("Zengcheng District Social Welfare Home", "168 Fuyou Road, Licheng, Zengcheng District, Guangzhou"),
}
OFFICE_HOURS = (
    "周一至周五 9:00–12:00，14:00–17:30（法定节假日除外）",
    "Monday to Friday, 9:00–12:00 and 14:00–17:30, except public holidays",
)
# Homes whose self-care quota is exactly full, each with two vacant general beds the quota blocks
# (R-NQ-1: "blocked by the quota"), so the facility pages and decisions show that case.
QUOTA_FULL_HOMES = {"NS01", "CH01"}
VACANT_BLOCKED_BEDS = 2
FACILITY_OF_THE_FACILITY_USER = "GZC01"

# Share of applications ending in each state (SPEC §5); `waiting` takes the rest (about half).
STATE_SHARES = {
    S.DRAFT: 0.03,
    S.SUBMITTED: 0.05,
    S.ASSESSMENT_PENDING: 0.06,
    S.REVIEW: 0.06,
    S.SUSPENDED: 0.05,
    S.OFFERED: 0.02,
    S.ADMISSION_CHECK: 0.03,
    S.ADMITTED: 0.08,
    S.REJECTED: 0.04,
    S.WITHDRAWN: 0.05,
    S.REMOVED: 0.03,
}
# Plans an application follows through the services; the allocation, not the plan, decides who
# of the queued ones gets an offer (see `_offers`).
QUEUED = "queued"

ROLES = [
    ("intake", "受理员 intake officer"),
    ("assessor", "评估员 assessor"),
    ("reviewer", "审核员 reviewer"),
    ("facility", "机构管理员 facility officer"),
    ("admin", "民政局管理员 administrator"),
]
# What each role may look at in the Django admin for now (view only: every change goes through
# the services). A facility officer sees no one's personal data until the API issue binds the
# user to its facility (SPEC §10).
ROLE_VIEW_PERMISSIONS = {
    "intake": ["applicant", "application", "categoryclaim", "facilitychoice", "duplicatereview", "facility"],
    "assessor": ["applicant", "application", "assessment"],
    "reviewer": [
        "applicant",
        "application",
        "assessment",
        "categoryclaim",
        "facilitychoice",
        "duplicatereview",
        "queueentry",
        "allocationdecision",
        "applicationevent",
    ],
    "facility": ["district", "facility", "bed"],
    "admin": [],
}


@dataclass
class Plan:
    """What one demo application is meant to go through."""

    stage: str  # an ApplicationState, or QUEUED (approved; the allocation decides what follows)
    grade: int
    queued_days_ago: int = 0
    variant: str = ""  # which path to a state: e.g. rejected "at_submission" or "at_review"
    data: IntakeData | None = None
    categories: list[str] = field(default_factory=list)


class Command(BaseCommand):
    help = (
        "Load a Guangzhou-like demo city: 16 public homes with beds, about 300 applications in every state "
        "(through the real services), and one demo user per role. Idempotent; refuses with DEBUG off unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run even with DEBUG off")
        parser.add_argument(
            "--applications",
            type=int,
            default=300,
            help=f"applications to create (default 300; at least {MIN_APPLICATIONS}, or 0 for homes and users only)",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed, for repeatable data")

    def handle(self, *args, force=False, applications=300, seed=DEFAULT_SEED, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo loads made-up people and demo logins with a known password: it refuses to run with "
                "DEBUG off. Use --force if this really is a demo or test installation."
            )
        if applications != 0 and not MIN_APPLICATIONS <= applications <= 20_000:
            raise CommandError(f"--applications must be 0 or from {MIN_APPLICATIONS} to 20000.")
        started = time.monotonic()
        password = settings.DEMO_PASSWORD or DEFAULT_DEMO_PASSWORD
        with transaction.atomic():
            users = self._ensure_users(password)
        if Facility.objects.filter(code__in=DEMO_FACILITY_CODES).exists():
            self.stdout.write("Demo data is already loaded: nothing added; the demo users were re-ensured.")
        else:
            with quiet_loggers(options.get("verbosity", 1)):
                # One transaction: a failure half-way leaves nothing behind, so a re-run starts clean.
                with transaction.atomic():
                    _Seeder(random.Random(seed), users).run(applications)
            elapsed = time.monotonic() - started
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {elapsed:.1f} s (seed {seed})."))
        home = Facility.objects.filter(code=FACILITY_OF_THE_FACILITY_USER).first()
        if home is not None:  # the facility officer works for one home (API: facility tokens are bound)
            roles_assign(user=users["facility"], roles=["facility"], facility=home)
        self._summary(password, users)

    # --- users --------------------------------------------------------------------------------
    def _ensure_users(self, password: str) -> dict[str, User]:
        users = {}
        for username, _label in ROLES:
            group, _ = Group.objects.get_or_create(name=username)
            wanted = ROLE_VIEW_PERMISSIONS[username]
            if wanted:
                group.permissions.add(
                    *Permission.objects.filter(
                        content_type__app_label__in=["facilities", "assessments", "admissions"],
                        codename__in=[f"view_{model}" for model in wanted],
                    )
                )
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = True
            user.is_superuser = username == "admin"
            user.is_active = True
            user.set_password(password)
            user.save()
            user.groups.add(group)
            users[username] = user
        return users

    # --- the report ---------------------------------------------------------------------------
    def _summary(self, password: str, users: dict[str, User]) -> None:
        out = self.stdout.write
        from_env = bool(settings.DEMO_PASSWORD)
        out("")
        out(
            "Open http://127.0.0.1:8000/ (families) — staff pages at http://127.0.0.1:8000/staff/, "
            "Django admin at /admin/"
        )
        out("")
        out("Demo logins" + ("" if from_env else " (default password; set DEMO_PASSWORD to choose another)") + ":")
        out(f"  {'username':<10} {'password':<20} role")
        facility = Facility.objects.filter(code=FACILITY_OF_THE_FACILITY_USER).first()
        for username, label in ROLES:
            extra = ""
            if username == "facility" and facility is not None:
                # The binding of a facility officer to its home arrives with the API issue.
                extra = f"  (facility → {facility.code} {facility.name})"
            out(f"  {username:<10} {password:<20} {label}{extra}")
        out("")
        homes = Facility.objects.filter(code__in=DEMO_FACILITY_CODES)
        levels = Counter(homes.values_list("level", flat=True))
        beds = Bed.objects.filter(facility__in=homes)
        by_status = Counter(beds.values_list("status", flat=True))
        total = sum(by_status.values())
        nursing = beds.filter(bed_type=BedType.NURSING).count()
        share = f"{nursing / total:.1%}" if total else "–"
        out(
            f"Facilities: {homes.count()} ({levels.get('city', 0)} city-level, {levels.get('district', 0)} "
            f"district-level)"
        )
        out(
            f"Beds: {total} ({share} nursing-type): occupied {by_status.get('occupied', 0)}, reserved "
            f"{by_status.get('reserved', 0)}, vacant {by_status.get('vacant', 0)}, out of service "
            f"{by_status.get('out_of_service', 0)}"
        )
        states = Counter(Application.objects.values_list("state", flat=True))
        out(f"Applications: {sum(states.values())}")
        for state in S:
            out(f"  {state.value:<20} {states.get(state.value, 0)}")
        out(f"Pending offers: {Offer.objects.filter(state=OfferState.PENDING).count()}")
        self._lookup_example(users["intake"])

    def _lookup_example(self, intake: User) -> None:
        """One waiting application's reference with a fresh lookup code, so the family lookup can be
        tried at once. Codes are stored only as keyed hashes (R-PUB-1), so a new one is issued on
        every run, as the intake office does when a family loses theirs."""
        example = Application.objects.filter(state=S.WAITING).order_by("reference").first()
        if example is None:
            return
        code = application_services.lookup_code_issue(application=example, actor=Actor.for_user(intake))
        self.stdout.write("")
        self.stdout.write(
            f"Try the family lookup at http://127.0.0.1:8000/: reference {example.reference}, code {code} "
            "(a new code is issued each time seed_demo runs)"
        )


class _Seeder(People):
    def __init__(self, rng: random.Random, users: dict[str, User]):
        super().__init__(rng)
        self.now = timezone.now()
        self.actors = {name: Actor.for_user(user) for name, user in users.items()}
        self.policy = policy_in_force(self.today)

    def run(self, applications: int) -> None:
        self._intake_offices()
        facilities = self._facilities()
        self._beds(facilities)
        if applications:
            self._applications(applications, facilities)

    # --- the districts' intake offices (issue 15: the start page and the receipt) -------------------
    def _intake_offices(self) -> None:
        for number, district in enumerate(sorted(self.districts.values(), key=lambda d: d.code), start=1):
            district.office_address = f"广州市{district.name_zh}政务服务中心一楼民政综合窗口"
            district.office_address_en = (
                f"Civil-affairs window, ground floor, {district.name_en} Government Service Centre, Guangzhou"
            )
            district.office_phone = f"0203{number:02d}{self.rng.randint(10000, 99999)}"
            district.office_hours, district.office_hours_en = OFFICE_HOURS
        District.objects.bulk_update(
            self.districts.values(),
            ["office_address", "office_address_en", "office_phone", "office_hours", "office_hours_en"],
        )

    # --- homes and beds -----------------------------------------------------------------------
    def _facilities(self) -> list[Facility]:
        missing = {district for _, _, district, _ in CITY_HOMES + DISTRICT_HOMES if district not in self.districts}
        if missing:
            raise CommandError(f"Districts missing (run migrate first): {', '.join(sorted(missing))}")
        facilities = []
        for level, homes in ((FacilityLevel.CITY, CITY_HOMES), (FacilityLevel.DISTRICT, DISTRICT_HOMES)):
            for code, name, district, address in homes:
                facilities.append(
                    Facility(
                        code=code,
                        name=name,
                        name_en=HOMES_EN[code][0],
                        district=self.districts[district],
                        level=level,
                        address=address,
                        address_en=HOMES_EN[code][1],
                        phone=f"020-{self.rng.choice('38')}{self.rng.randint(1000000, 9999999)}",
                        accepting_applications=True,
                    )
                )
        Facility.objects.bulk_create(facilities)
        return list(Facility.objects.filter(code__in=DEMO_FACILITY_CODES).select_related("district"))

    def _beds(self, facilities: list[Facility]) -> None:
        """Each home's beds as they stand today: mostly occupied by residents who came in over the
        last two years (so estimated waits have history, R-Q-5), a few out of service; the self-care
        residents within the cap ⌊in service × (1 − target)⌋ from the start (R-NQ-1)."""
        target = self.policy.parameters.nursing_target
        beds: list[Bed] = []
        for facility in facilities:
            city = facility.level == FacilityLevel.CITY
            total = self.rng.randint(320, 600) if city else self.rng.randint(80, 320)
            nursing = math.ceil(total * self.rng.uniform(0.80, 0.92))  # ≥ 78 % nursing-type (SPEC §1)
            general = total - nursing
            types = [BedType.NURSING] * nursing + [BedType.GENERAL] * general
            statuses = [BedStatus.OCCUPIED] * total
            # A few out of service (renovation); in the quota-full homes, two general beds stay vacant.
            out_of_service = set(self.rng.sample(range(total), self.rng.randint(1, 3)))
            for index in out_of_service:
                statuses[index] = BedStatus.OUT_OF_SERVICE
            general_indexes = [i for i in range(nursing, total) if i not in out_of_service]
            if facility.code in QUOTA_FULL_HOMES:
                for index in general_indexes[-VACANT_BLOCKED_BEDS:]:
                    statuses[index] = BedStatus.VACANT
            in_service = sum(1 for s in statuses if s != BedStatus.OUT_OF_SERVICE)
            cap = self_care_cap(in_service_beds=in_service, nursing_target=target)
            headroom = 0 if facility.code in QUOTA_FULL_HOMES else self.rng.randint(2, 5)
            self_care = max(0, cap - headroom)
            holders = self._holders(types, statuses, self_care=self_care)
            for index in range(total):
                prefix = "N" if types[index] == BedType.NURSING else "G"
                beds.append(
                    Bed(
                        facility=facility,
                        code=f"{prefix}-{index + 1:04d}",
                        bed_type=types[index],
                        status=statuses[index],
                        holder_care_level=holders[index],
                        out_of_service_reason="房间改造" if statuses[index] == BedStatus.OUT_OF_SERVICE else "",
                        occupancy_round=1 if statuses[index] == BedStatus.OCCUPIED else 0,
                    )
                )
        Bed.objects.bulk_create(beds, batch_size=1000)
        occupied = Bed.objects.filter(facility__in=facilities, status=BedStatus.OCCUPIED).values_list(
            "pk", "facility_id", "holder_care_level"
        )
        Occupancy.objects.bulk_create(
            (
                Occupancy(
                    bed_id=bed_id,
                    facility_id=facility_id,
                    application=None,  # residents from before the product
                    care_level=care_level,
                    admitted_on=self.today - dt.timedelta(days=self.rng.randint(1, 730)),
                )
                for bed_id, facility_id, care_level in occupied
            ),
            batch_size=1000,
        )

    def _holders(self, types: list[str], statuses: list[str], *, self_care: int) -> list[str | None]:
        """The care level of whoever holds each occupied bed: `self_care` of them self-care (general
        beds first, then nursing beds), the rest nursing. A nursing-level resident in a general bed is
        someone admitted before the scheme whose needs have grown."""
        holders: list[str | None] = [None] * len(types)
        occupied = [i for i, s in enumerate(statuses) if s == BedStatus.OCCUPIED]
        general_first = [i for i in occupied if types[i] == BedType.GENERAL] + [
            i for i in occupied if types[i] == BedType.NURSING
        ]
        for rank, index in enumerate(general_first):
            holders[index] = CareLevel.SELF_CARE if rank < self_care else CareLevel.NURSING
        return holders

    # --- applications -------------------------------------------------------------------------
    def _state_counts(self, n: int) -> dict[str, int]:
        counts = {state: max(1, round(n * share)) for state, share in STATE_SHARES.items()}
        counts[S.WAITING] = n - sum(counts.values())
        return counts

    def _plans(self, n: int, facilities: list[Facility]) -> list[Plan]:
        counts = self._state_counts(n)
        stages: list[tuple[str, str]] = []
        for state in (S.DRAFT, S.SUBMITTED, S.ASSESSMENT_PENDING, S.REVIEW):
            stages += [(state, "")] * counts[state]
        stages += [(S.REJECTED, "at_submission" if i % 2 == 0 else "at_review") for i in range(counts[S.REJECTED])]
        withdrawn = ["from_submitted", "from_assessment_pending", "from_waiting"]
        stages += [(S.WITHDRAWN, withdrawn[i % 3]) for i in range(counts[S.WITHDRAWN])]
        stages += [(S.REMOVED, "deceased" if i % 3 else "ineligible") for i in range(counts[S.REMOVED])]
        stages += [(S.SUSPENDED, "")] * counts[S.SUSPENDED]
        # Offers come from the queue: the allocation chooses who, in queue order (R-ALLOC-1).
        queued = counts[S.WAITING] + counts[S.OFFERED] + counts[S.ADMISSION_CHECK] + counts[S.ADMITTED]
        stages += [(QUEUED, "")] * queued
        self.rng.shuffle(stages)
        by_district: dict[str, list[Facility]] = {}
        for facility in facilities:
            if facility.level == FacilityLevel.DISTRICT:
                by_district.setdefault(facility.district.code, []).append(facility)
        city = [f for f in facilities if f.level == FacilityLevel.CITY]
        plans = []
        grades, weights = zip(*GRADE_WEIGHTS.items(), strict=True)
        for stage, variant in stages:
            grade = self.rng.choices(grades, weights)[0]
            # Skewed towards the recent past: most of the queue joined in the last few months.
            queued_days_ago = min(320, int(self.rng.expovariate(1 / 90)))
            plan = Plan(stage=stage, variant=variant, grade=grade, queued_days_ago=queued_days_ago)
            plan.data, plan.categories = self.intake(by_district, city)
            plans.append(plan)
        return plans

    def _applications(self, n: int, facilities: list[Facility]) -> None:
        plans = self._plans(n, facilities)
        counts = self._state_counts(n)
        queued: list[tuple[Application, Plan]] = []
        for plan in plans:
            application = self._drive(plan)
            if application is not None and application.state == S.WAITING:
                queued.append((application, plan))
        self._backdate(queued)
        # Suspensions, withdrawals and removals from the queue before any bed frees up, so the
        # allocation decisions show them skipped or gone (R-ALLOC-1).
        for application, plan in queued:
            if plan.stage == S.SUSPENDED:
                application_services.application_suspend(
                    application=application,
                    reason=self.rng.choice(["住院治疗中，家属申请暂停", "暂由子女居家照顾", "外出探亲三个月"]),
                    actor=self.actors["reviewer"],
                )
            elif plan.stage == S.WITHDRAWN:
                application_services.application_withdraw(
                    application=application,
                    reason=self.rng.choice(["家属已安排入住民办养老机构", "家属决定居家照护"]),
                    actor=self.actors["intake"],
                )
            elif plan.stage == S.REMOVED:
                application_services.application_remove(
                    application=application,
                    reason="deceased",
                    note="家属告知申请人已离世",
                    actor=self.actors["reviewer"],
                )
        self._offers(admitted=counts[S.ADMITTED], admission_check=counts[S.ADMISSION_CHECK], offered=counts[S.OFFERED])

    def _drive(self, plan: Plan) -> Application | None:
        """Take one application as far as its plan says, through the services."""
        actors, today = self.actors, self.today
        application, _code = application_services.application_create(
            data=plan.data, submit=plan.stage != S.DRAFT, actor=actors["intake"], via="demo"
        )
        if plan.stage in (S.DRAFT, S.SUBMITTED):
            return application
        if plan.stage == S.REJECTED and plan.variant == "at_submission":
            application_services.application_reject(
                application=application, reason="户籍及居住证明与申请资料不符，不符合申请条件", actor=actors["intake"]
            )
            return application
        if plan.stage == S.WITHDRAWN and plan.variant == "from_submitted":
            application_services.application_withdraw(
                application=application, reason="家属申请撤回", actor=actors["intake"]
            )
            return application
        application = application_services.application_accept_for_assessment(
            application=application, actor=actors["intake"]
        )
        if plan.stage == S.ASSESSMENT_PENDING:
            return application
        if plan.stage == S.WITHDRAWN and plan.variant == "from_assessment_pending":
            application_services.application_withdraw(
                application=application, reason="申请人身体好转，暂不入住", actor=actors["intake"]
            )
            return application
        queued = plan.stage not in (S.REVIEW, S.REJECTED, S.REMOVED) or plan.variant == "deceased"
        assessed_on = today - dt.timedelta(
            days=plan.queued_days_ago + self.rng.randint(3, 30) if queued else self.rng.randint(0, 20)
        )
        items, coma = self.items(plan.grade)
        assessment = assessment_services.assessment_create(
            application=application,
            assessed_on=assessed_on,
            items=items,
            coma=coma,
            notes="上门评估" if self.rng.random() < 0.3 else "",
            complete=True,
            actor=actors["assessor"],
        )
        # Some of those still in review already have the assessment approved, some not yet.
        if plan.stage == S.REVIEW and self.rng.random() < 0.5:
            return application
        assessment_services.assessment_approve(assessment=assessment, actor=actors["reviewer"])
        if plan.stage == S.REVIEW:
            return application
        if plan.stage == S.REJECTED:
            application_services.application_reject(
                application=application, reason="经核查不符合公办养老机构入住条件", actor=actors["reviewer"]
            )
            return application
        if plan.stage == S.REMOVED and plan.variant == "ineligible":
            application_services.application_remove(
                application=application, reason="ineligible", note="经核查已入住其他机构", actor=actors["reviewer"]
            )
            return application
        exemption = None
        if plan.data.contributor_exemption_requested:
            exemption = {"granted": True, "note": "经市民政局认定为对本市有重大贡献人员，同意按居住地轮候"}
        return application_services.application_approve(
            application=application,
            categories=[self.category_decision(code) for code in plan.categories],
            exemption=exemption,
            actor=actors["reviewer"],
        )

    def _backdate(self, queued: list[tuple[Application, Plan]]) -> None:
        """DEMO ONLY. Everything here is created today, so every queue entry would have the same
        queued_at and no waiting points (R-Q-3). Spread them over the last months by rewriting
        queued_at/queued_epoch (and the application's submitted/queued times to match) directly.
        The events keep the real time they were written: they are append-only, and the product
        itself never moves a queued_at."""
        for application, plan in queued:
            queued_at = self.now - dt.timedelta(days=plan.queued_days_ago, minutes=self.rng.randint(0, 600))
            submitted_at = queued_at - dt.timedelta(days=self.rng.randint(5, 20))
            Application.objects.filter(pk=application.pk).update(
                queued_at=queued_at, submitted_at=submitted_at, created_at=submitted_at
            )
            QueueEntry.objects.filter(application_id=application.pk).update(
                queued_at=queued_at, queued_epoch=int(queued_at.timestamp())
            )

    def _offers(self, *, admitted: int, admission_check: int, offered: int) -> None:
        """Free beds the way a home does (R-BED-2: a resident leaves) and let the allocation offer
        them (R-ALLOC-1); then take the offers on: some admitted, some accepted and awaiting the
        admission check, one or two declined (R-OFF-4: the bed goes to the next in line), the rest
        left pending."""
        facility_actor = self.actors["facility"]
        declines = 1 if admitted + admission_check + offered < 20 else 2
        done = Counter()
        wanted = {"admitted": admitted, "admission_check": admission_check, "declined": declines}
        attempts = 0
        while attempts < 20 + 6 * (admitted + admission_check + offered + declines):
            attempts += 1
            pending = Offer.objects.filter(state=OfferState.PENDING).count()
            if all(done[k] >= v for k, v in wanted.items()) and pending >= offered:
                break
            bed = self._bed_to_free()
            if bed is None:
                continue
            reason = self.rng.choices(["discharged", "deceased", "transferred"], [2, 5, 1])[0]
            _bed, decision = bed_services.bed_discharge(bed=bed, reason=reason, actor=facility_actor)
            offer = Offer.objects.filter(decision=decision).first()
            if offer is None:
                continue  # nobody could take it: the bed stays vacant
            if done["declined"] < wanted["declined"]:
                offer_services.offer_decline(offer=offer, reason="家属希望等待第一志愿机构", actor=facility_actor)
                done["declined"] += 1
            elif done["admitted"] < wanted["admitted"]:
                offer = offer_services.offer_accept(offer=offer, actor=facility_actor)
                offer_services.offer_admit(offer=offer, actor=facility_actor)
                done["admitted"] += 1
            elif done["admission_check"] < wanted["admission_check"]:
                offer_services.offer_accept(offer=offer, actor=facility_actor)
                done["admission_check"] += 1
            # else: left pending

    def _bed_to_free(self) -> Bed | None:
        """An occupied bed, held by a resident from before the product, at a home where someone of
        the same care level waits: usually a nursing bed, now and then a general one."""
        care_level = CareLevel.SELF_CARE if self.rng.random() < 0.2 else CareLevel.NURSING
        bed_type = BedType.GENERAL if care_level == CareLevel.SELF_CARE else BedType.NURSING
        homes = list(
            QueueEntry.objects.filter(status=QueueEntryStatus.OPEN, care_level=care_level, application__state=S.WAITING)
            .values("facility_id")
            .annotate(waiting=Count("id"))
            .order_by("facility_id")
            .values_list("facility_id", "waiting")
        )
        if not homes:
            return None
        facility_id = self.rng.choices([h[0] for h in homes], [h[1] for h in homes])[0]
        candidates = list(
            Bed.objects.filter(
                facility_id=facility_id,
                status=BedStatus.OCCUPIED,
                bed_type=bed_type,
                holder_care_level=care_level,
                occupancies__discharged_on__isnull=True,
                occupancies__application__isnull=True,
            )
            .order_by("id")
            .values_list("pk", flat=True)[:50]
        )
        if not candidates:
            return None
        return Bed.objects.get(pk=self.rng.choice(candidates))
