"""`python manage.py loadtest --out FILE.json` (issue 18): see simulation/load.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from simulation.load import LoadError, run_load


class Command(BaseCommand):
    help = (
        "Start gunicorn with the production settings on the city in the database and drive it with wrk on "
        "loopback: (a) lookups, (b) wrong codes, (c) the largest home's staff queue page and API, (d) all at "
        "once, each beside the constant view. Writes the figures under `load` in --out (kept if it holds more)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="the JSON file to write (its other keys are kept)")
        parser.add_argument("--seconds", type=float, default=60, help="seconds per mix (default 60)")
        parser.add_argument("--connections", type=int, default=16, help="wrk connections per mix (default 16)")
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "3")), help="gunicorn workers"
        )
        parser.add_argument("--lookup-rate", type=int, default=150, help="lookups a second in mix (d) (default 150)")
        parser.add_argument("--staff-rate", type=int, default=20, help="staff requests a second (default 20)")
        parser.add_argument("--warmup", type=float, default=10, help="seconds of unmeasured load first (default 10)")
        parser.add_argument(
            "--codes", type=int, default=500, help="applications whose lookups (a) repeats (default 500)"
        )
        parser.add_argument("--seed", type=int, default=7)

    def handle(
        self, *args, out, seconds, connections, workers, lookup_rate, staff_rate, seed, warmup, codes, **options
    ):
        if not 1 <= seconds <= 3600:
            raise CommandError("--seconds must be from 1 to 3600.")
        if not 0 <= warmup <= 600:
            raise CommandError("--warmup must be from 0 to 600.")
        for name, value, top in (
            ("--connections", connections, 1000),
            ("--workers", workers, 64),
            ("--lookup-rate", lookup_rate, 100_000),
            ("--staff-rate", staff_rate, 10_000),
            ("--codes", codes, 1_000_000),
        ):
            if not 1 <= value <= top:
                raise CommandError(f"{name} must be from 1 to {top}.")
        path = Path(out)
        if not path.parent.is_dir():
            raise CommandError(f"--out: the folder {path.parent} does not exist.")
        try:
            results = run_load(
                seconds=seconds,
                connections=connections,
                workers=workers,
                lookup_rate=lookup_rate,
                staff_rate=staff_rate,
                seed=seed,
                warmup=warmup,
                codes=codes,
                out=self.stdout.write,
            )
        except LoadError as exc:
            raise CommandError(str(exc)) from exc
        document = {}
        if path.exists():
            try:
                document = json.loads(path.read_text())
            except ValueError:
                document = {}
            if not isinstance(document, dict):
                document = {}
        document["load"] = results.pop("mixes")
        document["load_run"] = results
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2))
        for name, figure in document["load"].items():
            self.stdout.write(
                f"{name:24} {figure['rps']:8.1f}/s  p50 {figure['p50_ms']:7.2f}  p95 {figure['p95_ms']:7.2f}  "
                f"p99 {figure['p99_ms']:7.2f} ms  errors {figure['errors']}  constant {figure['constant_rps']:.1f}/s"
            )
        self.stdout.write(f"Written to {path}.")
