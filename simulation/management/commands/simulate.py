"""`python manage.py simulate --months 24 [--policy FILE ...] [--seed N] --out DIR` (issue 7).

Runs the real services forward in simulated time from a generated city, once per policy file, each
run in its own throwaway database from the same city and seed, and writes one report comparing them.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from simulation.generator import GeneratorError, check_sizes
from simulation.report import life_while_waiting_text, write_outputs
from simulation.simulator import (
    DEFAULT_POLICY,
    LOCAL,
    PolicyFileError,
    RunResult,
    SimulatedPolicy,
    Simulation,
    add_months,
    no_outside_effects,
    policy_from_file,
    throwaway_database,
)

MAX_POLICIES = 4


def simulate_policy(
    policy: SimulatedPolicy,
    *,
    seed: int,
    start: dt.date,
    months: int,
    city: dict,
    database: Path | None = None,
    progress=None,
) -> RunResult:
    """One run in a throwaway database: migrate, generate the city at the start date, simulate."""
    import time_machine

    from simulation.generator import generate_city  # noqa: I001 (imported here: the run's own database)

    started = time.perf_counter()
    with throwaway_database(database), no_outside_effects() as suppressed:
        call_command("migrate", verbosity=0, interactive=False)
        # The city is generated as it stands at noon the day before: its history ends before the run begins.
        eve = dt.datetime.combine(start - dt.timedelta(days=1), dt.time(12), tzinfo=LOCAL)
        traveller = time_machine.travel(eve, tick=False)
        coordinates = traveller.start()
        try:
            generate_city(**city, seed=seed, progress=False)
            result = Simulation(
                policy=policy, seed=seed, start=start, months=months, traveller=coordinates, progress=progress
            ).run()
        finally:
            traveller.stop()
        result.dispatches_suppressed = suppressed
    result.seconds = time.perf_counter() - started
    result.peak_memory_mib = peak_memory_mib()
    return result


def peak_memory_mib() -> float:
    """The largest resident set this process, or any run process it waited for, has had."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # kilobytes on Linux


def first_of_next_month(today: dt.date) -> dt.date:
    return add_months(today.replace(day=1), 1)


class Command(BaseCommand):
    help = (
        "Simulate the waiting list over MONTHS of simulated time with the real services, once per policy file "
        "(each from the same generated city and seed, in a throwaway database), and write admissions.csv, "
        "PNG charts and report.md into DIR."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=24, help="simulated months (default 24)")
        parser.add_argument(
            "--policy",
            action="append",
            default=[],
            metavar="FILE",
            help=f"a JSON policy file (simulation/policies/); repeat to compare up to {MAX_POLICIES}; "
            "default: SPEC §9's defaults",
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument("--out", required=True, help="folder for the report, charts and CSV")
        parser.add_argument(
            "--start", help="first simulated day, YYYY-MM-DD (default: the first day of next month)", default=None
        )
        parser.add_argument("--facilities", type=int, default=12, help="homes in the generated city (default 12)")
        parser.add_argument("--beds", type=int, default=800, help="beds in the generated city (default 800)")
        parser.add_argument(
            "--applications", type=int, default=1000, help="applications in the generated city (default 1000)"
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=0,
            help="runs at the same time, one process each (default: one per policy, at most the CPUs)",
        )
        parser.add_argument(
            "--keep-db", action="store_true", help="keep each run's SQLite database in DIR (simulation-LABEL.sqlite3)"
        )

    def handle(self, *args, **options):
        months = options["months"]
        if not 1 <= months <= 120:
            raise CommandError("--months must be from 1 to 120.")
        policies = self._policies(options["policy"])
        start = self._start(options["start"])
        city = {name: options[name] for name in ("facilities", "beds", "applications")}
        try:
            check_sizes(**city)
        except GeneratorError as exc:
            raise CommandError(str(exc)) from exc
        if options["jobs"] < 0:
            raise CommandError("--jobs must be 1 or more (0: one per policy).")
        if not options["jobs"]:
            options["jobs"] = min(len(policies), os.cpu_count() or 1)
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        labels = ", ".join(p.label for p in policies)
        self.stdout.write(f"Simulating {months} months from {start} (seed {options['seed']}) for {labels}")
        runs = [
            {
                "seed": options["seed"],
                "start": start,
                "months": months,
                "city": city,
                "database": (out / f"simulation-{policy.label}.sqlite3") if options["keep_db"] else None,
                "progress": print if options["verbosity"] >= 2 else None,
            }
            for policy in policies
        ]
        jobs = min(options["jobs"] or len(policies), len(policies))
        started = time.perf_counter()
        if jobs == 1:
            results = [simulate_policy(policy, **run) for policy, run in zip(policies, runs, strict=True)]
        else:
            # Each run in a process of its own (forked: Django is set up already), each with its own
            # throwaway database; nothing is shared but the code.
            connections.close_all()
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
                futures = [
                    pool.submit(simulate_policy, policy, **run) for policy, run in zip(policies, runs, strict=True)
                ]
                results = [future.result() for future in futures]
        elapsed = time.perf_counter() - started
        for result in results:
            self.stdout.write(
                f"  {result.policy.label}: {len(result.admissions)} admissions, {len(result.violations)} rule "
                f"violations, {result.seconds:.0f} s, peak memory {result.peak_memory_mib:.0f} MiB"
            )
            self.stdout.write(f"    while waiting: {life_while_waiting_text(result)}")
        peak = max([peak_memory_mib(), *(r.peak_memory_mib for r in results)])
        report = write_outputs(results, out, elapsed_seconds=elapsed, peak_memory_mib=peak, jobs=jobs)
        self.stdout.write(self.style.SUCCESS(f"Report: {report} ({elapsed:.0f} s, peak memory {peak:.0f} MiB)"))
        broken = [r.policy.label for r in results if r.violations or r.untraced or r.chain_break]
        if broken:
            raise CommandError(f"Rules were broken in the run(s) {', '.join(broken)}: see {report}.")

    def _policies(self, paths: list[str]) -> list[SimulatedPolicy]:
        if len(paths) > MAX_POLICIES:
            raise CommandError(f"At most {MAX_POLICIES} --policy files can be compared in one report.")
        try:
            policies = [policy_from_file(Path(path)) for path in paths] or [DEFAULT_POLICY]
        except PolicyFileError as exc:
            raise CommandError(str(exc)) from exc
        labels = [p.label for p in policies]
        if len(set(labels)) != len(labels):
            raise CommandError(f'Two policy files have the same label ({", ".join(labels)}): give each a "label".')
        return policies

    def _start(self, value: str | None) -> dt.date:
        if value is None:
            return first_of_next_month(timezone.localdate())
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise CommandError("--start must be a date, YYYY-MM-DD.") from exc
