import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from admissions.services.offers import offers_expire_due


class Command(BaseCommand):
    help = "Expire pending offers whose response deadline has passed (R-OFF-4); the same sweep as the schedule."

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
        expired = offers_expire_due(now=moment)
        self.stdout.write(f"{expired} offer(s) expired as of {moment.isoformat()}.")
