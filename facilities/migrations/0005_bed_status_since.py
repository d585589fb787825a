"""Bed.status_since (R-WATCH-1): when the bed's status last changed.

Existing beds get the last moment the data shows them changing: the latest of their creation, the
end of their last offer and the day of their last discharge. A vacant or out-of-service bed has
been so since at least then (the history did not record when a bed went out of service)."""

import datetime as dt

import django.utils.timezone
from django.db import migrations, models
from django.db.models import Max


def backfill(apps, schema_editor):
    Bed = apps.get_model("facilities", "Bed")
    Offer = apps.get_model("admissions", "Offer")
    Occupancy = apps.get_model("admissions", "Occupancy")
    offer_end = dict(
        Offer.objects.filter(closed_at__isnull=False).values("bed_id").annotate(m=Max("closed_at")).values_list("bed_id", "m")
    )
    discharged = dict(
        Occupancy.objects.filter(discharged_on__isnull=False)
        .values("bed_id")
        .annotate(m=Max("discharged_on"))
        .values_list("bed_id", "m")
    )
    zone = django.utils.timezone.get_default_timezone()
    batch = []
    for bed in Bed.objects.only("id", "created_at").iterator(chunk_size=2000):
        moments = [bed.created_at]
        if bed.id in offer_end:
            moments.append(offer_end[bed.id])
        if bed.id in discharged:
            moments.append(dt.datetime.combine(discharged[bed.id], dt.time.min, tzinfo=zone))
        bed.status_since = max(moments)
        batch.append(bed)
        if len(batch) == 2000:
            Bed.objects.bulk_update(batch, ["status_since"])
            batch = []
    Bed.objects.bulk_update(batch, ["status_since"])


class Migration(migrations.Migration):
    dependencies = [
        ("facilities", "0004_staff_profile"),
        ("admissions", "0012_cache_table"),
    ]

    operations = [
        migrations.AddField(
            model_name="bed",
            name="status_since",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="status since"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
