import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from admissions.services.admission_deadline import offers_sweep


class Command(BaseCommand):
    help = (
        "Expire pending offers whose response deadline has passed (R-OFF-4) and act on overdue admissions "
        "(R-OFF-7: notice, and no_show after the grace); the same sweep as the schedule."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", help="ISO time to treat as now, for drills and tests (e.g. 2026-10-14T00:00+08:00)"
        )

    def handle(self, *args, now=None, **options):
        moment = timezone.now()
        if now:
            try:
                moment = dt.datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"--now: {now!r} is not an ISO 8601 time") from exc
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        done = offers_sweep(now=moment)  # R-OFF-4 expiry and R-OFF-7 overdue admissions, one sweep
        self.stdout.write(
            f"{done['expired']} offer(s) expired, {done['overdue_told']} admission(s) newly overdue, "
            f"{done['no_shows']} no-show(s) as of {moment.isoformat()}."
        )
