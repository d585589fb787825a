"""`manage.py bench` (issue 7): the figures of a city at scale, on the configured database, each
next to two floors measured in the same run on the same stack — a view answering constant JSON
through the same Client and middleware, and a single-row primary-key read — so every figure is
also a ratio that says how much of it is our work rather than the machine's.

What it measures:
- the public lookup (POST /api/v1/public/lookup/) through the whole Django stack (django.test.Client,
  every middleware, DRF): p50/p95/p99. Codes are issued by the real `lookup_code_issue`, so every
  lookup succeeds; R-PUB-2 counts failures only, so no lockout is met, and each request still comes
  from its own REMOTE_ADDR (10.x.y.z) so the per-address limits could not interfere anyway;
- the staff queue page (the htmx fragment /staff/facilities/<code>/queue/) and the queue API page
  (/api/v1/facilities/<code>/queue/) of the largest home, logged in as an administrator;
- the watchdog report page (R-WATCH-1) for the whole city and the last full month;
- allocating one bed at the largest home: a resident leaves (`bed_discharge`, the real service),
  which allocates the bed (R-BED-2, R-ALLOC-1) in the same transaction: p95 over repeated runs;
- on PostgreSQL, 1,000 such allocations by 8 processes across the busiest homes, then R-NQ-1,
  R-BED-1 and R-OFF-3 checked over the whole database (simulation/checks.py);
- R-POL-1: a policy version effective today brought into force over every open entry (the act, to
  its COMMIT; then the allocation it starts, timed apart);
- issue 14: allocating one bed at the largest home with the generator's ~3 % couples linked, then
  with every couple unlinked (the real `couple_unlink`), then linked again (`couple_link`): the same
  home and queue, how much worse the couples make it (target ≤ 10 %). Last, since it relinks them;
- `generate_city` itself, when this run builds the city: wall time, and the peak memory of its
  process (resource.getrusage of the child).

The measuring runs with DEBUG off (as production does: no query log); the database cache holds the
lookup's counters as it would in production without Redis. The bench changes the city it runs on:
residents leave and offers are made.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.test.utils import override_settings

from admissions.models import Application, Occupancy, QueueEntry
from admissions.quiet import quiet_loggers
from admissions.services.applications import lookup_code_issue
from admissions.services.beds import bed_discharge
from core.actor import Actor
from facilities.models import Bed, Facility

from .checks import rule_violations
from .generator import _quiet, generate_city, require_migrated

OPEN_STATES = ("waiting", "suspended", "offered", "admission_check")  # queued (R-Q-1)

# The scale of SPEC §11 at 100,000 applications; smaller scales shrink it in proportion.
FULL_SCALE = {"facilities": 200, "beds": 60_000, "applications": 100_000}

# Issue 7's targets.
TARGETS = {
    "public_lookup": "p95 ≤ 25 ms and ≤ 3× the constant-view floor",
    "staff_queue_page": "(no target; reported)",
    "queue_api_page": "p95 ≤ 50 ms",
    "allocate_one_bed": "p95 ≤ 50 ms",
    "concurrent_allocations": "≥ 100 allocations/s, zero rule violations",
    "generate_city": "≤ 3 min, peak memory ≤ 1 GiB",
    "watchdog_report": "p95 ≤ 2 s",
    "policy_act": "≤ 60 s at 200,000 open entries on PostgreSQL (R-POL-1)",
    "allocate_one_bed_couples": "p50 and p95 ≤ 10 % worse with ~3 % couples than without (issue 14)",
}
COUPLES_WORSE_LIMIT = 0.10
COUPLES_ROUNDS = 3  # with/without pairs, alternating
PROCESSES = 8
CONCURRENT_ALLOCATIONS = 1000


class BenchError(ValueError):
    pass


def sizes_for(scale: int) -> dict[str, int]:
    """The city for `scale` applications: 200 homes and 60,000 beds per 100,000, at least 12 homes."""
    facilities = max(12, round(FULL_SCALE["facilities"] * scale / FULL_SCALE["applications"]))
    beds = max(facilities * 60, round(FULL_SCALE["beds"] * scale / FULL_SCALE["applications"]))
    return {"facilities": facilities, "beds": min(beds, facilities * 1500), "applications": scale}


# --- timing ---------------------------------------------------------------------------------------
def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 2)

    return {"p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "n": len(ordered)}


def _time(
    call: Callable[[int], object],
    n: int,
    warmup: int = 5,
    into: list[float] | None = None,
    cpu_into: list[float] | None = None,
) -> dict[str, float]:
    """Percentiles of n timed calls after `warmup` untimed ones. The samples are also added to
    `into`, and this process's CPU time of each call to `cpu_into` (on SQLite that is the database's
    work too, and it does not count the time a shared machine's other processes hold the cores)."""
    for i in range(warmup):
        call(i)
    samples = []
    for i in range(n):
        started, cpu = time.perf_counter(), time.process_time()
        call(warmup + i)
        samples.append((time.perf_counter() - started) * 1000)
        if cpu_into is not None:
            cpu_into.append((time.process_time() - cpu) * 1000)
    if into is not None:
        into.extend(samples)
    return _percentiles(samples)


def _peak_rss_mib(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # kilobytes on Linux


# --- the run ----------------------------------------------------------------------------------------
class Bench:
    def __init__(self, *, scale: int, seed: int, samples: int, generate_in_process: bool, out=print):
        self.scale, self.seed, self.samples = scale, seed, samples
        self.generate_in_process = generate_in_process
        self.out = out
        self.rng = random.Random(seed)
        self.results: dict = {
            "scale": scale,
            "database": connection.vendor,
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "figures": {},
        }

    def run(self) -> dict:
        self._city()
        quiet = _quiet("admissions.lookup", "admissions.workdays")  # a line per lookup, in a terminal
        with override_settings(DEBUG=False, ROOT_URLCONF="simulation.bench_urls"), quiet_loggers(1), quiet:
            self.floors = self._floors()
            self._lookup()
            self._queue_pages()
            self._watchdog()
            self._allocate_one()
            self._concurrent()
            self._policy_act()
            self._couples_comparison()
        self._generate_figure()
        self.results["bench_peak_memory_mib"] = _peak_rss_mib(resource.RUSAGE_SELF)
        return self.results

    # -- the city ----------------------------------------------------------------------------------
    def _city(self) -> None:
        require_migrated()
        count = Application.objects.count()
        sizes = sizes_for(self.scale)
        if count and count != self.scale:
            raise BenchError(
                f"The database holds {count} applications, not a city of --scale {self.scale}: "
                "use an empty database (or the scale it holds), e.g. "
                "DATABASE_URL=sqlite:///bench.sqlite3 python manage.py migrate && "
                "DATABASE_URL=sqlite:///bench.sqlite3 python manage.py bench ..."
            )
        if count:
            self.out(f"Reusing the city in the database ({count} applications).")
            self.generated = None
            return
        self.out(f"Generating a city of {self.scale} applications ({sizes['facilities']} homes, {sizes['beds']} beds)…")
        if self.generate_in_process:
            started = time.monotonic()
            summary = generate_city(**sizes, seed=self.seed, progress=False)
            self.generated = {
                "seconds": round(time.monotonic() - started, 1),
                "peak_memory_mib": _peak_rss_mib(resource.RUSAGE_SELF),
                "measured": "in this process (its peak includes the bench so far)",
                "summary": summary.as_dict(),
            }
            return
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "generate_city", "--json"]
        command += [f"--{k}={v}" for k, v in sizes.items()] + [f"--seed={self.seed}", "--no-progress"]
        connections.close_all()
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            raise BenchError(f"generate_city failed:\n{done.stderr[-3000:]}")
        self.generated = {
            "seconds": round(seconds, 1),
            "peak_memory_mib": _peak_rss_mib(resource.RUSAGE_CHILDREN),
            "measured": "a child process: wall time, and its peak resident memory (getrusage)",
            "summary": json.loads(done.stdout),
        }

    def _largest(self) -> Facility:
        """The home with the most beds (ties: the longest queue)."""
        from django.db.models import Count, Q

        return (
            Facility.objects.annotate(
                beds_n=Count("beds", distinct=True),
                open_n=Count("queue_entries", filter=Q(queue_entries__status="open"), distinct=True),
            )
            .order_by("-beds_n", "-open_n", "code")
            .first()
        )

    # -- floors --------------------------------------------------------------------------------------
    def _floors(self) -> dict:
        client = Client()
        ids = list(Application.objects.order_by("?").values_list("pk", flat=True)[:200])
        constant_cpu: list[float] = []
        floors = {
            "constant_view": _time(lambda i: client.get("/bench/constant/"), self.samples, cpu_into=constant_cpu),
            "pk_read": _time(lambda i: Application.objects.get(pk=ids[i % len(ids)]), self.samples),
        }
        # This process's CPU per request: what a shared machine's other work does not inflate, so the
        # lookup's ratio to it says what its own work costs (issue 18).
        floors["constant_view"]["cpu_ms"] = _percentiles(constant_cpu)
        self.results["floors"] = floors
        self.out(
            f"Floors: constant view p50 {floors['constant_view']['p50_ms']} ms, "
            f"primary-key read p50 {floors['pk_read']['p50_ms']} ms"
        )
        return floors

    def _figure(self, name: str, timing: dict, *, met: bool | None, **extra) -> None:
        constant, pk_read = self.floors["constant_view"], self.floors["pk_read"]
        figure = {
            **timing,
            "floor_constant_view_ms": {k: constant[k] for k in ("p50_ms", "p95_ms", "p99_ms")},
            "floor_pk_read_ms": {k: pk_read[k] for k in ("p50_ms", "p95_ms", "p99_ms")},
            "target": TARGETS[name],
            "met": met,
            **extra,
        }
        if "p95_ms" in timing:
            figure["ratio_to_constant_view"] = {
                k: round(timing[k] / max(constant[k], 0.001), 1) for k in ("p50_ms", "p95_ms", "p99_ms")
            }
            figure["ratio_to_pk_read"] = {
                k: round(timing[k] / max(pk_read[k], 0.001), 1) for k in ("p50_ms", "p95_ms", "p99_ms")
            }
        self.results["figures"][name] = figure

    # -- figures --------------------------------------------------------------------------------------
    def _lookup(self) -> None:
        waiting = list(Application.objects.filter(state="waiting").order_by("reference").values_list("pk", flat=True))
        chosen = self.rng.sample(waiting, min(len(waiting), 200))
        officer = Actor(kind="system", name="bench")
        pairs = []
        for pk in chosen:
            application = Application.objects.get(pk=pk)
            pairs.append((application.reference, lookup_code_issue(application=application, actor=officer)))
        client = Client()

        def lookup(i: int):
            reference, code = pairs[i % len(pairs)]
            address = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
            response = client.post(
                "/api/v1/public/lookup/",
                {"reference": reference, "code": code},
                content_type="application/json",
                REMOTE_ADDR=address,
            )
            if response.status_code != 200:
                raise BenchError(f"lookup answered {response.status_code}: {response.content[:300]!r}")

        cpu: list[float] = []
        timing = _time(lookup, self.samples, cpu_into=cpu)
        constant = self.floors["constant_view"]["p95_ms"]
        cpu_ms, constant_cpu = _percentiles(cpu), self.floors["constant_view"]["cpu_ms"]
        self._figure(
            "public_lookup",
            timing,
            met=timing["p95_ms"] <= 25 and timing["p95_ms"] <= 3 * constant,
            cpu_ms=cpu_ms,
            cpu_ratio_to_constant_view={
                k: round(cpu_ms[k] / max(constant_cpu[k], 0.001), 1) for k in ("p50_ms", "p95_ms", "p99_ms")
            },
        )

    def _queue_pages(self) -> None:
        from django.contrib.auth.models import User

        home = self._largest()
        admin = User.objects.filter(is_superuser=True).order_by("pk").first()
        client = Client()
        client.force_login(admin)
        open_entries = QueueEntry.objects.filter(facility=home, status="open").count()

        def staff_page(i: int):
            response = client.get(f"/staff/facilities/{home.code}/queue/", HTTP_HX_REQUEST="true")
            if response.status_code != 200:
                raise BenchError(f"staff queue page answered {response.status_code}")

        def api_page(i: int):
            response = client.get(f"/api/v1/facilities/{home.code}/queue/")
            if response.status_code != 200:
                raise BenchError(f"queue API answered {response.status_code}: {response.content[:300]!r}")

        extra = {"facility": home.code, "open_entries": open_entries}
        self._figure("staff_queue_page", _time(staff_page, max(20, self.samples // 4)), met=None, **extra)
        timing = _time(api_page, max(20, self.samples // 2))
        self._figure("queue_api_page", timing, met=timing["p95_ms"] <= 50, **extra)

    def _watchdog(self) -> None:
        """R-WATCH-1: the watchdog report page for the whole city and the last full month (what the
        monthly task reports), logged in as an administrator: every figure, chart and table."""
        from django.contrib.auth.models import User

        admin = User.objects.filter(is_superuser=True).order_by("pk").first()
        client = Client()
        client.force_login(admin)

        def page(i: int):
            response = client.get("/staff/reports/watchdog/")
            if response.status_code != 200:
                raise BenchError(f"watchdog report answered {response.status_code}")

        timing = _time(page, max(10, self.samples // 20), warmup=2)
        self._figure("watchdog_report", timing, met=timing["p95_ms"] <= 2000, period="the last full month")

    def _leaving(self, facility_ids: list[int], n: int) -> list[int]:
        """Beds whose resident (one from before the product, or admitted long ago) can leave: mostly
        nursing beds, as most residents are nursing-level."""
        beds = list(
            Occupancy.objects.filter(facility_id__in=facility_ids, discharged_on__isnull=True)
            .order_by("bed_id")
            .values_list("bed_id", flat=True)
        )
        self.rng.shuffle(beds)
        return beds[:n]

    def _allocate_one(self) -> None:
        home = self._largest()
        beds = self._leaving([home.pk], max(20, self.samples // 4) + 5)
        officer = Actor(kind="system", name="bench")
        offers = 0

        def allocate(i: int):
            nonlocal offers
            _bed, decision = bed_discharge(bed=Bed(pk=beds[i], facility_id=home.pk), reason="deceased", actor=officer)
            offers += decision.chosen is not None

        timing = _time(allocate, len(beds) - 5)
        self._figure(
            "allocate_one_bed",
            timing,
            met=timing["p95_ms"] <= 50,
            facility=home.code,
            what="bed_discharge: the resident leaves and the bed is allocated in the same transaction",
            offers_made=offers,
        )

    def _couples_comparison(self) -> None:
        """Issue 14: does R-CPL-2 (a together couple takes a bed only with a second one for the
        partner; a vacancy where one waits walks every vacant bed again) slow the allocation? The same
        residents of the largest home leave, one bed at a time as `allocate_one_bed`, with the
        couples the generator linked and without them (every couple unlinked by `couple_unlink`).
        Each block runs in a transaction that is rolled back, so every block starts from the same
        city and discharges the same beds in the same order: each offer made adds an `offer_pending`
        skip to every later decision, which would otherwise make later blocks slower whatever they
        measure. The blocks alternate (with, without, without, with, …) so a shared machine's
        drifting load falls on both alike. Rolled back, nothing is sent after commit (the offer's SMS,
        about 4 ms in `allocate_one_bed`): the same for both."""
        from django.db import transaction

        from admissions.models import Couple
        from admissions.services.couples import couple_unlink
        from core.errors import DomainError

        home = self._largest()
        warmup = 5
        n = max(20, self.samples // (2 * COUPLES_ROUNDS))
        beds = self._leaving([home.pk], n + warmup)
        n = len(beds) - warmup
        if n < 5:
            self.results["figures"]["allocate_one_bed_couples"] = {
                "skipped": f"too few residents left at {home.code} to measure",
                "target": TARGETS["allocate_one_bed_couples"],
                "met": None,
                "floor_constant_view_ms": self.floors["constant_view"],
                "floor_pk_read_ms": self.floors["pk_read"],
            }
            return
        officer = Actor(kind="system", name="bench")
        live = Couple.objects.filter(unlinked_at__isnull=True)
        couples = {"couples": live.count(), "together": live.filter(mode="together").count()}
        couples["together_waiting_here"] = (
            live.filter(
                mode="together",
                members__application__queue_entries__facility=home,
                members__application__queue_entries__status="open",
            )
            .distinct()
            .count()
        )
        couples["share_of_open_applications"] = round(
            2 * couples["couples"] / max(1, Application.objects.filter(state__in=OPEN_STATES).count()), 4
        )

        def allocate(i: int):
            bed_discharge(bed=Bed(pk=beds[i], facility_id=home.pk), reason="deceased", actor=officer)

        samples: dict[str, list[float]] = {"with": [], "without": []}
        cpu: dict[str, list[float]] = {"with": [], "without": []}
        blocks = []
        for round_ in range(COUPLES_ROUNDS):
            for mode in ("with", "without") if round_ % 2 == 0 else ("without", "with"):
                with transaction.atomic():
                    if mode == "without":
                        for couple in list(live.values_list("pk", flat=True)):
                            try:
                                couple_unlink(couple=couple, reason="bench: the city without couples", actor=officer)
                            except DomainError:  # refused (say, a joint offer is live): stays linked, counted
                                pass
                        couples["left_linked"] = live.count()
                    timing = _time(allocate, n, warmup=warmup, into=samples[mode], cpu_into=cpu[mode])
                    transaction.set_rollback(True)
                blocks.append({"couples": mode, **timing})
        with_couples, without = _percentiles(samples["with"]), _percentiles(samples["without"])
        worse = {k: round(with_couples[k] / max(without[k], 0.001) - 1, 3) for k in ("p50_ms", "p95_ms", "p99_ms")}
        cpu_with, cpu_without = _percentiles(cpu["with"]), _percentiles(cpu["without"])
        cpu_worse = {k: round(cpu_with[k] / max(cpu_without[k], 0.001) - 1, 3) for k in ("p50_ms", "p95_ms", "p99_ms")}
        self._figure(
            "allocate_one_bed_couples",
            with_couples,
            met=worse["p50_ms"] <= COUPLES_WORSE_LIMIT and worse["p95_ms"] <= COUPLES_WORSE_LIMIT,
            facility=home.code,
            without_couples=without,
            worse_with_couples=worse,
            cpu_with_couples=cpu_with,
            cpu_without_couples=cpu_without,
            cpu_worse_with_couples=cpu_worse,
            blocks=blocks,
            **couples,
            what="bed_discharge at the largest home, the same residents leaving with the couples and after "
            "unlinking them all, in alternating blocks each rolled back",
        )
        self.out(
            f"Couples: allocate one bed p50 {with_couples['p50_ms']} / {without['p50_ms']} ms "
            f"(with {couples['couples']} couples / without: {worse['p50_ms']:+.1%}); p95 "
            f"{with_couples['p95_ms']} / {without['p95_ms']} ms ({worse['p95_ms']:+.1%}); CPU of this process p50 "
            f"{cpu_with['p50_ms']} / {cpu_without['p50_ms']} ms ({cpu_worse['p50_ms']:+.1%}), p95 "
            f"{cpu_with['p95_ms']} / {cpu_without['p95_ms']} ms ({cpu_worse['p95_ms']:+.1%})"
        )

    def _concurrent(self) -> None:
        if connection.vendor != "postgresql":
            self.results["figures"]["concurrent_allocations"] = {
                "skipped": "PostgreSQL only: SQLite serialises every writer (IMMEDIATE transactions)",
                "target": TARGETS["concurrent_allocations"],
                "met": None,
                "floor_constant_view_ms": self.floors["constant_view"],
                "floor_pk_read_ms": self.floors["pk_read"],
            }
            return
        total = min(CONCURRENT_ALLOCATIONS, Occupancy.objects.filter(discharged_on__isnull=True).count() // 2)
        busiest = list(Facility.objects.order_by("-pk").values_list("pk", flat=True))
        self.rng.shuffle(busiest)
        beds = self._leaving(busiest[: max(4, len(busiest) // 4)], total)
        seconds, errors = run_concurrently(beds, processes=PROCESSES)
        violations = rule_violations()
        from admissions.decisions import first_chain_break

        broken = first_chain_break()
        count = len(beds) - len(errors)
        per_second = round(count / seconds, 1)
        ms_each = 1000 * seconds / max(1, count)
        floor = self.floors["constant_view"]["p50_ms"]
        self._figure(
            "concurrent_allocations",
            {"allocations": count, "processes": PROCESSES, "seconds": round(seconds, 2), "per_second": per_second},
            met=per_second >= 100 and not any(violations.values()) and broken is None and not errors,
            violations=violations,
            decision_chains=("intact" if broken is None else f"broken at decision {broken.decision.pk}"),
            errors=errors[:10],
            ms_per_allocation=round(ms_each, 2),
            ratio_to_constant_view={"per_allocation": round(ms_each / max(floor, 0.001), 1)},
            ratio_to_pk_read={"per_allocation": round(ms_each / max(self.floors["pk_read"]["p50_ms"], 0.001), 1)},
            workers_peak_memory_mib=_peak_rss_mib(resource.RUSAGE_CHILDREN),
        )

    def _policy_act(self) -> None:
        """R-POL-1: a new version effective today (every weight changed, so every open entry's base
        score changes) brought into force by the real act, timed to its COMMIT; the allocation it
        starts afterwards at every home with a vacant bed is timed apart."""
        timing = measure_policy_act()
        seconds = timing["seconds"]
        floor = self.floors["constant_view"]["p50_ms"]
        ms_each = 1000 * seconds / max(1, timing["open_entries"])
        self._figure(
            "policy_act",
            timing,
            met=seconds <= 60 * max(1, timing["open_entries"]) / 200_000 or seconds <= 60,
            ratio_to_constant_view={"per_entry": round(ms_each / max(floor, 0.001), 3)},
            ratio_to_pk_read={"per_entry": round(ms_each / max(self.floors["pk_read"]["p50_ms"], 0.001), 3)},
        )
        self.out(f"Policy act: {timing['open_entries']} open entries in {seconds} s")

    def _generate_figure(self) -> None:
        if self.generated is None:
            self.results["figures"]["generate_city"] = {
                "skipped": "the city was reused: run bench on an empty database to measure generate_city",
                "target": TARGETS["generate_city"],
                "met": None,
                "floor_constant_view_ms": self.floors["constant_view"],
                "floor_pk_read_ms": self.floors["pk_read"],
            }
            return
        g = self.generated
        ms_each = 1000 * g["seconds"] / max(1, self.scale)
        self._figure(
            "generate_city",
            {"seconds": g["seconds"], "peak_memory_mib": g["peak_memory_mib"]},
            met=(g["seconds"] <= 180 * self.scale / FULL_SCALE["applications"] or g["seconds"] <= 180)
            and g["peak_memory_mib"] <= 1024,
            measured=g["measured"],
            ms_per_application=round(ms_each, 3),
            ratio_to_constant_view={
                "per_application": round(ms_each / max(self.floors["constant_view"]["p50_ms"], 0.001), 2)
            },
            ratio_to_pk_read={"per_application": round(ms_each / max(self.floors["pk_read"]["p50_ms"], 0.001), 2)},
            city=g["summary"],
        )


# --- R-POL-1 ---------------------------------------------------------------------------------------
def measure_policy_act() -> dict:
    """Create a version effective today that changes every care and age weight, then time the act
    that brings every open entry and queued application under it (to its COMMIT) and, apart, the
    allocation it starts after commit. Changes the city: every score, and offers where beds are vacant."""
    from django.db import transaction
    from django.db.models import Max
    from django.utils import timezone

    from admissions.models import Policy
    from admissions.selectors import policy_in_force
    from admissions.services.policy import policy_activate_due

    open_entries = QueueEntry.objects.filter(status="open").count()
    applications = Application.objects.filter(state__in=("waiting", "suspended", "offered", "admission_check")).count()
    current = policy_in_force()
    weights = current.parameters.score_weights
    weights["care"] = {grade: int(points) + 1 for grade, points in weights["care"].items()}
    weights["age"] = [[lowest, int(points) + 1] for lowest, points in weights["age"]]
    version = (Policy.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    Policy.objects.create(
        version=version,
        effective_from=timezone.localdate(),
        parameters={**current.parameters.to_json(), "score_weights": weights},
        note="bench: R-POL-1",
    )
    marks: list[float] = []
    started = time.perf_counter()
    with transaction.atomic():
        transaction.on_commit(lambda: marks.append(time.perf_counter()))  # runs first: right after COMMIT
        activation = policy_activate_due()
    done = time.perf_counter()
    counts = activation.counts if activation is not None else {}
    return {
        "seconds": round(marks[0] - started, 2),
        "allocation_after_seconds": round(done - marks[0], 2),
        "open_entries": open_entries,
        "queued_applications": applications,
        "scores_changed": sum(c["scores"] for c in counts.values()),
        "facilities": len(counts),
    }


# --- 8 processes ----------------------------------------------------------------------------------
def _worker(beds: list[int], start_at: float, results) -> None:
    """One process: wait for the common start, then let each bed's resident leave (the bed is
    allocated by the real service). Refusals (DomainError) are answers, anything else an error."""
    from core.errors import DomainError

    connections.close_all()  # never share the parent's connection
    officer = Actor(kind="system", name="bench")
    errors = []
    while time.time() < start_at:
        time.sleep(0.001)
    for bed_id in beds:
        bed = Bed.objects.only("pk", "facility_id").get(pk=bed_id)
        try:
            bed_discharge(bed=bed, reason="discharged", actor=officer)
        except DomainError as exc:
            errors.append(f"bed {bed_id}: {exc}")
        except Exception as exc:  # a deadlock or an integrity error would be a defect
            errors.append(f"bed {bed_id}: {type(exc).__name__}: {exc}")
    results.put((time.time(), errors))
    connections.close_all()


def run_concurrently(beds: list[int], *, processes: int) -> tuple[float, list[str]]:
    """Split `beds` across `processes` forked processes that start together; returns the wall
    time from the start to the last one done, and the errors."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    connections.close_all()
    start_at = time.time() + 1.0
    workers = [context.Process(target=_worker, args=(beds[i::processes], start_at, results)) for i in range(processes)]
    for worker in workers:
        worker.start()
    finished, errors = [], []
    for _ in workers:
        done_at, worker_errors = results.get(timeout=1800)
        finished.append(done_at)
        errors += worker_errors
    for worker in workers:
        worker.join()
    return max(finished) - start_at, errors


# --- the table ---------------------------------------------------------------------------------------
def table(results: dict) -> str:
    """The figures against the targets, readable in a terminal."""
    rows = [("figure", "measured", "floor: constant / pk read", "ratio", "target", "met")]
    for name, f in results["figures"].items():
        constant, pk = f.get("floor_constant_view_ms", {}), f.get("floor_pk_read_ms", {})
        if "skipped" in f:
            measured, ratio = f"— {f['skipped']}", ""
        elif name == "allocate_one_bed_couples":
            w, worse = f["without_couples"], f["worse_with_couples"]
            measured = (
                f"with {f['couples']} couples p50 {f['p50_ms']} / p95 {f['p95_ms']} ms; without p50 {w['p50_ms']} / "
                f"p95 {w['p95_ms']} ms ({worse['p50_ms']:+.1%} / {worse['p95_ms']:+.1%})"
            )
            ratio = f"×{f['ratio_to_constant_view']['p95_ms']} (p95) constant"
        elif "p95_ms" in f:
            measured = f"p50 {f['p50_ms']} / p95 {f['p95_ms']} / p99 {f['p99_ms']} ms"
            r = f["ratio_to_constant_view"]
            ratio = f"×{r['p95_ms']} (p95) constant, ×{f['ratio_to_pk_read']['p95_ms']} pk"
            if "cpu_ms" in f:
                measured += f"; CPU p50 {f['cpu_ms']['p50_ms']} ms"
                ratio += f"; CPU ×{f['cpu_ratio_to_constant_view']['p50_ms']} (p50) constant"
        elif name == "policy_act":
            measured = (
                f"{f['seconds']} s for {f['open_entries']} open entries "
                f"(+{f['allocation_after_seconds']} s allocating after)"
            )
            ratio = f"×{f['ratio_to_constant_view']['per_entry']} constant per entry"
        elif name == "concurrent_allocations":
            measured = f"{f['per_second']}/s ({f['allocations']} in {f['seconds']} s); violations: " + (
                ", ".join(f"{k} {len(v)}" for k, v in f["violations"].items())
            )
            ratio = f"×{f['ratio_to_constant_view']['per_allocation']} constant per allocation"
        else:
            measured = f"{f['seconds']} s, peak {f['peak_memory_mib']} MiB"
            ratio = f"×{f['ratio_to_constant_view']['per_application']} constant per application"
        floors = f"{constant.get('p50_ms', '?')} / {pk.get('p50_ms', '?')} ms (p50)" if constant else ""
        met = {True: "yes", False: "NO", None: "–"}[f.get("met")]
        rows.append((name, measured, floors, ratio, f["target"], met))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    head = f"bench at {results['scale']} applications on {results['database']}"
    return "\n".join([head, *lines, f"bench process peak memory: {results.get('bench_peak_memory_mib')} MiB"])


def run_bench(*, scale: int, seed: int = 7, samples: int = 300, generate_in_process: bool = False, out=print) -> dict:
    return Bench(scale=scale, seed=seed, samples=samples, generate_in_process=generate_in_process, out=out).run()
