"""The database cache's table (settings.CACHES without Redis), made by `migrate` itself.

The public lookup keeps its rate limits and lockouts (R-PUB-2) in Django's cache; with the database
cache and no table every lookup answered 500. `createcachetable` was a separate step that `make run`
took and a fresh deployment or `bench` could miss. It does nothing for a Redis cache, and nothing if
the table is there.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("admissions", "0011_covering_indexes_for_positions")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
