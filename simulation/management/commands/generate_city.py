"""`python manage.py generate_city --facilities 200 --beds 60000 --applications 100000 [--seed N]`
(issue 7): a city's worth of data, in bulk, as the services would have written it. See
simulation/generator.py, and README "Running at scale" for the proportions."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from simulation.generator import DEFAULT_SEED, GeneratorError, generate_city


class Command(BaseCommand):
    help = (
        "Fill an empty database with a city: homes, beds, residents, staff and applications in every state "
        "(bulk writes, every row as the services would have made it; today's offers by the real allocation)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--facilities", type=int, default=200, help="homes (default 200)")
        parser.add_argument("--beds", type=int, default=60_000, help="beds in all (default 60000; 50–1500 a home)")
        parser.add_argument("--applications", type=int, default=100_000, help="applications (default 100000)")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the summary as JSON")

    def handle(self, *args, facilities, beds, applications, seed, no_progress=False, as_json=False, **options):
        try:
            summary = generate_city(
                facilities=facilities, beds=beds, applications=applications, seed=seed, progress=not no_progress
            )
        except GeneratorError as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"City generated in {summary.seconds:.1f} s (seed {summary.seed}): {summary.facilities} homes "
                f"({summary.city_level} city-level), {summary.beds} beds "
                f"(nursing-type ≥ {summary.nursing_share_min:.1%} "
                f"in every home), {summary.applications} applications, {summary.queue_entries_open} open queue "
                f"entries, {summary.live_offers} offers made today by the allocation; largest home "
                f"{summary.largest_facility}."
            )
        )
        for state, count in summary.states.items():
            self.stdout.write(f"  {state:<20} {count}")
