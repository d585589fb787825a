"""Migration 0013 (R-VER-1): existing decisions are re-chained once, after their old plain chain has
verified, as an audited act; a broken old chain stops the migration, naming the decision."""

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from admissions.chain import first_decision_break

BEFORE = [("admissions", "0012_cache_table"), ("facilities", "0004_staff_profile")]
AFTER = [("admissions", "0013_verifiable_log")]
migration = importlib.import_module("admissions.migrations.0013_verifiable_log")

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def old_decisions(apps, *, tamper: bool = False) -> list:
    """Two homes' chains written as before 0013: plain hashes only."""
    District = apps.get_model("facilities", "District")
    Facility = apps.get_model("facilities", "Facility")
    Bed = apps.get_model("facilities", "Bed")
    Decision = apps.get_model("admissions", "AllocationDecision")
    district = District.objects.order_by("code").first()
    written = []
    for code in ("MA01", "MA02"):
        home = Facility.objects.create(code=code, name=code, district=district, level="district")
        bed = Bed.objects.create(facility=home, code="N-1", bed_type="nursing")
        previous = None
        for sequence in (1, 2, 3):
            d = Decision(
                facility=home,
                sequence=sequence,
                bed=bed,
                made_at=dt.datetime(2026, 5, sequence, 9, 30, tzinfo=dt.UTC),
                policy_version=1,
                trigger="bed_added",
                chosen=None,
                skipped=[{"reference": f"2026-00000{sequence}", "rank": 1, "score": 20, "reason": "suspended"}],
                quota_before={"self_care_cap": 0, "self_care_held": 0},
                quota_after={"self_care_cap": 0, "self_care_held": 0},
                previous_hash=previous.hash if previous else None,
            )
            d.hash = migration._plain_hash(d)
            if tamper and code == "MA02" and sequence == 2:
                d.trigger = "forged"  # written after its hash: the old chain is broken here
            d.save()
            written.append(d)
            previous = d
    return written


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def test_existing_decisions_are_rechained_once_after_the_old_chain_verified():
    apps = migrate(BEFORE)
    try:
        written = old_decisions(apps)
        new_apps = migrate(AFTER)
        Decision = new_apps.get_model("admissions", "AllocationDecision")
        for old in written:
            d = Decision.objects.get(pk=old.pk)
            assert d.hash == old.hash and d.previous_hash == old.previous_hash  # the old columns stay
            assert d.keyed_hash and d.key_id and d.public["facility"] in ("MA01", "MA02")
            assert (
                d.public["skipped"][0]["reference"]
                == old.skipped[0]["reference"][:7] + "**" + old.skipped[0]["reference"][-2:]
            )
        audit = new_apps.get_model("facilities", "AuditEntry").objects.get(action="decision_chain_rekeyed")
        assert audit.changes == {"decisions": 6, "facilities": 2, "key_id": "dev", "old_chain": "verified"}
        migrate(latest())
        assert first_decision_break() is None
    finally:
        migrate(latest())


def test_a_broken_old_chain_stops_the_migration_and_names_the_decision():
    apps = migrate(BEFORE)
    try:
        written = old_decisions(apps, tamper=True)
        bad = written[4]
        with pytest.raises(RuntimeError, match=f"decision id={bad.pk} facility=MA02 sequence=2"):
            migrate(AFTER)
        recorder = MigrationExecutor(connection).recorder
        assert ("admissions", "0013_verifiable_log") not in recorder.applied_migrations()
    finally:
        with connection.cursor() as cursor:  # the broken history goes, so the schema can move on
            table = "admissions_allocationdecision"
            cursor.execute(f"TRUNCATE {table} CASCADE" if connection.vendor == "postgresql" else f"DELETE FROM {table}")
        migrate(latest())
