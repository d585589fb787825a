"""Events (R-FSM-2) and allocation decisions (R-ALLOC-2) are append-only in the database too:
an UPDATE is refused by a trigger, whoever sends it, and on PostgreSQL so is a DELETE. (On SQLite
a DELETE trigger would also stop the test runner's table flush, which deletes row by row; there
DELETE is refused in Python and by the PROTECT foreign keys. PostgreSQL's flush is a TRUNCATE,
which row triggers do not see.)"""

from django.db import migrations

TABLES = ["admissions_applicationevent", "admissions_allocationdecision"]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "sqlite":
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
            )
        elif vendor == "postgresql":
            schema_editor.execute(
                "CREATE OR REPLACE FUNCTION refuse_update_append_only() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql;",
                params=None,  # the SQL's own % is not a placeholder
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION refuse_update_append_only();"
            )


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only;")
        elif vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")


class Migration(migrations.Migration):
    dependencies = [("admissions", "0004_default_policy")]
    operations = [migrations.RunPython(create, drop)]
