"""Append-only records (events, allocation decisions, the ID-number access log): saved once, never
edited or deleted.

Python refuses here; the database refuses UPDATE too (a trigger, see the migrations), so no bulk
update or hand-written SQL can rewrite history.
"""

from django.db import models


class AppendOnlyError(Exception):
    pass


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} records are append-only.")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} records are append-only.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} records are append-only.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} records are append-only.")


# R-VER-5: tables the application's database role may only SELECT from and INSERT into. Every model
# that subclasses AppendOnlyModel is one already; a table that is append-only without subclassing
# it (another app's log, say) joins by adding its table name here. `manage.py db_roles` grants by
# this list.
EXTRA_APPEND_ONLY_TABLES: list[str] = []


def append_only_tables() -> list[str]:
    from django.apps import apps

    tables = {m._meta.db_table for m in apps.get_models() if issubclass(m, AppendOnlyModel)}
    return sorted(tables | set(EXTRA_APPEND_ONLY_TABLES))
