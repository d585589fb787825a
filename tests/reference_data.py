"""The rows the data migrations seed (districts, policy version 1, the working-day calendar), made
again for transactional tests: their table flush between tests removes them."""

from importlib import import_module

from django.apps import apps


def ensure_reference_data() -> None:
    for module, function in (
        ("facilities.migrations.0002_guangzhou_districts", "add"),
        ("admissions.migrations.0004_default_policy", "add"),
        ("admissions.migrations.0003_seed_calendar", "seed"),
    ):
        getattr(import_module(module), function)(apps, None)
