"""SPEC §15: the keyed chain (R-VER-1), the public log (R-VER-2) and signed checkpoints (R-VER-3).

Existing decisions are re-chained once, here, as an audited act: first their old plain chain
(R-ALLOC-2) is verified, decision by decision, and the migration stops, naming the first bad one,
if it does not hold; then each gets its public form, public hash and keyed hash (new columns; the
old hash columns stay as they are). Run as the owner of the tables (DATABASE_OWNER_URL, R-VER-5):
the append-only trigger is lifted for the length of this one update and put back.

The public form of an old decision takes each reference's channel and care level from its queue
entry as it is now (they were not recorded before); from here on they are recorded at the time.
"""

import datetime as dt
import hashlib
import json

from django.db import migrations, models

TABLE = "admissions_allocationdecision"


def _plain_hash(d) -> str:
    """R-ALLOC-2's hash as it was written before this migration (a frozen copy)."""
    payload = {
        "facility": d.facility_id,
        "sequence": d.sequence,
        "bed": d.bed_id,
        "made_at": d.made_at.astimezone(dt.UTC).isoformat(),
        "policy_version": d.policy_version,
        "trigger": d.trigger,
        "chosen": d.chosen,
        "skipped": d.skipped,
        "quota_before": d.quota_before,
        "quota_after": d.quota_after,
        "previous_hash": d.previous_hash,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _guard(schema_editor, table: str, on: bool) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {table}_append_only")
    elif vendor == "sqlite":
        if on:
            schema_editor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
            )
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")


def checkpoint_guard(apps, schema_editor):
    """Checkpoints are append-only in the database too, like events and decisions (migration 0005)."""
    table = "admissions_checkpoint"
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _guard(schema_editor, table, on=True)
    elif vendor == "postgresql":
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION refuse_update_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql;",
            params=None,
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION refuse_update_append_only();"
        )


def checkpoint_unguard(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS admissions_checkpoint_append_only")
    elif vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS admissions_checkpoint_append_only ON admissions_checkpoint")


def rechain(apps, schema_editor):
    from admissions import chain

    Decision = apps.get_model("admissions", "AllocationDecision")
    QueueEntry = apps.get_model("admissions", "QueueEntry")
    AuditEntry = apps.get_model("facilities", "AuditEntry")
    decisions = Decision.objects.select_related("facility", "bed").order_by("facility_id", "sequence")
    if not decisions.exists():
        _guard(schema_editor, TABLE, on=True)  # SQLite: put back a trigger a table rebuild dropped
        return
    previous = None
    sealed = []
    for d in decisions.iterator(chunk_size=1000):
        if previous is not None and previous.facility_id != d.facility_id:
            previous = None
        expected = (None, 1) if previous is None else (previous.hash, previous.sequence + 1)
        if (d.previous_hash, d.sequence) != expected or d.hash != _plain_hash(d):
            raise RuntimeError(
                f"The decision chain is broken at decision id={d.pk} facility={d.facility.code} "
                f"sequence={d.sequence}: it is not re-chained (R-VER-1). Investigate, then migrate again."
            )
        d.keyed_hash = None
        chain.seal(
            d,
            previous=previous,
            facility_code=d.facility.code,
            bed_code=d.bed.code,
            subjects=chain.subjects_at(QueueEntry, d.facility_id, chain.decision_references(d)),
        )
        sealed.append(d)
        previous = d
    _guard(schema_editor, TABLE, on=False)
    Decision.objects.bulk_update(
        sealed, ["key_id", "keyed_hash", "public", "public_hash", "prev_public_hash"], batch_size=1000
    )
    _guard(schema_editor, TABLE, on=True)
    AuditEntry.objects.create(
        actor_name="migration admissions.0013_verifiable_log",
        action="decision_chain_rekeyed",
        object_type="allocation_decision",
        object_key="all",
        changes={
            "decisions": len(sealed),
            "facilities": len({d.facility_id for d in sealed}),
            "key_id": sealed[0].key_id,
            "old_chain": "verified",
        },
    )



class Migration(migrations.Migration):

    dependencies = [
        ('admissions', '0012_cache_table'),
        ('facilities', '0004_staff_profile'),
    ]

    operations = [
        migrations.CreateModel(
            name='Checkpoint',
            fields=[
                ('id', models.PositiveIntegerField(primary_key=True, serialize=False)),
                ('made_at', models.DateTimeField()),
                ('heads', models.JSONField()),
                ('key_id', models.CharField(max_length=40)),
                ('signature', models.CharField(max_length=120)),
                ('made_by', models.CharField(max_length=150)),
            ],
            options={
                'verbose_name': 'checkpoint',
                'verbose_name_plural': 'checkpoints',
                'ordering': ['-id'],
            },
        ),
        migrations.AddField(
            model_name='allocationdecision',
            name='key_id',
            field=models.CharField(blank=True, max_length=40, null=True),
        ),
        migrations.AddField(
            model_name='allocationdecision',
            name='keyed_hash',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='allocationdecision',
            name='prev_public_hash',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='allocationdecision',
            name='public',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='allocationdecision',
            name='public_hash',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.RunPython(checkpoint_guard, checkpoint_unguard),
        migrations.RunPython(rechain, migrations.RunPython.noop),
    ]
