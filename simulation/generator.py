"""A city's worth of data, written in bulk (issue 7): `generate_city(...)` and `manage.py generate_city`.

Homes, beds, residents, staff, and applications in every state of SPEC §5, each row what the
services would have written: the rules are not copied here but called — the grade comes from
`assessments.grading`, the channel from `channel_for`, the queue scores from `base_score_parts`,
the quota cap from `self_care_cap`, the decision hashes from `decision_hash` (admissions.chain), the deadlines from
`deadline_after`, the lookup-code hashes from `lookup_code_hash`. Only the writing is in bulk
(batches of INSERTs by executemany, COPY on PostgreSQL, with primary keys chosen here so that
nothing has to be read back), because one service call per row would take hours at 100,000
applications; the database's constraints check every row as it is written.

What is written in bulk is history: applications created, assessed, approved, suspended, withdrawn,
removed, rejected, and admitted in the past through offers and hash-chained allocation decisions.
What is live today is made by the real services afterwards: residents leave (`bed_discharge`), the
allocation offers their beds to the head of each queue (R-ALLOC-1), and some of those offers are
accepted (`offer_accept`). So every pending or accepted offer is one the engine itself chose.

History is written without notifications: they are an outbox, and a worker would send every one
of them. The live part's notifications are real (the console backend logs them).

Memory stays flat: applications are planned as small records, then built and written 2,000 at a
time. At the end, ANALYZE gives the query planner statistics of the tables as they now are.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Max
from django.utils import timezone
from stdnum.cn import ric

from admissions.chain import CHANNEL_OF_RANK, decision_hash, decision_payload, seal
from admissions.identity import age_on
from admissions.models import (
    AllocationDecision,
    Applicant,
    Application,
    ApplicationEvent,
    CategoryClaim,
    Couple,
    CoupleMember,
    FacilityChoice,
    Occupancy,
    Offer,
    QueueEntry,
    ReferenceCounter,
)
from admissions.models.applications import CHANNEL_RANK
from admissions.people import (
    CATEGORY_SHARES,
    EVIDENCE,
    GIVEN_NAMES,
    GRADE_TOTALS,
    GRADE_WEIGHTS,
    MOBILE_PREFIXES,
    PLACE_CODES,
    SURNAMES,
)
from admissions.quiet import quiet_loggers
from admissions.selectors import policy_in_force, waiting_points
from admissions.services.applications import LOOKUP_CODE_ALPHABET, channel_for, lookup_code_hash
from admissions.services.beds import bed_discharge
from admissions.services.offers import offer_accept
from admissions.services.queue import base_score_parts
from admissions.workdays import deadline_after
from assessments.grading import domain_totals, grade_for, total_points
from assessments.instrument import CONSCIOUSNESS_ITEM, ITEMS
from assessments.models import Assessment
from core.actor import Actor
from facilities.models import Bed, District, Facility, Role, StaffProfile
from facilities.selectors import self_care_cap

DEFAULT_SEED = 7
BATCH = 2000  # applications built and written at a time
MIN_BEDS_PER_HOME, MAX_BEDS_PER_HOME = 50, 1500
MAX_APPLICATIONS = 1_000_000

# --- the proportions (README "Running at scale" documents them) --------------------------------------
CITY_LEVEL_SHARE = 0.08  # of the homes; Guangzhou: 3 city-level among its public homes, all large
CITY_LEVEL_SIZE_FACTOR = 2.5
NURSING_BED_SHARE = (0.80, 0.94)  # per home, uniform: at least 78 % nursing-type (SPEC §1, R-NQ-1)
OUT_OF_SERVICE_SHARE = 0.01  # at most, per home (renovation)
# Districts' weight in the city's elderly population (Guangzhou's old town and suburbs); a district
# not named here weighs 1/11, so another city's districts work unchanged.
DISTRICT_WEIGHTS = {
    "yuexiu": 0.12,
    "haizhu": 0.13,
    "liwan": 0.09,
    "tianhe": 0.11,
    "baiyun": 0.14,
    "huangpu": 0.06,
    "panyu": 0.12,
    "huadu": 0.07,
    "nansha": 0.04,
    "conghua": 0.05,
    "zengcheng": 0.07,
}
OUTSIDE_PLACE_CODES = ["110105", "310104", "430104", "450103", "360102", "350203", "510107"]
FEMALE_SHARE = 0.62
AGE_TRIANGLE = (60, 105, 86)  # today: low, high, mode — skewed old (mean ≈ 84)
OUTSIDE_HUKOU_SHARE = 0.01  # contributor exemption (R-APP-3)
TWO_LOCAL_HOMES_SHARE = 0.45  # the other 55 %: one local district home and one city home (R-APP-7)
LIVES_ALONE_SHARE, NO_SPOUSE_NO_CHILDREN_SHARE, SPOUSE_RESIDENT_SHARE = 0.22, 0.07, 0.02
CATEGORY_VERIFIED_SHARE = 0.9
COMA_SHARE_OF_GRADE_4 = 0.05
# Applications by state at the moment of generation; `waiting` takes the rest (about 69 %). Offers
# pending and accepted (offered, admission_check) are then made by the real allocation from waiting.
STATE_SHARES = {
    "draft": 0.01,
    "submitted": 0.02,
    "assessment_pending": 0.03,
    "review": 0.03,
    "suspended": 0.04,
    "admitted": 0.10,
    "rejected": 0.02,
    "withdrawn": 0.03,
    "removed": 0.03,
}
MEAN_DAYS_QUEUED = 330  # exponential, capped at MAX_DAYS_QUEUED
MAX_DAYS_QUEUED = 1400
EXPIRED_ASSESSMENT_SHARE = 0.03  # of those queued over a year: reassessment not yet done (R-ASM-5)
REGRADE_SHARE = 0.3  # a reassessment finds one grade more frailty
LIVE_OFFER_SHARE_OF_BEDS = 0.005  # residents leaving today: their beds are offered by the allocation
ACCEPTED_SHARE_OF_LIVE_OFFERS = 0.4
# Issue 14 (R-CPL-1): about 3 % of the waiting applicants are one of a married couple who applied
# together, most of them to be placed together; the pair shares its first-choice home.
COUPLE_SHARE = 0.03
TOGETHER_SHARE_OF_COUPLES = 0.8

# R-WATCH-1: a few anomalies for the watchdog report to find. One home (the second largest) has
# beds its residents left 15–40 days ago and that nobody was offered, while its queue has candidates;
# out-of-service beds have been so for 1–90 days; some history admissions passed over people ranked
# above (each with a recorded skip reason), two of them at that home in the last full month.
ANOMALY_VACANT_BEDS = 3
ANOMALY_VACANT_DAYS = (15, 40)
OUT_OF_SERVICE_DAYS = (1, 90)
OUT_OF_ORDER_SHARE = 0.01  # of the history admissions
OUT_OF_ORDER_REASONS = ["offer_pending", "assessment_expired", "suspended", "bed_type_mismatch"]

STAFF_PASSWORD = None  # unusable passwords: log in with `changepassword` or force_login in bench


class GeneratorError(ValueError):
    """Bad sizes, or a database that is not empty; the message names the option."""


@dataclass
class CitySummary:
    seed: int
    facilities: int
    city_level: int
    beds: int
    nursing_share_min: float
    applications: int
    states: dict[str, int]
    queue_entries_open: int
    live_offers: int
    largest_facility: str
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    anomalies: dict = field(default_factory=dict)  # what the watchdog report should find (R-WATCH-1)

    def as_dict(self) -> dict:
        return asdict(self)


def generate_city(
    *, facilities: int, beds: int, applications: int, seed: int = DEFAULT_SEED, progress: bool = True
) -> CitySummary:
    """Fill an empty database (districts, policy and calendar from the migrations only) with a city.
    Deterministic for a seed. Raises GeneratorError, changing nothing, for bad sizes or a database
    that already has homes or applications."""
    check_sizes(facilities=facilities, beds=beds, applications=applications)
    require_migrated()
    if Facility.objects.exists() or Application.objects.exists():
        raise GeneratorError(
            "The database already has homes or applications: generate_city fills an empty one "
            "(use another DATABASE_URL, or `manage.py flush`)."
        )
    return _City(facilities=facilities, beds=beds, applications=applications, seed=seed, progress=progress).run()


def require_migrated() -> None:
    """A new database file has no tables yet: say so rather than fail on the first query."""
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise GeneratorError(
            "The database is not migrated: run `python manage.py migrate` first (with the same DATABASE_URL)."
        )


def check_sizes(*, facilities: int, beds: int, applications: int) -> None:
    if not 12 <= facilities <= 5000:
        raise GeneratorError("--facilities must be from 12 to 5000 (a city-level home and one per district at least).")
    if not facilities * MIN_BEDS_PER_HOME <= beds <= facilities * MAX_BEDS_PER_HOME:
        raise GeneratorError(
            f"--beds must be from {facilities * MIN_BEDS_PER_HOME} to {facilities * MAX_BEDS_PER_HOME} for "
            f"{facilities} homes ({MIN_BEDS_PER_HOME}–{MAX_BEDS_PER_HOME} beds a home)."
        )
    if not 0 <= applications <= MAX_APPLICATIONS:
        raise GeneratorError(f"--applications must be from 0 to {MAX_APPLICATIONS}.")
    if applications > beds * 20:
        raise GeneratorError(f"--applications must be at most 20 times --beds ({beds * 20}).")


# --- writing in bulk ---------------------------------------------------------------------------------
class _Row(SimpleNamespace):
    """One row to insert, by the model's attribute names (`applicant_id`, not `applicant`). Other
    attributes (`applicant`, `current_assessment`) are there for the services' scoring helpers,
    which read them as they read model instances; the writer ignores them."""

    @property
    def pk(self) -> int:
        return self.id


class _Table:
    """INSERT … VALUES for one model by `executemany` (COPY on PostgreSQL), with each value prepared as Django would
    prepare it for this database (times, dates, JSON), and every column a row leaves out given
    its model default. (`bulk_create` spends several microseconds per value on the same work,
    minutes at a million rows.)"""

    def __init__(self, model):
        qn = connection.ops.quote_name
        fields = model._meta.concrete_fields
        self.model = model
        self.sql = (
            f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})"
        )
        self.copy_sql = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) FROM STDIN"
        now = timezone.now()
        self.columns = [(f.attname, _adapter(f), _default(f, now)) for f in fields]

    def insert(self, rows: list[_Row]) -> None:
        if not rows:
            return
        missing = object()
        values = []
        for row in rows:
            get = row.__dict__.get
            values.append(
                tuple(
                    (adapt(value) if adapt and value is not None else value)
                    if (value := get(name, missing)) is not missing
                    else (adapt(default) if adapt and default is not None else default)
                    for name, adapt, default in self.columns
                )
            )
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY: psycopg's executemany still sends one statement per row (3× slower here).
                with cursor.cursor.copy(self.copy_sql) as copy:
                    for row in values:
                        copy.write_row(row)
                return
            for start in range(0, len(values), 5000):
                cursor.executemany(self.sql, values[start : start + 5000])


def _default(field, now: dt.datetime):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    return field.get_default()  # "" for a text column without a default, None for a nullable one


def _adapter(field):
    from django.db import models

    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    if isinstance(field, models.DecimalField):
        return lambda value: connection.ops.adapt_decimalfield_value(value, field.max_digits, field.decimal_places)
    return None


def _insert(model, rows: list[_Row]) -> None:
    _Table(model).insert(rows)


# --- helpers -------------------------------------------------------------------------------------
class _Ids:
    """Primary keys chosen here, one counter per table, so rows can refer to each other before
    they are written (and nothing is read back)."""

    def __init__(self, *models):
        self._next = {}
        for model in models:
            self._next[model] = (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1

    def take(self, model) -> int:
        value = self._next[model]
        self._next[model] = value + 1
        return value


def _reset_sequences(models) -> None:
    """PostgreSQL's sequences do not see explicit ids; SQLite's AUTOINCREMENT does."""
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _analyze() -> None:
    """Fresh statistics for the query planner: a million rows written at once leave PostgreSQL's
    (and SQLite's) idea of the tables far from the truth until autovacuum comes by, and the plans
    of the queue's counts go wrong meanwhile (the public lookup took 150 ms instead of 25)."""
    # On PostgreSQL outside a transaction, VACUUM too: it sets the visibility map, without which the
    # position counts' covering indexes (queue_entry_counts, application_on_hold) still read every
    # heap page. (SQLite's VACUUM would rewrite the whole file and brings nothing here.)
    vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")


def _weighted(rng: random.Random, items: list, cumulative: list[float]):
    return items[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]


def _cumulative(weights) -> list[float]:
    return list(itertools.accumulate(weights))


def home_sizes(rng: random.Random, *, weights: list[float], total: int) -> list[int]:
    """Bed counts proportional to `weights`, each within 50–1,500, adding up to `total` exactly."""
    n = len(weights)
    low, high = 0.0, float(total) * 10
    for _ in range(100):  # the scale at which the clipped sizes add up to the total
        scale = (low + high) / 2
        s = sum(min(MAX_BEDS_PER_HOME, max(MIN_BEDS_PER_HOME, round(w * scale))) for w in weights)
        low, high = (scale, high) if s < total else (low, scale)
    sizes = [min(MAX_BEDS_PER_HOME, max(MIN_BEDS_PER_HOME, round(w * low))) for w in weights]
    order = sorted(range(n), key=lambda i: -weights[i])
    while sum(sizes) != total:  # the rounding's remainder, one bed at a time, largest homes first
        step = 1 if sum(sizes) < total else -1
        for i in order:
            if sum(sizes) == total:
                break
            if MIN_BEDS_PER_HOME <= sizes[i] + step <= MAX_BEDS_PER_HOME:
                sizes[i] += step
    return sizes


_FRAILTY_WEIGHT = {"B1": 5.0, "B2": 4.0, "B3": 1.0, "B4": 2.0}  # self-care and mobility go first


def assessment_items(rng: random.Random, grade: int) -> tuple[dict[str, int], bool]:
    """Item scores whose total falls in the grade's range (R-ASM-1), lost mostly in self-care and
    mobility; a few people graded 4 are in a coma (R-ASM-2: consciousness 0 and the box ticked)."""
    coma = grade == 4 and rng.random() < COMA_SHARE_OF_GRADE_4
    items = {item.code: item.max_points for item in ITEMS}
    floors = {item.code: item.min_points for item in ITEMS}
    floors[CONSCIOUSNESS_ITEM] = 1  # alert or drowsy unless in a coma
    if coma:
        items[CONSCIOUSNESS_ITEM] = floors[CONSCIOUSNESS_ITEM] = 0
    low, high = GRADE_TOTALS[grade]
    total = rng.randint(max(low, sum(floors.values())), high)
    excess = sum(items.values()) - total
    # A weighted shuffle (larger weight → earlier), then take part of each item's room, then the rest.
    order = sorted(items, key=lambda c: rng.random() ** (1 / _FRAILTY_WEIGHT[c[:2]]), reverse=True)
    for greedy in (False, True):
        for code in order:
            if excess == 0:
                break
            room = items[code] - floors[code]
            take = min(room, excess) if greedy else min(rng.randint(0, room), excess)
            items[code] -= take
            excess -= take
    return items, coma


def id_number(rng: random.Random, *, place: str, born: dt.date, sex: str, used: set[str]) -> str:
    """A valid resident ID number (R-APP-1): place code, birth date, a sequence whose last digit is
    odd for men and even for women, and the GB 11643 check character."""
    while True:
        sequence = rng.randint(0, 99) * 10 + rng.choice((1, 3, 5, 7, 9) if sex == "M" else (0, 2, 4, 6, 8))
        body = f"{place}{born:%Y%m%d}{sequence:03d}"
        number = body + ric.calc_check_digit(body + "0")
        if number not in used:
            used.add(number)
            return number


# --- plans: the shape of one application's history, small enough to hold 100,000 of ----------------
@dataclass(slots=True)
class _Plan:
    stage: str  # the state it ends in (SPEC §5)
    variant: str  # the path to it, for states reached more than one way
    created: dt.datetime
    seed: int  # the rest of its details come from random.Random(seed)


class _City:
    def __init__(self, *, facilities: int, beds: int, applications: int, seed: int, progress: bool):
        self.n_facilities, self.n_beds, self.n_applications, self.seed = facilities, beds, applications, seed
        self.progress = progress
        self.rng = random.Random(seed)
        self.now = timezone.now()
        self.today = timezone.localdate(self.now)
        self.policy = policy_in_force(self.today)
        self.params = self.policy.parameters
        self.used_id_numbers: set[str] = set()
        self.deadlines: dict[tuple[dt.date, int], dt.datetime] = {}
        self.timings: dict[str, float] = {}
        self.waiting_count = 0
        self.bed_code: dict[int, str] = {}
        # The anomalies draw from their own stream, so the rest of the city is what it was without them.
        self.anomaly_rng = random.Random(seed * 7919 + 17)

    def deadline(self, moment: dt.datetime, working_days: int) -> dt.datetime:
        """R-OFF-1 by the services' `deadline_after`, remembered per day (it reads the calendar)."""
        key = (timezone.localdate(moment), working_days)
        if key not in self.deadlines:
            self.deadlines[key] = deadline_after(moment, working_days)
        return self.deadlines[key]

    # -- the whole run ------------------------------------------------------------------------------
    def run(self) -> CitySummary:
        from tqdm import tqdm

        started = time.monotonic()
        bar = tqdm(
            total=self.n_applications + self.n_beds,
            unit="row",
            desc="homes and beds",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        models = [Bed, Occupancy, Applicant, Application, FacilityChoice, CategoryClaim, Assessment]
        models += [QueueEntry, ApplicationEvent, Offer, AllocationDecision]
        with bar, transaction.atomic():
            self.ids = _Ids(*models)
            self._staff()
            self._homes()
            self._beds(bar)
            self._mark("homes and beds", started)
            bar.set_description("applications")
            self._applications(bar)
            self._mark("applications", started)
            bar.set_description("admissions")
            self._admissions_and_residents()
            self._long_vacancies()
            _reset_sequences(models)
            self._couples()
            self._mark("admissions", started)
        _analyze()
        self._mark("statistics", started)
        live = self._live_offers()
        self._mark("live offers", started)
        return self._summary(live, time.monotonic() - started)

    def _mark(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started - sum(self.timings.values()), 2)

    # -- staff ------------------------------------------------------------------------------------
    def _staff(self) -> None:
        """The staff the history names: intake officers, assessors, reviewers (never the same
        person as the assessor: four eyes, R-ASM-4), one facility officer per home, an administrator."""
        counts = {
            Role.INTAKE: max(2, self.n_facilities // 10),
            Role.ASSESSOR: max(2, self.n_facilities // 5),
            Role.REVIEWER: max(2, self.n_facilities // 10),
        }
        password = make_password(STAFF_PASSWORD)
        users = [
            User(username=f"city-{role}-{i:03d}", is_staff=True, password=password)
            for role, count in counts.items()
            for i in range(1, count + 1)
        ]
        users.append(User(username="city-admin", is_staff=True, is_superuser=True, password=password))
        User.objects.bulk_create(users)
        by_name = {u.username: u for u in User.objects.filter(username__startswith="city-")}
        self.staff = {
            role: [by_name[f"city-{role}-{i:03d}"] for i in range(1, count + 1)] for role, count in counts.items()
        }
        self._join(by_name.values())

    def _join(self, users) -> None:
        groups = {role: Group.objects.get_or_create(name=role)[0] for role in Role.values}
        links = []
        for user in users:
            role = user.username.split("-")[1]
            if role in groups:
                links.append(User.groups.through(user_id=user.pk, group_id=groups[role].pk))
        User.groups.through.objects.bulk_create(links, ignore_conflicts=True)

    # -- homes --------------------------------------------------------------------------------------
    def _homes(self) -> None:
        rng = self.rng
        districts = list(District.objects.order_by("code"))
        if not districts:
            raise GeneratorError("The database has no districts: run `manage.py migrate` first.")
        self.districts = districts
        n_city = max(1, round(self.n_facilities * CITY_LEVEL_SHARE))
        n_district = self.n_facilities - n_city
        if n_district < len(districts):
            raise GeneratorError(
                f"--facilities must be at least {len(districts) + 1}: one city-level home and one "
                f"district-level home in each of the {len(districts)} districts."
            )
        weights = [DISTRICT_WEIGHTS.get(d.code, 1 / len(districts)) for d in districts]
        # Every district gets one home, the rest go by weight (largest remainder).
        shares = [w / sum(weights) * (n_district - len(districts)) for w in weights]
        per_district = [1 + math.floor(s) for s in shares]
        for i in sorted(range(len(districts)), key=lambda i: -(shares[i] % 1))[: n_district - sum(per_district)]:
            per_district[i] += 1
        plan = [("city", districts[rng.randrange(len(districts))], i + 1) for i in range(n_city)]
        for district, count in zip(districts, per_district, strict=True):
            plan += [("district", district, i + 1) for i in range(count)]
        size_weights = [
            rng.lognormvariate(0, 0.55) * (CITY_LEVEL_SIZE_FACTOR if level == "city" else 1) for level, _, _ in plan
        ]
        sizes = home_sizes(rng, weights=size_weights, total=self.n_beds)
        facilities = []
        for level, district, number in plan:
            if level == "city":
                code, name = f"CITY-{number:02d}", f"市第{number}社会福利院"
            else:
                code, name = f"{district.code[:4].upper()}-{number:02d}", f"{district.name_zh}第{number}颐养院"
            facilities.append(
                Facility(
                    code=code,
                    name=name,
                    district=district,
                    level=level,
                    address=f"{district.name_zh}{rng.randint(1, 999)}号",
                    phone=f"020-{rng.randint(30000000, 89999999)}",
                    accepting_applications=True,
                )
            )
        Facility.objects.bulk_create(facilities)
        self.facilities = list(Facility.objects.filter(code__in=[f.code for f in facilities]).order_by("pk"))
        self.size = {f.pk: s for f, s in zip(self.facilities, sizes, strict=True)}
        self.code_of = {f.pk: f.code for f in self.facilities}
        # Facility officers, one per home, bound to it (SPEC §10).
        password = make_password(STAFF_PASSWORD)
        officers = [
            User(username=f"city-facility-{f.code.lower()}", is_staff=True, password=password) for f in self.facilities
        ]
        User.objects.bulk_create(officers)
        officers = {u.username: u for u in User.objects.filter(username__startswith="city-facility-")}
        self._join(officers.values())
        self.officer = {f.pk: officers[f"city-facility-{f.code.lower()}"] for f in self.facilities}
        StaffProfile.objects.bulk_create(StaffProfile(user=u, facility_id=fid) for fid, u in self.officer.items())
        # Who may choose what (R-APP-7): any one city home, district homes of one's own district.
        self.city_homes = [f for f in self.facilities if f.level == "city"]
        self.city_cumulative = _cumulative(self.size[f.pk] for f in self.city_homes)
        self.local_homes: dict[int, list[Facility]] = defaultdict(list)
        for f in self.facilities:
            if f.level == "district":
                self.local_homes[f.district_id].append(f)
        self.local_cumulative = {
            d: _cumulative(self.size[f.pk] for f in homes) for d, homes in self.local_homes.items()
        }
        self.district_cumulative = _cumulative(DISTRICT_WEIGHTS.get(d.code, 1 / len(districts)) for d in districts)

    # -- beds ---------------------------------------------------------------------------------------
    def _beds(self, bar) -> None:
        """Each home's beds today: ≥ 78 % nursing-type, a few out of service, the rest occupied, the
        self-care holders a little under the cap ⌊in service × (1 − target)⌋ (R-NQ-1)."""
        rng = self.rng
        target_default = self.params.nursing_target
        # Occupied beds by (facility, holder care level, bed type): bed ids, for the residents.
        self.residents: dict[tuple[int, str, str], list[int]] = defaultdict(list)
        self.caps: dict[int, int] = {}
        self.self_care_held: dict[int, int] = {}
        self.nursing_share_min = 1.0
        for facility in self.facilities:
            total = self.size[facility.pk]
            nursing = math.ceil(total * rng.uniform(*NURSING_BED_SHARE))
            self.nursing_share_min = min(self.nursing_share_min, nursing / total)
            out = set(rng.sample(range(total), rng.randint(0, math.floor(total * OUT_OF_SERVICE_SHARE))))
            in_service = total - len(out)
            target = facility.nursing_target if facility.nursing_target is not None else target_default
            cap = self.caps[facility.pk] = self_care_cap(in_service_beds=in_service, nursing_target=target)
            self_care = max(0, cap - rng.randint(1, max(1, cap // 8)))
            general_first = [i for i in range(nursing, total) if i not in out] + [
                i for i in range(nursing) if i not in out
            ]
            holders = {i: ("self_care" if rank < self_care else "nursing") for rank, i in enumerate(general_first)}
            self.self_care_held[facility.pk] = min(self_care, len(general_first))
            rows = []
            for i in range(total):
                bed_type = "nursing" if i < nursing else "general"
                pk = self.ids.take(Bed)
                occupied = i not in out
                code = self.bed_code[pk] = f"{'N' if bed_type == 'nursing' else 'G'}-{i + 1:04d}"
                rows.append(
                    _Row(
                        id=pk,
                        facility_id=facility.pk,
                        code=code,
                        bed_type=bed_type,
                        status="occupied" if occupied else "out_of_service",
                        holder_care_level=holders[i] if occupied else None,
                        out_of_service_reason="" if occupied else "房间改造",
                        occupancy_round=1 if occupied else 0,
                        created_at=self.now - dt.timedelta(days=2000),
                        status_since=(
                            self.now - dt.timedelta(days=2000)
                            if occupied
                            else self.now - dt.timedelta(days=self.anomaly_rng.uniform(*OUT_OF_SERVICE_DAYS))
                        ),
                    )
                )
                if occupied:
                    self.residents[(facility.pk, holders[i], bed_type)].append(pk)
            _insert(Bed, rows)
            bar.update(total)
        for beds in self.residents.values():
            rng.shuffle(beds)

    # -- applications ------------------------------------------------------------------------------
    def _plans(self) -> list[_Plan]:
        """Every application's stage and creation time, in creation order (references and ids
        then follow time, as the services would have numbered them)."""
        rng, n = self.rng, self.n_applications
        counts = {state: round(n * share) for state, share in STATE_SHARES.items()}
        counts["waiting"] = n - sum(counts.values())
        variants = {
            "rejected": ["at_submission", "at_review"],
            "withdrawn": ["from_submitted", "from_assessment_pending", "from_waiting", "from_waiting"],
            "removed": ["deceased", "deceased", "deceased", "ineligible"],
            "review": ["assessment_completed", "assessment_approved"],
        }
        plans = []
        for state, count in counts.items():
            for i in range(count):
                variant = variants[state][i % len(variants[state])] if state in variants else ""
                days = self._created_days_ago(rng, state, variant)
                created = self.now - dt.timedelta(days=days, minutes=rng.randint(0, 600))
                plans.append(_Plan(state, variant, created, rng.getrandbits(64)))
        plans.sort(key=lambda p: (p.created, p.seed))
        return plans

    @staticmethod
    def _created_days_ago(rng: random.Random, state: str, variant: str) -> float:
        if state == "draft":
            return rng.uniform(0, 20)
        if state == "submitted" or variant == "from_submitted" or variant == "at_submission":
            return rng.uniform(0.2, 5)  # answered within 5 working days
        if state == "assessment_pending" or variant == "from_assessment_pending":
            return rng.uniform(3, 30)
        if state in ("review", "rejected") or variant == "ineligible":
            return rng.uniform(10, 45)
        if state == "admitted":
            return 40 + rng.uniform(1, 700) + min(330, 10 + rng.expovariate(1 / 150))
        # Queued (waiting, suspended) or queued once (withdrawn, removed from the queue).
        return 40 + min(MAX_DAYS_QUEUED, rng.expovariate(1 / MEAN_DAYS_QUEUED))

    def _applications(self, bar) -> None:
        plans = self._plans()
        self.references: Counter = Counter()
        self.admitted: list[tuple] = []  # (made_at, facility id, …) of the admissions, for the second pass
        for start in range(0, len(plans), BATCH):
            batch = _Batch(self.ids)
            for plan in plans[start : start + BATCH]:
                self._application(plan, batch)
            batch.write()
            bar.update(len(plans[start : start + BATCH]))
        for year, last in self.references.items():
            ReferenceCounter.objects.update_or_create(year=year, defaults={"last": last})

    def _application(self, plan: _Plan, batch: _Batch) -> None:
        rng = random.Random(plan.seed)
        story = _Story(self, plan, rng, batch)
        story.tell()

    # -- admissions, their offers and decisions; the residents from before the product --------------
    def _admissions_and_residents(self) -> None:
        rows = sorted(self.admitted, key=lambda r: (r["facility_id"], r["made_at"], r["application_id"]))
        decisions, offers, occupancies, events = [], [], [], []
        previous: dict[int, _Row] = {}
        passed_over = self._passed_over(rows)
        for row in rows:
            fid = row["facility_id"]
            last = previous.get(fid)
            sequence, last_hash = (last.sequence, last.hash) if last else (0, None)
            cap = self.caps[fid]
            # The quota figures a decision records: today's, as close as history needs (R-ALLOC-2).
            figures = {"self_care_cap": cap, "self_care_held": self.self_care_held[fid]}
            decision = _Row(
                id=self.ids.take(AllocationDecision),
                facility_id=fid,
                sequence=sequence + 1,
                bed_id=row["bed_id"],
                made_at=row["made_at"],
                policy_version=self.policy.version,
                trigger=row["trigger"],
                chosen_entry_id=row["entry_id"],
                chosen={
                    "reference": row["reference"],
                    "rank": 1 + len(skipped := passed_over.get(row["offer_id"], [])),
                    "score": row["score"],
                },
                skipped=skipped,
                quota_before=figures,
                quota_after=figures,
                previous_hash=last_hash,
            )
            decision.hash = decision_hash(decision_payload(decision))
            # R-VER-1, R-VER-2: the keyed chain and the public form, as the services' save would.
            seal(
                decision,
                previous=last,
                facility_code=row["facility_code"],
                bed_code=row["bed_code"],
                subjects={
                    row["reference"]: (CHANNEL_OF_RANK[row["channel_rank"]], row["care_level"]),
                    **{r["reference"]: self.passed_subjects[r["reference"]] for r in skipped},
                },
            )
            previous[fid] = decision
            decisions.append(decision)
            offers.append(
                _Row(
                    id=row["offer_id"],
                    application_id=row["application_id"],
                    queue_entry_id=row["entry_id"],
                    facility_id=fid,
                    bed_id=row["bed_id"],
                    decision_id=decision.pk,
                    state="admitted",
                    care_level=row["care_level"],
                    bed_round=0,
                    made_at=row["made_at"],
                    respond_by=row["respond_by"],
                    accepted_at=row["accepted_at"],
                    admit_by=row["admit_by"],
                    closed_at=row["admitted_at"],
                )
            )
            occupancies.append(
                _Row(
                    id=self.ids.take(Occupancy),
                    bed_id=row["bed_id"],
                    facility_id=fid,
                    application_id=row["application_id"],
                    offer_id=row["offer_id"],
                    care_level=row["care_level"],
                    admitted_on=timezone.localdate(row["admitted_at"]),
                )
            )
            events.extend(_admission_events(row, decision))
        _insert(AllocationDecision, decisions)
        _insert(Offer, offers)
        _insert(Occupancy, occupancies)
        for event in events:
            event.id = self.ids.take(ApplicationEvent)
        _insert(ApplicationEvent, events)
        # The other occupied beds: residents who came in before the product (no application).
        rng = self.rng
        residents = (
            _Row(
                id=self.ids.take(Occupancy),
                bed_id=bed_id,
                facility_id=fid,
                application_id=None,
                care_level=level,
                admitted_on=self.today - dt.timedelta(days=rng.randint(1, 1800)),
            )
            for (fid, level, _type), beds in sorted(self.residents.items())
            for bed_id in beds
        )
        while chunk := list(itertools.islice(residents, 5000)):
            _insert(Occupancy, chunk)
        self.admitted = []

    # -- the anomalies the watchdog report should find (R-WATCH-1) -----------------------------------
    def anomaly_home(self) -> Facility:
        """The second largest home (the largest is the one bench and the tests allocate at)."""
        ranked = sorted(self.facilities, key=lambda f: (-self.size[f.pk], f.pk))
        return ranked[1] if len(ranked) > 1 else ranked[0]

    def _passed_over(self, rows: list[dict]) -> dict[int, list[dict]]:
        """Offer id → the people ranked above whom the allocation passed over, each with a reason:
        a share of all admissions, and two at the anomaly home in the last full month. Those passed
        over are people admitted at the same home later (so they were waiting then)."""
        rng = self.anomaly_rng
        home = self.anomaly_home().pk
        month_end = self.today.replace(day=1) - dt.timedelta(days=1)
        month_start = month_end.replace(day=1)
        by_home: dict[int, list[dict]] = defaultdict(list)
        for row in rows:
            by_home[row["facility_id"]].append(row)
        chosen = [row for row in rows if rng.random() < OUT_OF_ORDER_SHARE]
        last_month = [
            row
            for row in by_home[home]
            if month_start <= timezone.localdate(row["admitted_at"]) <= month_end and row not in chosen
        ]
        chosen += last_month[:2]
        passed: dict[int, list[dict]] = {}
        self.passed_subjects: dict[str, tuple[str, str]] = {}  # reference → (channel, care level), R-VER-2
        for row in chosen:
            later = [r for r in by_home[row["facility_id"]] if r["made_at"] > row["made_at"]][:8]
            if not later:
                continue
            skipped = rng.sample(later, min(len(later), rng.randint(1, 3)))
            for other in skipped:
                self.passed_subjects[other["reference"]] = (CHANNEL_OF_RANK[other["channel_rank"]], other["care_level"])
            passed[row["offer_id"]] = [
                {
                    "reference": other["reference"],
                    "rank": rank,
                    "score": row["score"] + rng.randint(0, 5),
                    "reason": rng.choice(OUT_OF_ORDER_REASONS),
                }
                for rank, other in enumerate(skipped, start=1)
            ]
        self.out_of_order_planted = len(passed)
        return passed

    def _long_vacancies(self) -> None:
        """At the anomaly home, residents from before the product left 15–40 days ago and their
        nursing beds were never offered: vacant, with the queue holding candidates."""
        rng = self.anomaly_rng
        home = self.anomaly_home()
        beds = self.residents.get((home.pk, "nursing", "nursing"), [])
        planted = [beds.pop() for _ in range(min(ANOMALY_VACANT_BEDS, max(0, len(beds) - 1)))]
        for bed_id in planted:
            left = self.now - dt.timedelta(days=rng.uniform(*ANOMALY_VACANT_DAYS))
            Occupancy.objects.filter(bed_id=bed_id, discharged_on__isnull=True).update(
                discharged_on=timezone.localdate(left), discharge_reason="deceased"
            )
            Bed.objects.filter(pk=bed_id).update(status="vacant", holder_care_level=None, status_since=left)
        self.anomalies = {
            "home": home.code,
            "long_vacant_beds": len(planted),
            "out_of_order_admissions": self.out_of_order_planted,
        }

    def _couples(self) -> None:
        """R-CPL-1: link pairs of waiting applications with the same first-choice home as couples
        (COUPLE_SHARE of the waiting applicants), with an event on each. From their own random
        stream, so the rest of the city is what it was without them."""
        rng = random.Random(self.seed * 104729 + 14)
        by_home: dict[int, list[int]] = defaultdict(list)
        for application_id, facility_id in (
            FacilityChoice.objects.filter(rank=1, application__state="waiting")
            .order_by("application_id")
            .values_list("application_id", "facility_id")
        ):
            by_home[facility_id].append(application_id)
        # Not at the anomaly home: a together couple there would have its planted vacancies walked
        # again by today's discharges (R-CPL-2), and the watchdog's long vacancies would not be there.
        anomaly = self.anomaly_home().pk
        there = set(FacilityChoice.objects.filter(facility_id=anomaly).values_list("application_id", flat=True))
        by_home.pop(anomaly, None)
        by_home = {home: [pk for pk in ids if pk not in there] for home, ids in by_home.items()}
        pairs = []
        for _facility_id, ids in sorted(by_home.items()):
            rng.shuffle(ids)
            wanted = round(len(ids) * COUPLE_SHARE / 2)
            pairs += [(ids[2 * i], ids[2 * i + 1]) for i in range(min(wanted, len(ids) // 2))]
        if not pairs:
            self.couples = 0
            return
        references = dict(
            Application.objects.filter(pk__in=[pk for pair in pairs for pk in pair]).values_list("pk", "reference")
        )
        linked_at = self.now - dt.timedelta(days=1)
        couples = Couple.objects.bulk_create(
            Couple(
                mode="together" if rng.random() < TOGETHER_SHARE_OF_COUPLES else "either_first",
                reason="applied together (generated)",
                linked_at=linked_at,
                linked_by="intake",
            )
            for _ in pairs
        )
        members, events = [], []
        for couple, pair in zip(couples, pairs, strict=True):
            for mine, other in (pair, pair[::-1]):
                members.append(CoupleMember(couple=couple, application_id=mine))
                events.append(
                    ApplicationEvent(
                        application_id=mine,
                        transition="couple_link",
                        from_state="waiting",
                        to_state="waiting",
                        actor_kind="user",
                        actor_name="intake",
                        at=linked_at,
                        reason=couple.reason,
                        data={"couple": couple.pk, "partner": references[other], "mode": couple.mode},
                    )
                )
        CoupleMember.objects.bulk_create(members)
        ApplicationEvent.objects.bulk_create(events)
        self.couples = len(pairs)

    # -- today: residents leave, the real allocation offers their beds, some offers are accepted ----
    def _live_offers(self) -> int:
        """Through the services: `bed_discharge` frees a resident's bed and allocates it (R-BED-2,
        R-ALLOC-1); `offer_accept` takes some offers on. Returns the offers made."""
        rng = self.rng
        wanted = min(round(self.n_beds * LIVE_OFFER_SHARE_OF_BEDS), self.waiting_count)
        cumulative = _cumulative(self.size[f.pk] for f in self.facilities)
        made = 0
        with quiet_loggers(1), _quiet("admissions.workdays"):
            for _ in range(wanted * 3):
                if made >= wanted:
                    break
                facility = _weighted(rng, self.facilities, cumulative)
                level = "nursing" if rng.random() < 0.8 else "self_care"
                bed_type = "nursing" if level == "nursing" else "general"
                beds = self.residents.get((facility.pk, level, bed_type))
                if not beds:
                    continue
                bed_id = beds.pop()
                officer = Actor.for_user(self.officer[facility.pk])
                reason = rng.choices(["discharged", "deceased", "transferred"], [2, 5, 1])[0]
                _bed, decision = bed_discharge(
                    bed=Bed(pk=bed_id, facility_id=facility.pk), reason=reason, actor=officer
                )
                offer = Offer.objects.filter(decision=decision).first()
                if offer is None:
                    continue  # nobody could take it now: the bed stays vacant, as the decision says
                made += 1
                if rng.random() < ACCEPTED_SHARE_OF_LIVE_OFFERS:
                    offer_accept(offer=offer, actor=officer)
        return made

    def _summary(self, live: int, seconds: float) -> CitySummary:
        states = Counter(Application.objects.values_list("state", flat=True))
        largest = max(self.facilities, key=lambda f: (self.size[f.pk], -f.pk))
        return CitySummary(
            seed=self.seed,
            facilities=len(self.facilities),
            city_level=len(self.city_homes),
            beds=self.n_beds,
            nursing_share_min=round(self.nursing_share_min, 4),
            applications=sum(states.values()),
            states=dict(sorted(states.items())),
            queue_entries_open=QueueEntry.objects.filter(status="open").count(),
            live_offers=live,
            largest_facility=largest.code,
            seconds=round(seconds, 1),
            timings=self.timings,
            anomalies=self.anomalies,
        )


# --- one application's history --------------------------------------------------------------------
def _quiet(*names):
    """Warnings about calendar years before the product's calendar, for offers made long ago."""
    import logging

    @contextmanager
    def quiet():
        loggers = [logging.getLogger(name) for name in names]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)

    return quiet()


class _Batch:
    """Rows of a few thousand applications, written together in an order the foreign keys allow
    (within the one transaction, constraints are checked at commit on both databases)."""

    ORDER = (Applicant, Application, FacilityChoice, CategoryClaim, Assessment, QueueEntry, ApplicationEvent)

    def __init__(self, ids: _Ids):
        self.ids = ids
        self.rows: dict[type, list[_Row]] = defaultdict(list)

    def add(self, model, row: _Row) -> None:
        self.rows[model].append(row)

    def write(self) -> None:
        for event in self.rows[ApplicationEvent]:
            event.id = self.ids.take(ApplicationEvent)
        for row in self.rows[FacilityChoice]:
            row.id = self.ids.take(FacilityChoice)
        for row in self.rows[CategoryClaim]:
            row.id = self.ids.take(CategoryClaim)
        for model in self.ORDER:
            _insert(model, self.rows[model])


def _hours(rng: random.Random, low: float, high: float) -> dt.timedelta:
    return dt.timedelta(hours=rng.uniform(low, high))


def _days(rng: random.Random, low: float, high: float) -> dt.timedelta:
    return dt.timedelta(days=rng.uniform(low, high))


class _Story:
    """One application from intake to the state of its plan, as the services would have taken it:
    the same transitions in the same order, the same events (R-FSM-2), the same derived values."""

    def __init__(self, city: _City, plan: _Plan, rng: random.Random, batch: _Batch):
        self.city, self.plan, self.rng, self.batch = city, plan, rng, batch
        self.events: list[ApplicationEvent] = []
        self.transitions = 0

    # -- events ---------------------------------------------------------------------------------------
    def event(self, transition: str, to_state: str, at: dt.datetime, actor, *, reason: str = "", data=None):
        """`actor` a User, or None for the system. Transitions (a state edge, R-FSM-2) bump the version."""
        app = self.application
        from_state = app.state
        if transition in TRANSITIONS:
            self.transitions += 1
        app.state = to_state
        app.updated_at = at
        self.batch.add(
            ApplicationEvent,
            _Row(
                application_id=app.pk,
                transition=transition,
                from_state=from_state if transition != "create" else "",
                to_state=to_state,
                actor_kind="user" if actor else "system",
                actor_name=actor.username if actor else "system",
                actor_user_id=actor.pk if actor else None,
                at=at,
                reason=reason,
                data=data or {},
            ),
        )

    def staff(self, role: str):
        return self.rng.choice(self.city.staff[role])

    # -- the story ------------------------------------------------------------------------------------
    def tell(self) -> None:
        plan, rng = self.plan, self.rng
        stage, variant = plan.stage, plan.variant
        self._intake()
        app = self.application
        created = plan.created
        self.intake_officer = self.staff(Role.INTAKE)
        self.event("create", "draft", created, self.intake_officer)
        if stage == "draft":
            return self._finish()
        t = created + dt.timedelta(minutes=rng.randint(1, 30))
        app.submitted_at = t
        self.event("submit", "submitted", t, self.intake_officer)
        if stage == "submitted":
            return self._finish()
        if variant == "at_submission":
            return self._close(
                "reject",
                "rejected",
                t + _hours(rng, 1, 72),
                self.intake_officer,
                "rejected",
                reason="户籍及居住证明与申请资料不符，不符合申请条件",
            )
        if variant == "from_submitted":
            return self._close(
                "withdraw", "withdrawn", t + _hours(rng, 1, 72), self.intake_officer, "withdrawn", reason="家属申请撤回"
            )
        t = self._not_after_now(t + _days(rng, 0.5, 5), t)
        self.event("accept_for_assessment", "assessment_pending", t, self.intake_officer)
        if stage == "assessment_pending":
            return self._finish()
        if variant == "from_assessment_pending":
            return self._close(
                "withdraw",
                "withdrawn",
                self._not_after_now(t + _days(rng, 1, 10), t),
                self.intake_officer,
                "withdrawn",
                reason="申请人身体好转，暂不入住",
            )
        grade = rng.choices(GRADES, GRADE_CHANCES)[0]
        assessed_on = timezone.localdate(self._not_after_now(t + _days(rng, 3, 20), t))
        assessment, t = self._assessment(grade, assessed_on, after=t, state="assessment_pending")
        if stage == "review" and variant == "assessment_completed":
            return self._finish()
        t = self._approve_assessment(assessment, t, in_queue=False)
        if stage == "review":
            return self._finish()
        if variant == "at_review":
            return self._close(
                "reject",
                "rejected",
                t + _hours(rng, 1, 48),
                self.reviewer,
                "rejected",
                reason="经核查不符合公办养老机构入住条件",
            )
        if variant == "ineligible":
            return self._close(
                "remove",
                "removed",
                t + _hours(rng, 1, 48),
                self.reviewer,
                "ineligible",
                reason="经核查已入住其他机构",
                data={"reason": "ineligible"},
            )
        t = self._approve(assessment, t + _hours(rng, 1, 72))
        self._queued(t)

    def _not_after_now(self, t: dt.datetime, after: dt.datetime) -> dt.datetime:
        """Recent applications: a step drawn past the present happens just now instead."""
        latest = self.city.now - dt.timedelta(minutes=5)
        return max(after + dt.timedelta(minutes=1), min(t, latest))

    # -- intake (R-APP-1…9) ----------------------------------------------------------------------------
    def _intake(self) -> None:
        city, rng, plan = self.city, self.rng, self.plan
        district = _weighted(rng, city.districts, city.district_cumulative)
        sex = "F" if rng.random() < FEMALE_SHARE else "M"
        created_on = timezone.localdate(plan.created)
        born = city.today - dt.timedelta(days=int(rng.triangular(*AGE_TRIANGLE) * 365.25))
        if age_on(born, created_on) < city.params.min_age:  # R-APP-2 on the application date
            born = _years_before(created_on, city.params.min_age) - dt.timedelta(days=rng.randint(1, 300))
        outside = rng.random() < OUTSIDE_HUKOU_SHARE
        place = rng.choice(OUTSIDE_PLACE_CODES) if outside else PLACE_CODES.get(district.code, "440104")
        surname = rng.choice(SURNAMES)
        applicant = _Row(
            id=city.ids.take(Applicant),
            id_number=id_number(rng, place=place, born=born, sex=sex, used=city.used_id_numbers),
            name=surname + rng.choice(GIVEN_NAMES[sex]),
            date_of_birth=born,
            sex=sex,
            phone=rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}" if rng.random() < 0.6 else "",
            language="en" if rng.random() < 0.04 else "zh-hans",
        )
        year = created_on.year
        city.references[year] += 1
        reference = f"{year}-{city.references[year]:06d}"
        code = "".join(rng.choice(LOOKUP_CODE_ALPHABET) for _ in range(6))
        app = _Row(
            id=city.ids.take(Application),
            state="draft",
            reference=reference,
            applicant_id=applicant.id,
            applicant=applicant,
            hukou_district_id=None if outside else district.pk,
            residence_district_id=district.pk,
            address=f"{district.name_zh}{rng.randint(1, 300)}号{rng.randint(1, 12)}{rng.randint(1, 8):02d}房",
            contributor_exemption_requested=outside,
            lives_alone=rng.random() < LIVES_ALONE_SHARE,
            no_spouse_no_children=rng.random() < NO_SPOUSE_NO_CHILDREN_SHARE,
            declares_no_infectious_disease=True,
            declares_no_serious_mental_disorder=True,
            contact_name=rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES[rng.choice("FM")]),
            contact_relation=rng.choice(["儿子", "女儿", "儿媳", "女婿", "孙子", "侄子", "社区网格员"]),
            contact_phone=rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}",
            created_via="api" if rng.random() < 0.2 else "web",
            created_at=plan.created,
            updated_at=plan.created,
            lookup_code_hash=lookup_code_hash(reference, code),
            lookup_code_issued_at=plan.created,
        )
        self.application, self.applicant = app, applicant
        self.choices = [
            _Row(application_id=app.pk, facility_id=f.pk, rank=rank, spouse_resident=False)
            for rank, f in enumerate(self._homes(district), start=1)
        ]
        self.choices[0].spouse_resident = rng.random() < SPOUSE_RESIDENT_SHARE
        self.claims = [
            _Row(
                application_id=app.pk,
                code=code,
                evidence=EVIDENCE[code].format(n=rng.randint(1, 99999), year=rng.randint(2015, 2026)),
            )
            for code, share in CATEGORY_SHARES
            if rng.random() < share
        ][:2]

    def _homes(self, district: District) -> list[Facility]:
        """Two choices (R-APP-7): two district homes of one's own district, or one of them and one
        city home (never two city homes), in either order."""
        city, rng = self.city, self.rng
        local, cumulative = city.local_homes[district.pk], city.local_cumulative[district.pk]
        first = _weighted(rng, local, cumulative)
        if len(local) >= 2 and rng.random() < TWO_LOCAL_HOMES_SHARE:
            second = first
            while second.pk == first.pk:
                second = _weighted(rng, local, cumulative)
            return [first, second]
        homes = [first, _weighted(rng, city.city_homes, city.city_cumulative)]
        rng.shuffle(homes)
        return homes

    # -- assessments (R-ASM-1…5, R-CARE-1) ------------------------------------------------------------
    def _assessment(self, grade: int, assessed_on: dt.date, *, after: dt.datetime, state: str):
        """Recorded and completed by an assessor on the day (events as `assessment_create(complete=True)`)."""
        rng = self.rng
        items, coma = assessment_items(rng, grade)
        total = total_points(items)
        at = _local_time(assessed_on, rng)
        at = max(at, after + dt.timedelta(minutes=5))
        assessor = self.staff(Role.ASSESSOR)
        assessment = _Row(
            id=self.city.ids.take(Assessment),
            application_id=self.application.pk,
            state="completed",
            assessed_on=assessed_on,
            assessor_id=assessor.pk,
            items=items,
            coma=coma,
            domain_totals=domain_totals(items),
            total=total,
            grade=grade_for(total, coma=coma),
            completed_at=at,
            created_at=at,
        )
        self.batch.add(Assessment, assessment)
        self.event("assessment_recorded", state, at, assessor, data={"assessment": assessment.pk})
        data = {"assessment": assessment.pk, "total": total, "grade": assessment.grade}
        if state == "assessment_pending":
            self.event("complete_assessment", "review", at, assessor, data=data)
        else:
            self.event("assessment_completed", state, at, assessor, data=data)
        return assessment, at

    def _approve_assessment(self, assessment: Assessment, after: dt.datetime, *, in_queue: bool) -> dt.datetime:
        """Approved by a reviewer, never the assessor (R-ASM-4); a queued application is reassessed."""
        rng, params = self.rng, self.city.params
        at = self._not_after_now(after + _days(rng, 0.5, 5), after)
        self.reviewer = self.staff(Role.REVIEWER)
        assessment.state = "approved"
        assessment.reviewer_id = self.reviewer.pk
        assessment.reviewed_at = at
        assessment.care_level = params.care_level_for_grade(assessment.grade)
        assessment.valid_until = assessment.assessed_on + dt.timedelta(days=params.assessment_valid_days)
        data = {
            "assessment": assessment.pk,
            "grade": assessment.grade,
            "care_level": assessment.care_level,
            "valid_until": assessment.valid_until.isoformat(),
        }
        if in_queue:
            self.application.current_assessment = assessment
            self.application.current_assessment_id = assessment.id
            state = self.application.state
            self.event("reassess", state, at, self.reviewer, data=data)
        else:
            self.event("assessment_approved", self.application.state, at, self.reviewer, data=data)
        return at

    # -- approval and the queue (R-APP-8, R-Q-1…3) --------------------------------------------------
    def _approve(self, assessment: Assessment, at: dt.datetime) -> dt.datetime:
        city, app, rng = self.city, self.application, self.rng
        at = self._not_after_now(at, assessment.reviewed_at)
        verified = []
        for claim in self.claims:
            ok = rng.random() < CATEGORY_VERIFIED_SHARE
            claim.status = "verified" if ok else "refused"
            claim.note = "已核验原件" if ok else "证明材料已过有效期，未予认定"
            claim.verified_by_id = self.reviewer.pk
            claim.verified_at = at
            if ok:
                verified.append(claim.code)
        if app.contributor_exemption_requested:
            app.contributor_exemption_granted = True
            app.contributor_exemption_note = "经市民政局认定为对本市有重大贡献人员，同意按居住地轮候"
        channel, reason = channel_for(
            application=app, verified_codes=verified, on=timezone.localdate(at), policy=city.policy
        )
        app.channel_code, app.channel_reason = channel, reason
        app.current_assessment, app.current_assessment_id = assessment, assessment.id
        app.queued_at = at
        self.event(
            "approve",
            "waiting",
            at,
            self.reviewer,
            data={
                "channel": channel,
                "channel_reason": reason,
                "assessment": assessment.pk,
                "policy": city.policy.version,
            },
        )
        return at

    def _queued(self, queued_at: dt.datetime) -> None:
        """Waiting since `queued_at`, then as the plan says: still waiting (reassessed every year),
        suspended, withdrawn, removed, or admitted through an offer."""
        city, rng, plan = self.city, self.rng, self.plan
        stage = plan.stage
        end = city.now
        if stage == "admitted":
            span = (city.now - queued_at).total_seconds() / 86400
            end = queued_at + dt.timedelta(days=rng.uniform(0.3, 0.95) * max(1.0, min(span - 7, 330)))
        elif stage in ("withdrawn", "removed"):
            end = queued_at + (city.now - queued_at) * rng.uniform(0.1, 0.95)
        suspended_at = None
        if stage == "suspended":
            span = (city.now - queued_at).total_seconds() / 86400
            suspended_at = city.now - dt.timedelta(days=rng.uniform(0.5, max(1.0, min(120, span - 1))))
        self._reassessments(end, suspended_at, may_lapse=stage in ("waiting", "suspended"))
        if self.suspend_pending is not None:  # (or already written, in time order, among the reassessments)
            self._suspend(self.suspend_pending)
        entries = self._entries()
        if stage == "withdrawn":
            return self._close(
                "withdraw",
                "withdrawn",
                end,
                self.intake_officer,
                "withdrawn",
                reason=rng.choice(["家属已安排入住民办养老机构", "家属决定居家照护"]),
                entries=entries,
            )
        if stage == "removed":
            return self._close(
                "remove",
                "removed",
                end,
                self.staff(Role.REVIEWER),
                "deceased",
                reason="家属告知申请人已离世",
                data={"reason": "deceased"},
                entries=entries,
            )
        if stage == "admitted" and self._admitted(end, entries):
            return
        if self.application.state == "waiting":
            city.waiting_count += 1
        for entry in entries:
            self.batch.add(QueueEntry, entry)
        self._write()

    def _reassessments(self, end: dt.datetime, suspended_at, *, may_lapse: bool) -> None:
        """R-ASM-5: an assessment is valid for a year, so a long wait has yearly reassessments
        (reassess keeps queued_at); a few are overdue, and the allocation skips them."""
        rng, params = self.rng, self.city.params
        current = self.application.current_assessment
        end_date = timezone.localdate(end)
        while (end_date - current.assessed_on).days > 340:
            due = current.assessed_on + dt.timedelta(
                days=rng.randint(320, min(360, (end_date - current.assessed_on).days - 6))
            )
            if (
                may_lapse
                and due + dt.timedelta(days=params.assessment_valid_days) > end_date
                and rng.random() < EXPIRED_ASSESSMENT_SHARE
            ):
                break  # the last one is overdue: expired, skipped with assessment_expired until redone
            grade = min(4, current.grade + 1) if rng.random() < REGRADE_SHARE else current.grade
            at = _local_time(due, rng)
            if suspended_at is not None and at > suspended_at:
                self._suspend(suspended_at)
                suspended_at = None
            state = self.application.state
            assessment, at = self._assessment(grade, due, after=at - dt.timedelta(minutes=10), state=state)
            self._approve_assessment(assessment, at, in_queue=True)
            current = assessment
        self.suspend_pending = suspended_at

    def _suspend(self, at: dt.datetime) -> None:
        reason = self.rng.choice(["住院治疗中，家属申请暂停", "暂由子女居家照顾", "外出探亲三个月"])
        self.event("suspend", "suspended", at, self.staff(Role.REVIEWER), reason=reason)

    def _entries(self) -> list[QueueEntry]:
        """One per choice (R-Q-1), scored by the services' own `base_score_parts` (R-Q-3)."""
        city, app = self.city, self.application
        assessment = app.current_assessment
        entries = []
        for choice in self.choices:
            parts = base_score_parts(application=app, assessment=assessment, choice=choice, params=city.params)
            entry = _Row(
                id=city.ids.take(QueueEntry),
                application_id=app.pk,
                facility_id=choice.facility_id,
                status="open",
                outcome="",
                channel_rank=CHANNEL_RANK[app.channel_code],
                care_level=assessment.care_level,
                base_score=sum(parts.values()),
                score_parts=parts,
                policy_version=city.policy.version,
                queued_at=app.queued_at,
                queued_epoch=int(app.queued_at.timestamp()),
            )
            entries.append(entry)
        return entries

    def _admitted(self, made_at: dt.datetime, entries: list[QueueEntry]) -> bool:
        """Offered a bed at one of its homes, accepted, admitted (R-OFF-1); the decision, offer and
        occupancy are written in the second pass, in each home's order. False when neither home
        has a bed for its care level: it stays waiting."""
        city, rng, app = self.city, self.rng, self.application
        level = app.current_assessment.care_level
        if app.current_assessment.valid_until < timezone.localdate(made_at):
            return False
        types = ("nursing",) if level == "nursing" else ("general", "nursing")  # R-NQ-2
        order = entries if rng.random() < 0.7 else entries[::-1]
        for entry in order:
            for bed_type in types:
                beds = city.residents.get((entry.facility_id, level, bed_type))
                if beds:
                    return self._admit(entry, beds.pop(), made_at, entries)
        return False

    def _admit(self, entry: QueueEntry, bed_id: int, made_at: dt.datetime, entries) -> bool:
        city, rng, app = self.city, self.rng, self.application
        params = city.params
        accepted_at = made_at + _days(rng, 0.1, 4)
        admitted_at = accepted_at + _days(rng, 0.1, 3)
        officer = city.officer[entry.facility_id]
        for other in entries:
            other.status = "closed"
            other.outcome = "admitted" if other is entry else "admitted_elsewhere"
            other.closed_at = admitted_at
        app.state = "admitted"
        app.closed_at, app.closing_reason = admitted_at, "admitted"
        app.updated_at = admitted_at
        self.transitions += 3  # make_offer, accept_offer, admit: their events follow with the decision
        city.admitted.append(
            {
                "application_id": app.pk,
                "reference": app.reference,
                "facility_id": entry.facility_id,
                "facility_code": city.code_of[entry.facility_id],
                "entry_id": entry.pk,
                "bed_id": bed_id,
                "bed_code": city.bed_code[bed_id],
                "care_level": entry.care_level,
                "channel_rank": entry.channel_rank,
                "score": entry.base_score + waiting_points(queued_at=entry.queued_at, now=made_at, params=params),
                "made_at": made_at,
                "respond_by": city.deadline(made_at, params.offer_response_working_days),
                "accepted_at": accepted_at,
                "admit_by": city.deadline(accepted_at, params.admission_working_days),
                "admitted_at": admitted_at,
                "offer_id": city.ids.take(Offer),
                "officer": officer,
                "trigger": rng.choices(
                    ["discharge:deceased", "discharge:discharged", "discharge:transferred"], [5, 2, 1]
                )[0],
            }
        )
        for e in entries:
            self.batch.add(QueueEntry, e)
        self._write()
        return True

    # -- endings ---------------------------------------------------------------------------------------
    def _close(self, transition, state, at, actor, closing_reason, *, reason="", data=None, entries=()):
        app = self.application
        at = self._not_after_now(at, app.updated_at)
        self.event(transition, state, at, actor, reason=reason, data=data)
        app.closed_at, app.closing_reason = at, closing_reason
        for entry in entries:
            entry.status = "closed"
            entry.outcome = "withdrawn" if state == "withdrawn" else "removed"
            entry.closed_at = at
        for entry in entries:
            self.batch.add(QueueEntry, entry)
        self._write()

    def _finish(self) -> None:
        self._write()

    def _write(self) -> None:
        app = self.application
        app.version = 1 + self.transitions
        self.batch.add(Applicant, self.applicant)
        self.batch.add(Application, app)
        for choice in self.choices:
            self.batch.add(FacilityChoice, choice)
        for claim in self.claims:
            self.batch.add(CategoryClaim, claim)


# The event names that are state-machine transitions (the others are notes on the same state).
TRANSITIONS = {
    "submit",
    "accept_for_assessment",
    "reject",
    "complete_assessment",
    "approve",
    "suspend",
    "withdraw",
    "remove",
    "reassess",
}
GRADES, GRADE_CHANCES = zip(*GRADE_WEIGHTS.items(), strict=True)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _local_time(day: dt.date, rng: random.Random) -> dt.datetime:
    """A moment in office hours on `day`, in the city's time zone."""
    naive = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(minutes=rng.randint(0, 8 * 60))
    return timezone.make_aware(naive)


def _admission_events(row: dict, decision: AllocationDecision) -> list[ApplicationEvent]:
    """make_offer (by the system), accept_offer and admit (by the home's officer), as the offer
    services write them."""
    officer = row["officer"]

    def event(transition, from_state, to_state, at, actor, data):
        return _Row(
            application_id=row["application_id"],
            transition=transition,
            from_state=from_state,
            to_state=to_state,
            actor_kind="user" if actor else "system",
            actor_name=actor.username if actor else "system",
            actor_user_id=actor.pk if actor else None,
            at=at,
            data=data,
        )

    return [
        event(
            "make_offer",
            "waiting",
            "offered",
            row["made_at"],
            None,
            {
                "started_by": "system",
                "offer": row["offer_id"],
                "facility": row["facility_code"],
                "bed": row["bed_code"],
                "decision": decision.pk,
                "respond_by": row["respond_by"].isoformat(),
            },
        ),
        event(
            "accept_offer",
            "offered",
            "admission_check",
            row["accepted_at"],
            officer,
            {"offer": row["offer_id"], "admit_by": row["admit_by"].isoformat()},
        ),
        event(
            "admit",
            "admission_check",
            "admitted",
            row["admitted_at"],
            officer,
            {
                "offer": row["offer_id"],
                "facility": row["facility_code"],
                "bed": row["bed_code"],
                "admitted_on": timezone.localdate(row["admitted_at"]).isoformat(),
            },
        ),
    ]
