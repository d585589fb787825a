from django.core.management.base import BaseCommand

from admissions.decisions import first_chain_break
from admissions.models import AllocationDecision


class Command(BaseCommand):
    help = "Verify the hash chain of allocation decisions (R-ALLOC-2). Exit 1 and name the first bad decision."

    def handle(self, *args, **options):
        broken = first_chain_break()
        if broken is not None:
            d = broken.decision
            self.stderr.write(
                f"BROKEN: decision id={d.pk} facility={d.facility.code} sequence={d.sequence}: {broken.problem}"
            )
            raise SystemExit(1)
        self.stdout.write(f"OK: {AllocationDecision.objects.count()} decisions, every chain intact.")
