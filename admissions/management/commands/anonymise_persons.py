from django.core.management.base import BaseCommand

from admissions.services.privacy import persons_anonymise


class Command(BaseCommand):
    help = (
        "Anonymise everyone whose applications have all been final for the policy's retention_years "
        "(R-PRIV-3); the same run as the nightly schedule, and as idempotent."
    )

    def handle(self, *args, **options):
        report = persons_anonymise()
        counts = report.as_dict()
        self.stdout.write(
            "anonymised: {persons} person(s), {applications} application(s), "
            "{evidence_files} evidence file(s), {notifications} notification(s)".format(**counts)
        )
        for problem in report.errors:
            self.stderr.write(f"could not delete evidence file {problem}")
