"""`python manage.py outbox_status [--max-late-minutes N]`: the outbox backlog, as an alert can read it.

Notifications and webhook deliveries wait in the database until a worker sends them (SPEC §10).
With workers and beat running, a pending row is sent within a minute or two of being due; rows due
for longer mean no worker or no beat is running, the broker is unreachable, or the receivers are
failing (docs/operations.md, "The outbox backlog"). Prints the counts; exits 1 when any row has
been due for longer than --max-late-minutes (default 10), so monitoring can run it every few minutes.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Min, Q
from django.utils import timezone

from admissions.models import Notification, WebhookDelivery


class Command(BaseCommand):
    help = "Count pending and failed notifications and webhook deliveries; exit 1 when some are late."

    def add_arguments(self, parser):
        parser.add_argument("--max-late-minutes", type=int, default=10, help="how long a due row may wait (10)")

    def handle(self, *args, max_late_minutes: int, **options):
        if max_late_minutes < 1:
            raise CommandError("--max-late-minutes must be 1 or more")
        now = timezone.now()
        late_since = now - dt.timedelta(minutes=max_late_minutes)
        day_ago = now - dt.timedelta(days=1)
        late_total = 0
        for label, model in (("notifications", Notification), ("webhook deliveries", WebhookDelivery)):
            figures = model.objects.aggregate(
                pending=Count("id", filter=Q(status="pending")),
                due=Count("id", filter=Q(status="pending", next_attempt_at__lte=now)),
                late=Count("id", filter=Q(status="pending", next_attempt_at__lte=late_since)),
                oldest_due=Min("next_attempt_at", filter=Q(status="pending", next_attempt_at__lte=now)),
                failed_last_day=Count("id", filter=Q(status="failed", created_at__gte=day_ago)),
            )
            waited = ""
            if figures["oldest_due"] is not None:
                minutes = int((now - figures["oldest_due"]).total_seconds() // 60)
                waited = f", the oldest due for {minutes} min"
            self.stdout.write(
                f"{label}: {figures['pending']} pending, {figures['due']} due{waited}, "
                f"{figures['late']} due for more than {max_late_minutes} min, "
                f"{figures['failed_last_day']} failed in the last day"
            )
            late_total += figures["late"]
        if late_total:
            self.stderr.write(
                f"LATE: {late_total} row(s) due for more than {max_late_minutes} min: check that the workers "
                "and exactly one beat run and reach the broker (docs/operations.md, 'The outbox backlog')"
            )
            raise SystemExit(1)
        self.stdout.write("OK: nothing in the outbox is late")
