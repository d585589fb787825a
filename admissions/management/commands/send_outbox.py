"""Send the outbox without a broker (R-SEC-5): `make run` starts this beside the server.

Without CELERY_BROKER_URL tasks run inline, so a webhook sent after a change's commit would keep
that web request waiting on the receiver. Instead the request only writes the outbox, and this
process sends what is due: every `--interval` seconds it runs the same sweep as the beat schedule
(`redispatch_outbox`: pending webhook deliveries and notifications whose time has come). With a
broker, the workers and the beat do this and this command is not needed.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from admissions.tasks import redispatch_outbox


class Command(BaseCommand):
    help = "Send due webhook deliveries and notifications in a loop (for running without a broker)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between sweeps (default 2)")
        parser.add_argument("--once", action="store_true", help="one sweep, then exit")

    def handle(self, *args, interval: float, once: bool, **options):
        if not 0.1 <= interval <= 3600:
            raise CommandError("--interval must be between 0.1 and 3600 seconds")
        if not once:
            self.stdout.write(f"Sending the outbox every {interval:g} s (Ctrl-C stops).")
        try:
            while True:
                try:
                    sent = redispatch_outbox()
                except Exception as exc:  # a database hiccup: log it and try again next round
                    self.stderr.write(f"outbox sweep failed: {type(exc).__name__}")
                    if once:
                        raise
                else:
                    if once or any(sent.values()):
                        self.stdout.write(
                            f"outbox: {sent['webhooks']} webhook deliveries, {sent['notifications']} notifications"
                        )
                if once:
                    return
                time.sleep(interval)
                close_old_connections()  # a connection the database dropped meanwhile is opened again
        except KeyboardInterrupt:
            return
