"""The policy simulator: the real services run forward in simulated time, day by day (issue 7).

One run starts from a generated city and, for every simulated day, does what the city's people and
staff would do, each act through the service that owns it: elders apply (`application_create`) and
go through intake, assessment and review into the queue; residents die or leave (`bed_discharge`,
which hands the bed to the allocation); people on the waiting list die (removed, reason `deceased`),
withdraw or are suspended for a while; families accept, decline or ignore offers (`offer_accept`,
`offer_decline`, the expiry sweep `offers_expire_due`); residents move in (`offer_admit`) or do not
come (`offer_fail_check`, no-show). Nobody is ever placed in a bed by the simulator: every offer
comes out of the one allocation service, so the rules hold or the run says where they broke —
R-NQ-1, R-BED-1 and R-OFF-3 are checked at the end of every simulated day.

Time. The services read the clock, so the clock is moved (time-machine, frozen between moves: a
run is deterministic for a seed and a start date). Each day has fixed hours: the expiry sweep at
00:30, reminders at 08:00, news of deaths and withdrawals at 09:00, intake and reviews at 10:00
(working days only), discharges at 11:00, families' answers and admissions at 15:00 (working
days), the rule checks at 23:00.

Chance. Every random choice about a person is drawn from a generator seeded by the run's seed and
that person's reference (or bed), never from one shared stream, so two runs of the same city under
different policies meet the same arrivals, the same deaths and the same answers to the same
offers: what differs is what the policy changes (common random numbers).

Isolation. A run never touches the database it is started against: `throwaway_database` points
the default connection at a new SQLite file for the length of the run (see there for why), and
`no_outside_effects` keeps every notification and webhook in that file.
"""

from __future__ import annotations

import calendar as calendar_module
import datetime as dt
import heapq
import importlib
import itertools
import json
import math
import random
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import override_settings
from django.utils import timezone

from admissions.dashboard import facility_figures
from admissions.decisions import first_chain_break
from admissions.models import (
    FINAL_STATES,
    AllocationDecision,
    Application,
    ApplicationEvent,
    ApplicationState,
    CalendarYear,
    CoupleMember,
    FacilityChoice,
    Notification,
    Occupancy,
    Offer,
    OfferState,
    Reconfirmation,
    ReconfirmedVia,
    ReviewRequest,
)
from admissions.people import GRADE_WEIGHTS, People
from admissions.policy import PolicyError, PolicyParameters
from admissions.services import applications as application_services
from admissions.services import assessments as assessment_services
from admissions.services import beds as bed_services
from admissions.services import calendar as calendar_services
from admissions.services import offers as offer_services
from admissions.services import reminders as reminder_services
from admissions.services import review_requests as review_services
from admissions.services.admission_deadline import offers_sweep
from admissions.services.changes import application_family_situation_change
from admissions.services.outbox import outbox_held
from admissions.services.policy import policy_create
from admissions.services.reconfirmation import FAMILY, reconfirm, reconfirmation_ask_due, unconfirmed_applications
from admissions.workdays import is_working_day
from assessments.models import Assessment, AssessmentState
from core.actor import Actor
from core.errors import DomainError
from facilities.models import Bed, BedStatus, CareLevel, Facility, FacilityLevel, Role
from simulation import checks

S = ApplicationState
LOCAL = ZoneInfo(settings.TIME_ZONE)


# --- the model's assumptions ------------------------------------------------------------------
@dataclass(frozen=True)
class Rates:
    """How often things happen. Annual rates are turned into exponential waiting times.

    Hong Kong lost about 19 % of its waiting list a year to deaths (issue 7); the rest are
    assumptions stated in the report, chosen so that a city's queue stays roughly level.
    """

    waiting_deaths_per_year: float = 0.19
    withdrawals_per_year: float = 0.06
    suspensions_per_year: float = 0.05
    suspension_days: tuple[int, int] = (14, 90)
    # Residents leaving (deaths, discharges, transfers), by the care level they hold the bed at.
    residents_leaving_per_year: tuple[tuple[str, float], ...] = (("nursing", 0.30), ("self_care", 0.15))
    leaving_reasons: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = (
        ("nursing", (("deceased", 0.80), ("discharged", 0.10), ("transferred", 0.10))),
        ("self_care", (("deceased", 0.50), ("discharged", 0.35), ("transferred", 0.15))),
    )
    # New applications a month, per bed and per open application at the start.
    arrivals_per_bed_month: float = 0.022
    arrivals_per_open_application_month: float = 0.022
    rejected_at_intake: float = 0.03
    # Families' answers to an offer at their first choice; at a second choice declines are likelier.
    accept: float = 0.80
    decline: float = 0.12  # the rest do not answer and the offer expires (R-OFF-4)
    decline_at_second_choice: float = 0.25
    no_show: float = 0.03  # of accepted offers (R-OFF-4)
    reassessment_missed: float = 0.10  # assessments left to expire for a while (R-ASM-5)
    # Days between the steps of the intake, drawn uniformly.
    days_to_accept: tuple[int, int] = (1, 3)
    days_to_assess: tuple[int, int] = (3, 15)
    days_to_review: tuple[int, int] = (1, 7)
    days_to_answer: tuple[int, int] = (1, 4)
    days_to_admit: tuple[int, int] = (1, 4)
    # Life while waiting (issue 13). Assumptions, like the rest: no published figures.
    reconfirm_in_time: float = 0.85  # families who confirm within the grace when asked (R-CHG-3)
    reconfirm_late: float = 0.50  # of the others, those who confirm after the suspension `not_reconfirmed`
    days_to_reconfirm: tuple[int, int] = (1, 21)
    days_late_reconfirm: tuple[int, int] = (3, 60)
    re_review_asked: float = 0.04  # of assessment outcomes told (approval, reassessment), R-ASM-6
    re_review_grade_changed: float = 0.40  # of re-reviews, the second assessor finds another grade
    # Of accepted offers: nobody comes and the home records nothing; the system fails the check with
    # `no_show` once the deadline and its grace have passed (R-OFF-7).
    no_show_unrecorded: float = 0.03
    family_changes_per_year: float = 0.03  # R-CHG-2: the spouse dies (lives alone now), or moves in with family

    def as_rows(self) -> list[tuple[str, str]]:
        """The assumptions in words, for the report."""
        leaving = ", ".join(f"{level} {rate:.0%}" for level, rate in self.residents_leaving_per_year)
        return [
            ("Deaths on the waiting list", f"{self.waiting_deaths_per_year:.0%} a year (Hong Kong's figure)"),
            ("Withdrawals", f"{self.withdrawals_per_year:.0%} a year of open applications"),
            (
                "Suspensions",
                f"{self.suspensions_per_year:.0%} a year of waiting applications, "
                f"{self.suspension_days[0]}–{self.suspension_days[1]} days each",
            ),
            ("Residents leaving (death, discharge, transfer)", f"{leaving} a year, by care level"),
            (
                "New applications",
                f"{self.arrivals_per_bed_month:.1%} of beds + {self.arrivals_per_open_application_month:.1%} of open "
                "applications at the start, a month (Poisson, handed in on working days)",
            ),
            ("Rejected at the eligibility check", f"{self.rejected_at_intake:.0%}"),
            (
                "Answers to an offer",
                f"accept {self.accept:.0%}, decline {self.decline:.0%} (at a second choice "
                f"{self.decline_at_second_choice:.0%}), no answer (expires) the rest; "
                f"no-show at the admission check {self.no_show:.0%}",
            ),
            ("Reassessment before expiry", f"{1 - self.reassessment_missed:.0%} (the rest 15–45 days late)"),
            (
                "Re-confirmation when asked (R-CHG-3)",
                f"{self.reconfirm_in_time:.0%} confirm within the grace "
                f"({self.days_to_reconfirm[0]}–{self.days_to_reconfirm[1]} days); of the others "
                f"{self.reconfirm_late:.0%} confirm after the suspension, {self.days_late_reconfirm[0]}–"
                f"{self.days_late_reconfirm[1]} days late, by phoning the intake office (its Resume)",
            ),
            (
                "Re-review asked for (R-ASM-6)",
                f"{self.re_review_asked:.0%} of approvals and reassessments; the grade changed in "
                f"{self.re_review_grade_changed:.0%}",
            ),
            (
                "No-show nobody records (R-OFF-7)",
                f"{self.no_show_unrecorded:.0%} of accepted offers: the system fails the check after the grace",
            ),
            ("Change of family situation (R-CHG-2)", f"{self.family_changes_per_year:.0%} a year of open applications"),
        ]

    def leaving_rate(self, care_level: str) -> float:
        return dict(self.residents_leaving_per_year)[care_level]

    def leaving_reason_weights(self, care_level: str) -> tuple[tuple[str, float], ...]:
        return dict(self.leaving_reasons)[care_level]


RATES = Rates()


# --- policy files ------------------------------------------------------------------------------
class PolicyFileError(ValueError):
    """A policy file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class SimulatedPolicy:
    label: str
    parameters: PolicyParameters
    source: str  # the file it came from, or "built-in defaults"

    def changes(self) -> dict:
        """The parameters that differ from SPEC §9's defaults."""
        defaults = asdict(PolicyParameters())
        return {k: v for k, v in self.parameters.to_json().items() if defaults[k] != getattr(self.parameters, k)}

    def changed_leaves(self) -> list[tuple[str, object, object]]:
        """Each changed value with its dotted path, the default and the new value:
        ("score_weights.waiting.points", 1, 2)."""
        defaults = PolicyParameters().to_json()
        found: list[tuple[str, object, object]] = []

        def walk(path: str, old, new) -> None:
            if isinstance(old, dict) and isinstance(new, dict) and set(old) == set(new):
                for key in old:
                    walk(f"{path}.{key}", old[key], new[key])
            elif old != new:
                found.append((path, old, new))

        for name, value in self.changes().items():
            walk(name, PolicyParameters.from_json({name: defaults[name]}).to_json()[name], value)
        return found


DEFAULT_POLICY = SimulatedPolicy(label="default", parameters=PolicyParameters(), source="built-in defaults (SPEC §9)")


def policy_from_file(path: Path) -> SimulatedPolicy:
    """A JSON object of PolicyParameters fields (any left out take SPEC §9's defaults), and an
    optional "label" naming the run in the report (the file's name without .json otherwise)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyFileError(f"policy file {path}: cannot be read ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyFileError(f"policy file {path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise PolicyFileError(f"policy file {path}: must be a JSON object of policy parameters")
    label = data.pop("label", Path(path).stem)
    if not isinstance(label, str) or not label.strip() or len(label) > 40:
        raise PolicyFileError(f"policy file {path}: label: must be a name of 1 to 40 characters")
    try:
        parameters = PolicyParameters.from_json(data)
    except PolicyError as exc:
        problems = "; ".join(f"{name}: {message}" for name, message in exc.errors.items())
        raise PolicyFileError(f"policy file {path}: {problems}") from exc
    return SimulatedPolicy(label=label.strip(), parameters=parameters, source=str(path))


# --- isolation --------------------------------------------------------------------------------
@contextmanager
def sqlite_database(path: Path) -> Iterator[Path]:
    """Point the default database connection at the SQLite file `path` for the duration, then back
    at the configured database, untouched."""
    original_connection = connections[DEFAULT_DB_ALIAS]
    original_settings = connections.settings[DEFAULT_DB_ALIAS]
    connections.settings[DEFAULT_DB_ALIAS] = connections.configure_settings(
        {
            DEFAULT_DB_ALIAS: {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(path),
                # A file nobody else uses while it is open here: no fsync, the journal in memory.
                "OPTIONS": {"init_command": "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY;"},
            }
        }
    )[DEFAULT_DB_ALIAS]
    connections[DEFAULT_DB_ALIAS] = connections.create_connection(DEFAULT_DB_ALIAS)
    ContentType.objects.clear_cache()  # ids differ from one database to the other
    try:
        yield path
    finally:
        connections[DEFAULT_DB_ALIAS].close()
        connections.settings[DEFAULT_DB_ALIAS] = original_settings
        connections[DEFAULT_DB_ALIAS] = original_connection
        ContentType.objects.clear_cache()


@contextmanager
def throwaway_database(path: Path | None = None) -> Iterator[Path]:
    """A new, empty SQLite database for the length of a run (migrate it first), deleted afterwards
    unless `path` is given.

    Why a separate database rather than one transaction rolled back at the end: a run lasts
    minutes, and a transaction that long would hold the locks of everything it touched — the
    year's reference counter (so no real application could be registered meanwhile), policy
    versions, on SQLite the whole database — and its result would depend on whatever the real
    database holds (its references, its policy versions to come). A new file holds only the
    generated city, gives the same result for the same seed on any installation, and the real
    database is not even read.
    """
    directory = None
    if path is None:
        directory = Path(tempfile.mkdtemp(prefix="simulate-"))
        path = directory / "simulation.sqlite3"
    elif path.exists():
        path.unlink()
    try:
        with sqlite_database(path):
            yield path
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def no_outside_effects() -> Iterator[Counter]:
    """Nothing a simulation does reaches a real person or system.

    Notifications and webhooks are still written (they are part of what the services do, and the
    report counts them), but the hand-over to Celery after commit is held by the outbox's public
    switch (admissions/services/outbox.py `outbox_held`) and counted, so the broker, the SMS gateway
    and webhook receivers are never contacted.
    As a second guard, the SMS backend is the console one, email stays in memory, and any task
    that does get queued runs in this process against the throwaway database.
    """
    suppressed: Counter = Counter()
    from config.celery import app as celery_app

    with ExitStack() as stack:
        stack.enter_context(outbox_held(lambda kind: suppressed.update([kind])))
        stack.enter_context(
            override_settings(
                SMS_BACKEND="console",
                EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                WEBHOOK_ALLOWED_HOSTS=["simulation.invalid"],
            )
        )
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        stack.callback(setattr, celery_app.conf, "task_always_eager", eager)
        yield suppressed


# --- the working-day calendar beyond the years shipped -----------------------------------------
@dataclass(frozen=True)
class CalendarNote:
    year: int
    source: str
    holidays: int
    adjusted_workdays: int
    seeded_by_simulation: bool


SIMULATION_SOURCE_MARK = "seeded for the simulation only"


def calendar_cover(years: range, *, actor: Actor) -> list[CalendarNote]:
    """R-OFF-2: every simulated year must have its holidays, or deadlines would count weekends only.
    A year the database does not cover is filled from the `holidays` package, through the
    calendar services, exactly as migration 0003 fills 2026 and 2027 (its `_year_calendar` is
    reused); the report lists which years were filled so and whether the State Council had
    published their adjusted working days."""
    seed_module = importlib.import_module("admissions.migrations.0003_seed_calendar")
    covered = {row.year: row.source for row in CalendarYear.objects.all()}
    notes = []
    for year in years:
        if year in covered:
            notes.append(CalendarNote(year, covered[year], -1, -1, False))
            continue
        days, version = seed_module._year_calendar(year)
        for day, (kind, name) in sorted(days.items()):
            calendar_services.calendar_day_set(date=day, kind=kind, name=name, actor_name=actor.name)
        workdays = sum(1 for kind, _ in days.values() if kind == "workday")
        source = f"{SIMULATION_SOURCE_MARK}: holidays {version}" + (
            "" if workdays else ", statutory holidays only (adjusted working days not yet published)"
        )
        calendar_services.calendar_year_mark_covered(year=year, source=source[:200], actor_name=actor.name)
        notes.append(CalendarNote(year, source, len(days) - workdays, workdays, True))
    return notes


# --- rule checks -------------------------------------------------------------------------------
def rule_violations(*, since: dt.datetime, self_care_yesterday: dict[int, int]) -> tuple[list[str], dict[int, int]]:
    """What is wrong with the quotas, beds and offers now; empty when every rule holds.

    R-NQ-1 as a run must check it: no facility holds more self-care beds than its cap, except where
    it already held them when the cap fell under them (a policy with a higher target: nobody is
    displaced) — then the count may only go down; and every decision since `since` that chose a
    self-care applicant stayed within the cap it recorded. R-BED-1 and R-OFF-3 as `simulation.checks`
    checks them. Returns the problems and each facility's self-care count, for tomorrow's check.
    """
    problems = []
    self_care_today = {}
    for figures in facility_figures(Facility.objects.order_by("pk")):
        quota = figures.quota
        held, cap = quota.self_care_held, quota.self_care_cap
        self_care_today[figures.facility.pk] = held
        if held > cap and held > self_care_yesterday.get(figures.facility.pk, held):
            problems.append(f"R-NQ-1 {figures.facility.code}: {held} self-care beds held, cap {cap}")
    for quota_after in AllocationDecision.objects.filter(
        made_at__gte=since, chosen_entry__care_level=CareLevel.SELF_CARE
    ).values_list("quota_after", flat=True):
        if quota_after["self_care_held"] > quota_after["self_care_cap"]:
            problems.append(f"R-NQ-1 decision past the cap: {quota_after}")
    return problems + checks.bed_violations() + checks.offer_violations(), self_care_today


def admissions_untraced(start: dt.date) -> list[str]:
    """Admissions since `start` that cannot be traced to the allocation service: each must have
    its offer, made by an AllocationDecision that chose that very queue entry (R-ALLOC-2)."""
    untraced = []
    occupancies = Occupancy.objects.filter(admitted_on__gte=start, application__isnull=False).select_related(
        "offer__decision", "application"
    )
    for occupancy in occupancies:
        offer = occupancy.offer
        if offer is None or offer.state != OfferState.ADMITTED or offer.application_id != occupancy.application_id:
            untraced.append(f"{occupancy.application.reference}: no admitted offer of its own")
        elif offer.decision.chosen_entry_id != offer.queue_entry_id or offer.decision.bed_id != offer.bed_id:
            untraced.append(f"{occupancy.application.reference}: its offer's decision chose someone else")
    return untraced


# --- one run -----------------------------------------------------------------------------------
@dataclass
class RunResult:
    """What one run produced; `simulation.report` turns it into the CSV, the charts and the report."""

    policy: SimulatedPolicy
    seed: int
    start: dt.date
    end: dt.date  # exclusive
    city: dict
    rates: Rates
    admissions: list[dict] = field(default_factory=list)
    monthly: dict[str, Counter] = field(default_factory=dict)  # "2027-03" → counts by kind
    shares: list[dict] = field(default_factory=list)  # month-end quota per facility
    calendar: list[CalendarNote] = field(default_factory=list)
    days_checked: int = 0
    violations: list[str] = field(default_factory=list)
    untraced: list[str] = field(default_factory=list)
    chain_break: str | None = None
    decisions: int = 0
    offers: int = 0
    notifications_written: int = 0
    dispatches_suppressed: Counter = field(default_factory=Counter)
    refused_acts: Counter = field(default_factory=Counter)  # service refusals the simulator met, by kind
    unconfirmed_at_end: int = 0  # asked and not confirmed, or suspended `not_reconfirmed` (R-CHG-3)
    seconds: float = 0.0
    peak_memory_mib: float = 0.0


def month_key(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(day.day, calendar_module.monthrange(year, month)[1]))


def _exponential_days(rng: random.Random, per_year: float) -> int:
    return math.ceil(rng.expovariate(per_year / 365.25)) if per_year > 0 else 10**6


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the few arrivals of one day."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# Phases of a day: (hour, minute). Staff phases run on working days only (R-OFF-2).
EXPIRY, REMINDERS, NEWS, DESK, WARD, ANSWERS, CHECKS = (0, 30), (8, 0), (9, 0), (10, 0), (11, 0), (15, 0), (23, 0)
STAFF_PHASES = (DESK, ANSWERS)
SIMULATION_USERS = ("intake", "assessor", "reviewer", "facility", "admin")
# R-ASM-6: a re-review is assessed by someone who took no part in the first assessment and decided by
# another reviewer than the one who approved it: a second assessor and a second reviewer.
SECOND_OPINION = {"assessor_2": Role.ASSESSOR, "reviewer_2": Role.REVIEWER}
# What happened to people while they waited, counted from their events (issue 13): kind → title.
LIFE_WHILE_WAITING = [
    ("reconfirm_asked", "re-confirmation asked (R-CHG-3)"),
    ("reconfirmed", "confirmed by the family or staff"),
    ("reconfirmed_by_offer", "confirmed by a live offer"),
    ("suspended_not_reconfirmed", "suspended, not confirmed in time"),
    ("re_review_requested", "re-review asked for (R-ASM-6)"),
    ("re_review_changed", "re-review: grade changed"),
    ("re_review_upheld", "re-review: upheld"),
    ("no_show_by_deadline", "no-show failed by the system after the grace (R-OFF-7)"),
    ("family_situation_changed", "family situation changed, rescored (R-CHG-2)"),
]


class Simulation:
    """One run of one policy from the city in the current database. Call `run()` once, with the
    clock (a time-machine traveller) already at the start date."""

    def __init__(
        self,
        *,
        policy: SimulatedPolicy,
        seed: int,
        start: dt.date,
        months: int,
        traveller,
        rates: Rates = RATES,
        progress: Callable[[str], None] | None = None,
    ):
        self.policy, self.seed, self.start, self.rates = policy, seed, start, rates
        self.end = add_months(start, months)
        self.traveller = traveller
        self.progress = progress or (lambda message: None)
        self.schedule: dict[tuple[int, int], list] = defaultdict(list)  # phase → heap of (date, n, kind, key)
        self.order = itertools.count()
        self.arrivals_rng = random.Random(f"{seed}:arrivals")
        self.arrivals_due = 0
        self.plans: dict[int, dict] = {}  # application id → what the person is like (their grade)
        self.seen_offer_id = 0
        self.seen_occupancy_id = 0
        self.reassessments: set[int] = set()  # assessment ids whose renewal is scheduled
        self.seen_reconfirmation_id = 0
        self.result: RunResult | None = None

    # --- the clock and the schedule ------------------------------------------------------------
    def _at(self, day: dt.date, phase: tuple[int, int]) -> None:
        self.traveller.move_to(dt.datetime.combine(day, dt.time(*phase), tzinfo=LOCAL))

    def _plan(self, phase: tuple[int, int], day: dt.date, kind: str, key) -> None:
        heapq.heappush(self.schedule[phase], (day, next(self.order), kind, key))

    def _due(self, phase: tuple[int, int], day: dt.date) -> Iterator[tuple[str, object]]:
        heap = self.schedule[phase]
        while heap and heap[0][0] <= day:
            _day, _n, kind, key = heapq.heappop(heap)
            yield kind, key

    def rng(self, *parts) -> random.Random:
        """A generator for one person's or one bed's fate: the same in every run of this seed."""
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def _act(self, kind: str, function, **kwargs):
        """Call a service; a refusal (the person died meanwhile, the offer expired…) is counted, not fatal."""
        try:
            return function(**kwargs)
        except DomainError:
            self.result.refused_acts[kind] += 1
            return None

    # --- the run ---------------------------------------------------------------------------------
    def run(self) -> RunResult:
        self.result = RunResult(
            policy=self.policy, seed=self.seed, start=self.start, end=self.end, city=city_summary(), rates=self.rates
        )
        self._at(self.start, EXPIRY)
        self.actors = {name: Actor.for_user(_simulation_user(name)) for name in SIMULATION_USERS}
        self.actors.update(
            {name: Actor.for_user(_simulation_user(role, name=name)) for name, role in SECOND_OPINION.items()}
        )
        self.result.calendar = calendar_cover(
            range(self.start.year, self.end.year + 2), actor=self.actors["admin"]
        )  # +1: deadlines of the last offers run into the next year
        policy_create(
            effective_from=self.start,
            parameters=self.policy.parameters.to_json(),
            actor=self.actors["admin"],
            note=f"simulation: {self.policy.label}",
        )
        self.people = People(self.arrivals_rng)
        self.people.used_id_numbers.update(Application.objects.values_list("applicant__id_number", flat=True))
        self.facilities = list(Facility.objects.filter(accepting_applications=True).select_related("district"))
        self.by_district: dict[str, list[Facility]] = defaultdict(list)
        for facility in self.facilities:
            if facility.level == FacilityLevel.DISTRICT:
                self.by_district[facility.district.code].append(facility)
        self.city_homes = [f for f in self.facilities if f.level == FacilityLevel.CITY]
        city = self.result.city
        self.arrivals_per_day = (
            self.rates.arrivals_per_bed_month * city["beds"]
            + self.rates.arrivals_per_open_application_month * city["open_applications"]
        ) / 30.4
        self._adopt_starting_state()
        # The self-care holders at the start: from here on, a count above its cap may only fall (R-NQ-1).
        _problems, self_care = rule_violations(since=timezone.now(), self_care_yesterday={})
        day = self.start
        while day < self.end:
            self_care = self._day(day, self_care)
            if (day + dt.timedelta(days=1)).month != day.month:
                self.progress(f"{self.policy.label}: {month_key(day)} done")
            day += dt.timedelta(days=1)
        self._collect()
        return self.result

    def _day(self, day: dt.date, self_care: dict[int, int]) -> dict[int, int]:
        working = is_working_day(day)
        self._at(day, EXPIRY)
        offers_sweep()  # expiry (R-OFF-4) and overdue admissions (R-OFF-7), as the beat schedule runs it
        self._at(day, REMINDERS)
        reminder_services.offer_reminders_send()
        reconfirmation_ask_due()  # R-CHG-3: ask, remind, suspend `not_reconfirmed`
        self._notice_reconfirmation_asks(day)
        self._at(day, NEWS)
        for kind, key in self._due(NEWS, day):
            self._news(kind, key, day)
        self.arrivals_due += _poisson(self.arrivals_rng, self.arrivals_per_day)
        if working:
            self._at(day, DESK)
            for _ in range(self.arrivals_due):
                self._arrive(day)
            self.arrivals_due = 0
            self._plan_reassessments(day)
            for kind, key in self._due(DESK, day):
                self._desk(kind, key, day)
        self._at(day, WARD)
        for _kind, occupancy_id in self._due(WARD, day):
            self._leave(occupancy_id, day)
        if working:
            self._at(day, ANSWERS)
            for kind, key in self._due(ANSWERS, day):
                self._answer(kind, key, day)
        self._at(day, CHECKS)
        self._notice_new_offers_and_residents(day)
        problems, self_care = rule_violations(
            since=dt.datetime.combine(day, dt.time(0), tzinfo=LOCAL), self_care_yesterday=self_care
        )
        self.result.days_checked += 1
        self.result.violations.extend(f"{day}: {problem}" for problem in problems)
        if (day + dt.timedelta(days=1)).month != day.month or day + dt.timedelta(days=1) == self.end:
            self._snapshot(day)
        return self_care

    # --- the starting state ----------------------------------------------------------------------
    def _adopt_starting_state(self) -> None:
        """Give everyone already in the city a fate, and pick up the intake where it stands."""
        for application in Application.objects.exclude(state__in=(*FINAL_STATES, S.DRAFT)).select_related(
            "current_assessment"
        ):
            grade = application.current_assessment.grade if application.current_assessment else None
            self._meet(application, grade=grade)
            step = {S.SUBMITTED: "accept", S.ASSESSMENT_PENDING: "assess", S.REVIEW: "approve"}.get(application.state)
            if step:
                self._plan(
                    DESK,
                    self.start + dt.timedelta(days=self.rng(application.reference, step).randint(0, 7)),
                    step,
                    application.pk,
                )
        self._notice_new_offers_and_residents(self.start - dt.timedelta(days=1))

    def _meet(self, application: Application, *, grade: int | None) -> None:
        """A person the simulation will follow: their care need, and when they would die, withdraw
        or be suspended if still on the list then."""
        ref = application.reference
        if grade is None:
            grade = self.rng(ref, "grade").choices(list(GRADE_WEIGHTS), list(GRADE_WEIGHTS.values()))[0]
        self.plans[application.pk] = {"grade": grade}
        today = timezone.localdate()
        for kind, fate, per_year in (
            ("die", "death", self.rates.waiting_deaths_per_year),
            ("withdraw", "withdraw", self.rates.withdrawals_per_year),
            ("suspend", "suspend", self.rates.suspensions_per_year),
            ("family_change", "family_change", self.rates.family_changes_per_year),
        ):
            days = _exponential_days(self.rng(ref, fate), per_year)
            self._plan(NEWS, today + dt.timedelta(days=days), kind, application.pk)

    # --- people on the list ----------------------------------------------------------------------
    def _news(self, kind: str, application_id: int, day: dt.date) -> None:
        application = Application.objects.filter(pk=application_id).first()
        if application is None or application.is_final:
            return
        reviewer, intake = self.actors["reviewer"], self.actors["intake"]
        if kind == "die":
            self._act(
                "remove_deceased",
                application_services.application_remove,
                application=application,
                reason="deceased",
                note="simulated: the family reports the applicant has died",
                actor=reviewer,
            )
        elif kind == "withdraw":
            self._act(
                "withdraw",
                application_services.application_withdraw,
                application=application,
                reason="simulated: the family has arranged care elsewhere",
                actor=intake,
            )
        elif kind == "suspend":
            if application.state != S.WAITING:
                return
            done = self._act(
                "suspend",
                application_services.application_suspend,
                application=application,
                reason="simulated: in hospital",
                actor=reviewer,
            )
            if done is not None:
                low, high = self.rates.suspension_days
                back = day + dt.timedelta(days=self.rng(application.reference, "resume", day).randint(low, high))
                self._plan(NEWS, back, "resume", application.pk)
        elif kind == "family_change":
            self._family_change(application, day)
        elif kind == "reconfirm":
            # R-CHG-3: the family confirms on the status page (the service behind its lookup-code check).
            self._act("reconfirm", reconfirm, application=application, actor=FAMILY, via=ReconfirmedVia.FAMILY)
        elif kind == "resume" and application.state == S.SUSPENDED:
            done = self._act(
                "resume",
                application_services.application_resume,
                application=application,
                reason="simulated: back from hospital",
                actor=reviewer,
            )
            if done is None:  # the assessment lapsed meanwhile: resume after the reassessment
                self._plan(NEWS, day + dt.timedelta(days=30), "resume", application.pk)

    # --- the desk: intake, assessment, review ----------------------------------------------------
    def _arrive(self, day: dt.date) -> None:
        people = self.people
        people.today = day
        people.rng = self.arrivals_rng
        data, _categories = people.intake(self.by_district, self.city_homes)
        grade = self.arrivals_rng.choices(list(GRADE_WEIGHTS), list(GRADE_WEIGHTS.values()))[0]
        created = self._act(
            "apply",
            application_services.application_create,
            data=data,
            submit=True,
            actor=self.actors["intake"],
            via="simulation",
        )
        if created is None:
            return
        application, _code = created
        self._meet(application, grade=grade)
        rng = self.rng(application.reference, "intake")
        if rng.random() < self.rates.rejected_at_intake:
            self._plan(DESK, day + dt.timedelta(days=rng.randint(*self.rates.days_to_accept)), "reject", application.pk)
        else:
            self._plan(DESK, day + dt.timedelta(days=rng.randint(*self.rates.days_to_accept)), "accept", application.pk)

    def _desk(self, kind: str, application_id: int, day: dt.date) -> None:
        application = Application.objects.select_related("applicant").filter(pk=application_id).first()
        if application is None or application.is_final:
            return
        rng = self.rng(application.reference, kind, day)
        intake, reviewer = self.actors["intake"], self.actors["reviewer"]
        if kind == "reject":
            self._act(
                "reject",
                application_services.application_reject,
                application=application,
                reason="simulated: not eligible on checking the documents",
                actor=intake,
            )
        elif kind == "accept":
            done = self._act(
                "accept_for_assessment",
                application_services.application_accept_for_assessment,
                application=application,
                actor=intake,
            )
            if done is not None:
                next_step = "approve" if done.state == S.REVIEW else "assess"
                self._plan(
                    DESK, day + dt.timedelta(days=rng.randint(*self.rates.days_to_assess)), next_step, application_id
                )
        elif kind == "assess":
            if self._assess(application, day) is not None:
                self._plan(
                    DESK, day + dt.timedelta(days=rng.randint(*self.rates.days_to_review)), "approve", application_id
                )
        elif kind == "approve":
            self._approve(application, rng)
        elif kind == "reconfirm_late":
            self._reconfirm_late(application)
        elif kind in ("review_request", "review_assess", "review_decide"):
            self._re_review(kind, application, day)
        elif kind == "reassess":
            if application.state in (S.OFFERED, S.ADMISSION_CHECK):  # busy with an offer: a week later
                self._plan(DESK, day + dt.timedelta(days=7), "reassess", application_id)
                return
            plan = self.plans.get(application_id, {})
            if rng.random() < 0.3:  # care need tends to grow
                plan["grade"] = min(4, plan.get("grade", 2) + 1)
            assessment = self._assess(application, day)
            if assessment is not None:
                approved = self._act(
                    "reassess", assessment_services.assessment_approve, assessment=assessment, actor=reviewer
                )
                if approved is not None:
                    self._maybe_ask_re_review(application, day, approved.pk)

    def _assess(self, application: Application, day: dt.date, *, assessor: str = "assessor") -> Assessment | None:
        plan = self.plans.setdefault(application.pk, {"grade": 2})
        # The first assessor's draw as before; a second assessor (a re-review) draws their own.
        self.people.rng = self.rng(application.reference, "items", day, *([] if assessor == "assessor" else [assessor]))
        items, coma = self.people.items(plan["grade"])
        return self._act(
            "assess",
            assessment_services.assessment_create,
            application=application,
            assessed_on=day,
            items=items,
            coma=coma,
            complete=True,
            actor=self.actors[assessor],
        )

    # --- re-reviews (R-ASM-6) --------------------------------------------------------------------
    def _maybe_ask_re_review(self, application: Application, day: dt.date, assessment_id: int) -> None:
        """Some families, told the outcome (approval into the queue, a reassessment), ask for a
        re-review within the window."""
        rng = self.rng(application.reference, "re_review", assessment_id)
        if rng.random() < self.rates.re_review_asked:
            window = self.policy.parameters.review_request_days
            self._plan(
                DESK, day + dt.timedelta(days=rng.randint(1, max(1, window - 5))), "review_request", application.pk
            )

    def _re_review(self, kind: str, application: Application, day: dt.date) -> None:
        """Asked through the intake office, assigned to a second assessor, assessed, decided by a
        second reviewer: each step through its service, a few days apart."""
        rng = self.rng(application.reference, kind, day)
        review = ReviewRequest.objects.filter(application=application).order_by("-pk").first()
        if kind == "review_request":
            review = self._act(
                "re_review",
                review_services.review_request_create,
                application=application,
                reason="simulated: the family thinks the grade is wrong",
                actor=self.actors["intake"],
            )
            if review is None:
                return
            assigned = self._act(
                "re_review_assign",
                review_services.review_request_assign,
                review_request=review,
                assessor=self.actors["assessor_2"].user,
                actor=self.actors["reviewer"],
            )
            if assigned is not None:
                self._plan(
                    DESK,
                    day + dt.timedelta(days=rng.randint(*self.rates.days_to_assess)),
                    "review_assess",
                    application.pk,
                )
        elif kind == "review_assess" and review is not None and review.new_assessment_id is None:
            plan = self.plans.setdefault(application.pk, {"grade": 2})
            if rng.random() < self.rates.re_review_grade_changed:
                plan["grade"] = plan["grade"] + 1 if plan["grade"] < 4 else plan["grade"] - 1
            if self._assess(application, day, assessor="assessor_2") is not None:
                self._plan(
                    DESK,
                    day + dt.timedelta(days=rng.randint(*self.rates.days_to_review)),
                    "review_decide",
                    application.pk,
                )
        elif kind == "review_decide" and review is not None and review.outcome is None:
            self._act(
                "re_review_decide",
                review_services.review_request_decide,
                review_request=review,
                reason="simulated: decided on the second assessment",
                actor=self.actors["reviewer_2"],
            )

    # --- re-confirmation (R-CHG-3) ---------------------------------------------------------------
    def _notice_reconfirmation_asks(self, day: dt.date) -> None:
        """Each family asked today confirms within the grace, late (after the suspension), or never."""
        for ask in (
            Reconfirmation.objects.filter(pk__gt=self.seen_reconfirmation_id, asked_at__isnull=False)
            .select_related("application")
            .order_by("pk")
        ):
            self.seen_reconfirmation_id = ask.pk
            rng = self.rng(ask.application.reference, "reconfirm", ask.pk)
            if rng.random() < self.rates.reconfirm_in_time:
                when = min(
                    day + dt.timedelta(days=rng.randint(*self.rates.days_to_reconfirm)),
                    timezone.localdate(ask.respond_by) - dt.timedelta(days=1),
                )
                self._plan(NEWS, when, "reconfirm", ask.application_id)
            elif rng.random() < self.rates.reconfirm_late:
                late = rng.randint(*self.rates.days_late_reconfirm)
                self._plan(
                    DESK,
                    timezone.localdate(ask.respond_by) + dt.timedelta(days=late),
                    "reconfirm_late",
                    ask.application_id,
                )

    def _reconfirm_late(self, application: Application) -> None:
        """The family phones after the suspension: the officer's Resume records the confirmation
        (R-CHG-3); with the assessment expired, the confirmation alone (it stays suspended)."""
        if application.state != S.SUSPENDED:
            return
        resumed = self._act(
            "reconfirm_late",
            application_services.application_resume,
            application=application,
            reason="simulated: the family phoned; they still want to wait",
            actor=self.actors["intake"],
        )
        if resumed is None:
            self._act("reconfirm", reconfirm, application=application, actor=self.actors["intake"])

    # --- changes of circumstances (R-CHG-2) ------------------------------------------------------
    def _family_change(self, application: Application, day: dt.date) -> None:
        if application.state in (S.OFFERED, S.ADMISSION_CHECK):  # not while an offer is live: a week later
            self._plan(NEWS, day + dt.timedelta(days=7), "family_change", application.pk)
            return
        if application.state not in (S.WAITING, S.SUSPENDED):
            return
        spouse_resident_in = list(
            application.choices.filter(spouse_resident=True).values_list("facility__code", flat=True)
        )
        self._act(
            "family_change",
            application_family_situation_change,
            application=application,
            lives_alone=not application.lives_alone,
            no_spouse_no_children=application.no_spouse_no_children,
            spouse_resident_in=spouse_resident_in,
            reason=(
                "simulated: moved in with the family"
                if application.lives_alone
                else "simulated: the spouse died; lives alone now"
            ),
            actor=self.actors["intake"],
        )

    def _approve(self, application: Application, rng: random.Random) -> None:
        reviewer = self.actors["reviewer"]
        pending = (
            application.assessments.filter(state=AssessmentState.COMPLETED).order_by("-assessed_on", "-id").first()
        )
        if pending is not None:
            if (
                self._act(
                    "approve_assessment", assessment_services.assessment_approve, assessment=pending, actor=reviewer
                )
                is None
            ):
                return
        self.people.rng = rng
        claimed = list(application.category_claims.values_list("code", flat=True))
        exemption = None
        if application.contributor_exemption_requested and application.hukou_district_id is None:
            exemption = {"granted": True, "note": "simulated: contribution to the city confirmed"}
        approved = self._act(
            "approve",
            application_services.application_approve,
            application=application,
            categories=[self.people.category_decision(code) for code in claimed],
            exemption=exemption,
            actor=reviewer,
        )
        if approved is not None and approved.state != S.REJECTED:
            self._maybe_ask_re_review(approved, timezone.localdate(), approved.current_assessment_id)

    def _plan_reassessments(self, day: dt.date) -> None:
        """R-ASM-5: most queued people are reassessed before their assessment expires; some late."""
        soon = day + dt.timedelta(days=14)
        due = Application.objects.filter(
            state__in=(S.WAITING, S.SUSPENDED), current_assessment__valid_until__lte=soon
        ).values_list("pk", "reference", "current_assessment_id", "current_assessment__valid_until")
        for application_id, reference, assessment_id, valid_until in due:
            if assessment_id in self.reassessments:
                continue
            self.reassessments.add(assessment_id)
            rng = self.rng(reference, "reassess", assessment_id)
            if rng.random() < self.rates.reassessment_missed:
                when = valid_until + dt.timedelta(days=rng.randint(15, 45))
            else:
                when = day + dt.timedelta(days=rng.randint(0, max(0, (valid_until - day).days - 1)))
            self._plan(DESK, when, "reassess", application_id)

    # --- the wards: residents leaving ------------------------------------------------------------
    def _leave(self, occupancy_id: int, day: dt.date) -> None:
        occupancy = Occupancy.objects.select_related("bed").filter(pk=occupancy_id, discharged_on__isnull=True).first()
        if occupancy is None:
            return
        rng = self.rng(
            "occupancy", occupancy.application.reference if occupancy.application_id else occupancy_id, "reason"
        )
        reasons, weights = zip(*self.rates.leaving_reason_weights(occupancy.care_level), strict=True)
        reason = rng.choices(reasons, weights)[0]
        self._act(
            f"discharge_{reason}",
            bed_services.bed_discharge,
            bed=occupancy.bed,
            reason=reason,
            on=max(day, occupancy.admitted_on),
            actor=self.actors["facility"],
        )

    # --- families' answers and admissions ------------------------------------------------------
    def _notice_new_offers_and_residents(self, day: dt.date) -> None:
        """Offers the allocation made today get their family's answer; new residents their stay."""
        for offer in Offer.objects.filter(pk__gt=self.seen_offer_id).select_related("application").order_by("pk"):
            self.seen_offer_id = offer.pk
            ref = offer.application.reference
            rng = self.rng(ref, "offer", offer.bed_id, offer.made_at.date())
            if offer.state == OfferState.ACCEPTED:
                self._plan_admission(offer, rng, day)
                continue
            if offer.state != OfferState.PENDING:
                continue
            rank = (
                FacilityChoice.objects.filter(application_id=offer.application_id, facility_id=offer.facility_id)
                .values_list("rank", flat=True)
                .first()
            )
            decline = self.rates.decline_at_second_choice if rank and rank > 1 else self.rates.decline
            draw = rng.random()
            answer = (
                "accept" if draw < self.rates.accept else ("decline" if draw < self.rates.accept + decline else None)
            )
            if answer is None:
                continue  # nobody answers: the expiry sweep takes it (R-OFF-4)
            when = min(
                day + dt.timedelta(days=rng.randint(*self.rates.days_to_answer)), timezone.localdate(offer.respond_by)
            )
            self._plan(ANSWERS, when, answer, offer.pk)
        for occupancy in (
            Occupancy.objects.filter(pk__gt=self.seen_occupancy_id, discharged_on__isnull=True)
            .select_related("application")
            .order_by("pk")
        ):
            self.seen_occupancy_id = occupancy.pk
            key = occupancy.application.reference if occupancy.application_id else occupancy.pk
            stay = _exponential_days(self.rng("occupancy", key, "stay"), self.rates.leaving_rate(occupancy.care_level))
            self._plan(WARD, max(day, self.start) + dt.timedelta(days=stay), "leave", occupancy.pk)

    def _plan_admission(self, offer: Offer, rng: random.Random, day: dt.date) -> None:
        draw = rng.random()
        if self.rates.no_show <= draw < self.rates.no_show + self.rates.no_show_unrecorded:
            return  # nobody comes, nobody records it: the sweep fails the check after the grace (R-OFF-7)
        kind = "no_show" if draw < self.rates.no_show else "admit"
        when = min(day + dt.timedelta(days=rng.randint(*self.rates.days_to_admit)), timezone.localdate(offer.admit_by))
        self._plan(ANSWERS, when, kind, offer.pk)

    def _answer(self, kind: str, offer_id: int, day: dt.date) -> None:
        offer = Offer.objects.select_related("application").filter(pk=offer_id).first()
        if offer is None:
            return
        facility = self.actors["facility"]
        rng = self.rng(offer.application.reference, "admission", offer_id)
        if kind == "accept" and offer.state == OfferState.PENDING:
            accepted = self._act("accept", offer_services.offer_accept, offer=offer, actor=facility)
            if accepted is not None:
                self._plan_admission(accepted, rng, day)
        elif kind == "decline" and offer.state == OfferState.PENDING:
            self._act(
                "decline",
                offer_services.offer_decline,
                offer=offer,
                reason="simulated: too far from family",
                actor=facility,
            )
        elif kind == "admit" and offer.state == OfferState.ACCEPTED:
            self._act("admit", offer_services.offer_admit, offer=offer, admitted_on=day, actor=facility)
        elif kind == "no_show" and offer.state == OfferState.ACCEPTED:
            self._act("no_show", offer_services.offer_fail_check, offer=offer, reason="no_show", actor=facility)

    # --- what the run saw ------------------------------------------------------------------------
    def _snapshot(self, day: dt.date) -> None:
        month = month_key(day)
        for figures in facility_figures(Facility.objects.select_related("district").order_by("code")):
            quota = figures.quota
            self.result.shares.append(
                {
                    "month": month,
                    "facility": figures.facility.code,
                    "nursing_share": quota.nursing_share,
                    "nursing_target": float(quota.nursing_target),
                    "self_care_held": quota.self_care_held,
                    "self_care_cap": quota.self_care_cap,
                    "in_service": figures.in_service,
                    "vacant": figures.vacant,
                }
            )
        counts = self.result.monthly.setdefault(month, Counter())
        counts["queue_at_month_end"] = Application.objects.filter(
            state__in=(S.WAITING, S.SUSPENDED, S.OFFERED, S.ADMISSION_CHECK)
        ).count()

    def _collect(self) -> None:
        result, start, end = self.result, self.start, self.end
        begin = dt.datetime.combine(start, dt.time(0), tzinfo=LOCAL)
        finish = dt.datetime.combine(end, dt.time(0), tzinfo=LOCAL)
        result.admissions = admission_rows(start=start, end=end, label=self.policy.label)
        for row in result.admissions:
            result.monthly.setdefault(row["admitted_date"][:7], Counter())["admitted"] += 1
        for state, closed_at in Offer.objects.filter(
            is_refusal=True, closed_at__gte=begin, closed_at__lt=finish
        ).values_list("state", "closed_at"):
            kind = {OfferState.DECLINED: "declined", OfferState.EXPIRED: "expired"}.get(state, "no_show")
            result.monthly.setdefault(month_key(timezone.localdate(closed_at)), Counter())[kind] += 1
        for state, reason, closed_at in Application.objects.filter(
            state__in=(S.WITHDRAWN, S.REMOVED, S.REJECTED), closed_at__gte=begin, closed_at__lt=finish
        ).values_list("state", "closing_reason", "closed_at"):
            kind = {S.WITHDRAWN: "withdrawn", S.REJECTED: "rejected"}.get(state) or f"removed_{reason or 'other'}"
            result.monthly.setdefault(month_key(timezone.localdate(closed_at)), Counter())[kind] += 1
        for reason, discharged_on in Occupancy.objects.filter(
            discharged_on__gte=start, discharged_on__lt=end
        ).values_list("discharge_reason", "discharged_on"):
            result.monthly.setdefault(month_key(discharged_on), Counter())[f"residents_{reason}"] += 1
        for created in Application.objects.filter(created_via="simulation").values_list("created_at", flat=True):
            result.monthly.setdefault(month_key(timezone.localdate(created)), Counter())["applied"] += 1
        for kind, at in life_while_waiting_events(begin, finish):
            result.monthly.setdefault(month_key(timezone.localdate(at)), Counter())[kind] += 1
        result.unconfirmed_at_end = unconfirmed_applications().count()
        result.decisions = AllocationDecision.objects.filter(made_at__gte=begin).count()
        result.offers = Offer.objects.filter(made_at__gte=begin).count()
        result.notifications_written = Notification.objects.filter(created_at__gte=begin).count()
        result.untraced = admissions_untraced(start)
        broken = first_chain_break()
        result.chain_break = None if broken is None else f"decision {broken.decision.pk}: {broken.problem}"


def life_while_waiting_events(begin: dt.datetime, finish: dt.datetime) -> Iterator[tuple[str, dt.datetime]]:
    """(kind of LIFE_WHILE_WAITING, when) for each event of the run that is one of them: counted
    from the applications' events, as the database has them, not from what the simulator meant."""
    events = ApplicationEvent.objects.filter(at__gte=begin, at__lt=finish)
    simple = {
        "reconfirmation_requested": "reconfirm_asked",
        "review_requested": "re_review_requested",
        "family_situation_changed": "family_situation_changed",
    }
    for transition, at in events.filter(transition__in=simple).values_list("transition", "at"):
        yield simple[transition], at
    for via, at in events.filter(transition="reconfirmed").values_list("data__via", "at"):
        yield ("reconfirmed_by_offer" if via == ReconfirmedVia.OFFER else "reconfirmed"), at
    for at in events.filter(transition="suspend", reason="not_reconfirmed").values_list("at", flat=True):
        yield "suspended_not_reconfirmed", at
    for outcome, at in events.filter(transition="review_decided").values_list("data__outcome", "at"):
        yield f"re_review_{outcome}", at
    for at in events.filter(transition="fail_admission_check", actor_kind="system", data__reason="no_show").values_list(
        "at", flat=True
    ):
        yield "no_show_by_deadline", at


def admission_rows(*, start: dt.date, end: dt.date, label: str) -> list[dict]:
    """One row per admission from `start` to `end` (exclusive): the CSV's rows."""
    rows = []
    occupancies = (
        Occupancy.objects.filter(admitted_on__gte=start, admitted_on__lt=end, application__isnull=False)
        .select_related("application__hukou_district", "application__residence_district", "facility__district", "offer")
        .order_by("admitted_on", "application__reference")
    )
    # Issue 14: which admitted applications were one of a couple, and how they were to be placed.
    couple_modes = dict(
        CoupleMember.objects.filter(application__occupancy__in=occupancies).values_list(
            "application_id", "couple__mode"
        )
    )
    for occupancy in occupancies:
        application, offer = occupancy.application, occupancy.offer
        queued = timezone.localdate(application.queued_at)
        home_district = application.hukou_district or application.residence_district
        rows.append(
            {
                "reference": application.reference,
                "facility": occupancy.facility.code,
                "district": occupancy.facility.district.code,
                "channel": application.channel_code,
                "care_level": occupancy.care_level,
                "queued_date": queued.isoformat(),
                "offer_date": timezone.localdate(offer.made_at).isoformat(),
                "admitted_date": occupancy.admitted_on.isoformat(),
                "days_waited": (occupancy.admitted_on - queued).days,
                "policy": label,
                "applicant_district": home_district.code if home_district else "",
                "facility_level": occupancy.facility.level,
                "couple": couple_modes.get(application.pk, "single"),
            }
        )
    return rows


def city_summary() -> dict:
    """The starting city, as the report describes it."""
    beds = Bed.objects.exclude(status=BedStatus.OUT_OF_SERVICE)
    return {
        "facilities": Facility.objects.count(),
        "city_level": Facility.objects.filter(level=FacilityLevel.CITY).count(),
        "beds": beds.count(),
        "nursing_beds": beds.filter(bed_type="nursing").count(),
        "occupied": beds.filter(status=BedStatus.OCCUPIED).count(),
        "open_applications": Application.objects.exclude(state__in=(*FINAL_STATES, S.DRAFT)).count(),
        "waiting": Application.objects.filter(state=S.WAITING).count(),
    }


def _simulation_user(role: str, *, name: str | None = None) -> User:
    """The simulated staff member of `role` (named `simulation-<name or role>`), in that role's group:
    the services check each step against the role table (ROLES_BY_TRANSITION) as they do for real staff."""
    user, _ = User.objects.get_or_create(
        username=f"simulation-{(name or role).replace('_', '-')}",
        defaults={"is_staff": True, "is_superuser": role == Role.ADMIN},
    )
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user
