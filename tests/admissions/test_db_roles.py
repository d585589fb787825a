"""R-VER-5: the application's PostgreSQL role may only read and append to the append-only tables
(events, allocation decisions, checkpoints, the access log); the owner runs the migrations."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from admissions.models.append_only import append_only_tables

ROOT = Path(__file__).resolve().parents[2]


def test_the_append_only_tables_are_events_decisions_and_checkpoints():
    assert {
        "admissions_applicationevent",
        "admissions_allocationdecision",
        "admissions_checkpoint",
    } <= set(append_only_tables())


def test_migrate_and_db_roles_connect_as_the_owner_and_everything_else_as_the_application(tmp_path):
    """R-VER-5: DATABASE_OWNER_URL is used by the commands that change the schema or the grants."""
    code = (
        "import sys; sys.argv = ['manage.py', sys.argv[1]]; "
        "import config.settings as s; print(s.DATABASES['default']['NAME'])"
    )
    env = dict(os.environ)
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/app.db"
    env["DATABASE_OWNER_URL"] = f"sqlite:///{tmp_path}/owner.db"
    for command, expected in (("migrate", "owner"), ("db_roles", "owner"), ("runserver", "app"), ("shell", "app")):
        out = subprocess.run(
            [sys.executable, "-c", code, command], capture_output=True, text=True, cwd=ROOT, env=env, check=True
        )
        assert out.stdout.strip().endswith(f"{expected}.db"), (command, out.stdout)


@pytest.mark.django_db
def test_db_roles_refuses_the_owner_as_the_application_role_and_has_nothing_to_do_on_sqlite(capsys):
    if connection.vendor == "postgresql":
        with pytest.raises(CommandError, match="is the owner"):
            call_command("db_roles", role=connection.settings_dict["USER"])
    else:
        call_command("db_roles", role="app")
        assert "Not PostgreSQL" in capsys.readouterr().out


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="roles are PostgreSQL's (R-VER-5)")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_application_role_cannot_update_delete_or_truncate_the_append_only_tables():
    """R-VER-5, as the restricted role itself: SELECT and INSERT work; UPDATE, DELETE, TRUNCATE and
    switching a trigger off fail on every append-only table; other tables stay fully writable."""
    settings = connection.settings_dict
    role = f"{settings['NAME']}_app"[:63]
    call_command("db_roles", role=role, password="app-secret")
    try:
        params = {"host": settings["HOST"] or "127.0.0.1", "port": settings["PORT"] or 5432, "dbname": settings["NAME"]}
        with psycopg.connect(**params, user=role, password="app-secret", autocommit=True) as app:
            assert app.execute("SELECT current_user").fetchone()[0] == role
            for table in append_only_tables():
                app.execute(f"SELECT count(*) FROM {table}")
                assert app.execute("SELECT has_table_privilege(%s, 'INSERT')", [table]).fetchone()[0]
                for statement in (
                    f"UPDATE {table} SET id = id",
                    f"DELETE FROM {table}",
                    f"TRUNCATE {table}",
                    f"ALTER TABLE {table} DISABLE TRIGGER ALL",
                    f"DROP TRIGGER {table}_append_only ON {table}",
                ):
                    with pytest.raises((psycopg.errors.InsufficientPrivilege,)):
                        app.execute(statement)
            app.execute(
                "INSERT INTO admissions_checkpoint (id, made_at, heads, key_id, signature, made_by) "
                "VALUES (999, now(), '[]', 'k', 's', 'test')"
            )
            assert app.execute("SELECT count(*) FROM admissions_checkpoint").fetchone()[0] == 1
            app.execute("UPDATE admissions_application SET version = version WHERE false")
            app.execute("DELETE FROM admissions_application WHERE false")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("DELETE FROM django_migrations WHERE false")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')
