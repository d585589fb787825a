"""`python manage.py bench [--scale 100000] --out FILE.json` (issue 7): see simulation/bench.py."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from simulation.bench import BenchError, run_bench, table
from simulation.generator import GeneratorError


class Command(BaseCommand):
    help = (
        "Build (or reuse) a city of --scale applications and measure on the configured database: the public "
        "lookup, the queue pages, one allocation, 1,000 concurrent allocations (PostgreSQL), generate_city; "
        "each next to a constant-view and a primary-key-read floor. Writes JSON to --out."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=int, default=100_000, help="applications (default 100000)")
        parser.add_argument("--out", required=True, help="the JSON file to write")
        parser.add_argument("--samples", type=int, default=300, help="requests per latency figure (default 300)")
        parser.add_argument("--seed", type=int, default=7, help="seed of the city and of the samples (default 7)")

    def handle(self, *args, scale, out, samples, seed, **options):
        if not 100 <= scale <= 1_000_000:
            raise CommandError("--scale must be from 100 to 1000000.")
        if not 20 <= samples <= 100_000:
            raise CommandError("--samples must be from 20 to 100000.")
        path = Path(out)
        if not path.parent.is_dir():
            raise CommandError(f"--out: the folder {path.parent} does not exist.")
        try:
            results = run_bench(scale=scale, seed=seed, samples=samples, out=self.stdout.write)
        except (BenchError, GeneratorError) as exc:
            raise CommandError(str(exc)) from exc
        path.write_text(json.dumps(results, ensure_ascii=False, indent=2))
        self.stdout.write(table(results))
        self.stdout.write(f"Written to {path}.")
