"""R-VER-5: create (or update) the application's PostgreSQL role and set its rights.

Run as the owner of the tables: with DATABASE_OWNER_URL set, `manage.py db_roles` connects as the
owner by itself (config/settings.py), and takes the role's name and password from DATABASE_URL,
the URL the application itself uses. Run it after every `migrate` (it is idempotent): a table a
migration adds gets its rights here.

The role may SELECT and INSERT only on the append-only tables (events, allocation decisions,
checkpoints, the access log: admissions.models.append_only.append_only_tables()), so no UPDATE,
DELETE or TRUNCATE of them and, not owning them, no change to their triggers; SELECT only on
django_migrations; everything else a web request or a task needs elsewhere.
"""

from __future__ import annotations

import os

import dj_database_url
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg import sql

from admissions.models.append_only import append_only_tables

FULL = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES"
APPEND_ONLY = "SELECT, INSERT"
READ_ONLY_TABLES = {"django_migrations"}


class Command(BaseCommand):
    help = "Create the application's restricted PostgreSQL role and grant its rights (R-VER-5). Run as the owner."

    def add_arguments(self, parser):
        parser.add_argument("--role", help="the role's name (default: the user of DATABASE_URL)")
        parser.add_argument("--password", help="its password (default: the password of DATABASE_URL)")

    def handle(self, *args, role=None, password=None, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("Not PostgreSQL: there are no roles to set up (R-VER-5 applies to PostgreSQL).")
            return
        app = dj_database_url.parse(os.environ.get("DATABASE_URL", "")) if os.environ.get("DATABASE_URL") else {}
        role = role or app.get("USER")
        password = password if password is not None else app.get("PASSWORD") or None
        if not role:
            raise CommandError("Name the application's role: --role NAME, or DATABASE_URL with a user.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            owner = cursor.fetchone()[0]
        if role == owner:
            raise CommandError(
                f"The application's role {role!r} is the owner this command connects as: set DATABASE_OWNER_URL "
                "to the owner's URL and DATABASE_URL to the application's (R-VER-5)."
            )
        append_only = set(append_only_tables())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user "
                "ORDER BY tablename"
            )
            tables = [row[0] for row in cursor.fetchall()]
        missing = sorted(append_only - set(tables))
        if missing:
            raise CommandError(f"Append-only tables not found or not owned by {owner}: {', '.join(missing)}")
        name = sql.Identifier(role)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            verb = "ALTER" if cursor.fetchone() else "CREATE"
            statement = sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(name)
            if password:
                statement += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
            cursor.execute(statement)
            database = sql.Identifier(connection.settings_dict["NAME"])
            cursor.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, name))
            cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name))
            for table in tables:
                rights = APPEND_ONLY if table in append_only else "SELECT" if table in READ_ONLY_TABLES else FULL
                cursor.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(sql.Identifier(table), name))
                cursor.execute(sql.SQL("GRANT " + rights + " ON TABLE {} TO {}").format(sql.Identifier(table), name))
            cursor.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name))
        self.stdout.write(
            f"Role {role}: SELECT and INSERT only on {', '.join(sorted(append_only))}; "
            f"full rights on the other {len(tables) - len(append_only)} tables."
        )
