from django.core.management.base import BaseCommand

from admissions.decisions import first_chain_break
from admissions.models import AllocationDecision, Checkpoint


class Command(BaseCommand):
    help = (
        "Verify the allocation decisions: the hash chain (R-ALLOC-2), the keyed chain (R-VER-1), the public "
        "chain (R-VER-2) and every signed checkpoint (R-VER-3). Exit 1 naming the first decision or "
        "checkpoint that does not hold."
    )

    def handle(self, *args, **options):
        broken = first_chain_break()
        if broken is not None:
            self.stderr.write(f"BROKEN: {broken.describe()}")
            raise SystemExit(1)
        self.stdout.write(
            f"OK: {AllocationDecision.objects.count()} decisions, every chain intact; "
            f"{Checkpoint.objects.count()} checkpoints, every signature valid and every signed head in the log."
        )
