from django.core.management.base import BaseCommand

from admissions.services.queue_versions import queue_changes_fold


class Command(BaseCommand):
    help = (
        "Replace each home's old queue-change rows by one carrying their summed weight, so the public "
        "lookup's queue versions read a row or two per home; no version moves (the same as the hourly task)."
    )

    def handle(self, *args, **options):
        done = queue_changes_fold()
        self.stdout.write(f"{done['rows_removed']} queue-change row(s) of {done['homes']} home(s) folded.")
