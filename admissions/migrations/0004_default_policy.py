"""Policy version 1: the defaults of SPEC §9, in force since the scheme began (2014)."""

import datetime

from django.db import migrations


def add(apps, schema_editor):
    from admissions.policy import PolicyParameters

    Policy = apps.get_model("admissions", "Policy")
    if not Policy.objects.exists():
        Policy.objects.create(
            version=1,
            effective_from=datetime.date(2014, 1, 1),
            parameters=PolicyParameters().to_json(),
            note="The built-in defaults",  # SPEC §9; a note people read carries no rule code
        )


def remove(apps, schema_editor):
    apps.get_model("admissions", "Policy").objects.filter(version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("admissions", "0003_seed_calendar")]
    operations = [migrations.RunPython(add, remove)]
