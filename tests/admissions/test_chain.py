"""The verifiable decision log (SPEC §15): the keyed chain (R-VER-1), the public form and hash
(R-VER-2) and the signed checkpoints (R-VER-3), and what `verify_decisions` and the nightly check
say when someone who can write the database changes history.

Every tamper below is done with raw SQL past the append-only triggers, as the tables' owner could:
on PostgreSQL with `session_replication_role = replica` (which also switches off the foreign-key
triggers), on SQLite by dropping the trigger; both inside the test's transaction, so they are
undone afterwards. The plain chain of R-ALLOC-2 would not notice most of these; the keyed chain and
the checkpoints do.
"""

import base64
import copy
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from admissions import chain
from admissions.chain import ChainBroken, checkpoint_write, decision_hash, decision_payload
from admissions.decisions import first_chain_break
from admissions.models import AllocationDecision, Checkpoint
from admissions.models.append_only import AppendOnlyError
from admissions.services.beds import bed_create
from admissions.tasks import verify_decisions_nightly, write_checkpoint_daily
from facilities.models import AuditEntry
from tests.factories import FacilityFactory, add_beds, queued_application
from tools.verify_log import canonical_json

pytestmark = pytest.mark.django_db

DECISIONS = AllocationDecision._meta.db_table
CHECKPOINTS = Checkpoint._meta.db_table


def world():
    """YX01 with three decisions: #1 passes over a nursing-level applicant for a general bed and
    offers it to a self-care one, #2 offers a nursing bed to the nursing-level one, #3 finds
    nobody (no offer points at it, so it can be deleted)."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=9, holder="nursing")  # so the quota leaves room for self-care people
    FacilityFactory(code="YX02")
    nursing = queued_application(grade=2, choices=["YX01"])
    self_care = queued_application(grade=1, choices=["YX01"])
    bed_create(facility=home, code="G-1", bed_type="general")
    bed_create(facility=home, code="N-1", bed_type="nursing")
    bed_create(facility=home, code="G-2", bed_type="general")
    decisions = list(AllocationDecision.objects.filter(facility=home).order_by("sequence"))
    assert [d.sequence for d in decisions] == [1, 2, 3]
    assert decisions[0].skipped and decisions[0].chosen["reference"] == self_care.reference
    assert decisions[1].chosen["reference"] == nursing.reference and decisions[2].chosen is None
    return home, decisions, nursing, self_care


def raw(sql: str, params=()) -> None:
    """Past the append-only triggers, as the owner of the tables could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {DECISIONS}_append_only")
            cursor.execute(f"DROP TRIGGER IF EXISTS {CHECKPOINTS}_append_only")
        cursor.execute(sql, params)


def assert_named(capsys, expected: str) -> None:
    """first_chain_break, verify_decisions and the nightly check all name the same first failure."""
    broken = first_chain_break()
    assert broken is not None and broken.describe().startswith(expected), broken and broken.describe()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_decisions")
    assert exit_info.value.code == 1
    assert f"BROKEN: {expected}" in capsys.readouterr().err
    assert verify_decisions_nightly.delay().get() is False


def replain(decision_ids):
    """What someone with database access but without the key can do: recompute the plain hashes
    of R-ALLOC-2 from the tampered decision on, so that the old chain verifies again."""
    previous_hash = None
    for decision in AllocationDecision.objects.filter(pk__in=decision_ids).order_by("sequence"):
        if decision.sequence > 1 and previous_hash is None:
            previous_hash = AllocationDecision.objects.get(
                facility_id=decision.facility_id, sequence=decision.sequence - 1
            ).hash
        decision.previous_hash = previous_hash
        new = decision_hash(decision_payload(decision))
        raw(f"UPDATE {DECISIONS} SET previous_hash = %s, hash = %s WHERE id = %s", [previous_hash, new, decision.pk])
        previous_hash = new


# --- R-VER-1: what the keyed hash covers ------------------------------------------------------------
def test_the_keyed_hash_covers_every_field_of_a_decision():
    """R-VER-1: every concrete field is either hashed or is the id / the keyed hash itself, so a new
    field cannot be added to AllocationDecision without deciding whether the chain covers it."""
    names = {f.attname for f in AllocationDecision._meta.concrete_fields}
    assert names == set(chain.KEYED_FIELDS) | {"id", "keyed_hash"}


@pytest.mark.parametrize("name", chain.KEYED_FIELDS)
def test_changing_any_field_changes_the_keyed_hash(name):
    """R-VER-1: the HMAC covers each field (and R-ALLOC-2's skipped list with it)."""
    _, decisions, _, _ = world()
    decision = decisions[0]
    key = b"k" * 32
    before = chain.keyed_hash(decision, None, key)
    tampered = copy.copy(decision)
    value = getattr(tampered, name)
    if isinstance(value, (list, dict)):
        value = copy.deepcopy(value)
        if isinstance(value, list):
            value.append({"reference": "2026-999999", "rank": 9, "score": 1, "reason": "suspended"})
        else:
            value["tampered"] = 1
    elif isinstance(value, int):
        value += 1
    elif isinstance(value, str):
        value += "0"
    elif value is None:
        value = "x"
    else:  # made_at
        value = value.replace(microsecond=(value.microsecond + 1) % 1_000_000)
    setattr(tampered, name, value)
    assert chain.keyed_hash(tampered, None, key) != before
    assert chain.keyed_hash(decision, "0" * 64, key) != before  # the previous keyed hash too
    assert chain.keyed_hash(decision, None, b"other-key" * 4) != before


def test_a_decision_is_sealed_with_the_newest_key_and_its_id_and_verifies(settings, capsys):
    """R-VER-1: HMAC-SHA256 of the RFC 8785 form under the newest DECISION_CHAIN_KEY, its id stored."""
    settings.DECISION_CHAIN_KEY = "k2026:first-secret"
    _, decisions, _, _ = world()
    d = decisions[1]
    assert d.key_id == "k2026"
    payload = {name: getattr(d, name) for name in chain.KEYED_FIELDS}
    for name in chain.OPTIONAL_KEYED_FIELDS:  # absent when not set (R-CPL-2's partner_decision)
        if payload[name] is None:
            del payload[name]
    payload["made_at"] = d.made_at.astimezone(__import__("datetime").UTC).isoformat()
    payload["previous_keyed_hash"] = decisions[0].keyed_hash
    payload["v"] = 1
    import hmac

    expected = hmac.new(b"first-secret", canonical_json(payload), hashlib.sha256).hexdigest()
    assert d.keyed_hash == expected
    assert first_chain_break() is None
    call_command("verify_decisions")
    assert "OK" in capsys.readouterr().out


def test_keys_rotate_newest_first_and_a_decision_under_a_dropped_key_is_named(settings, capsys):
    """R-VER-1 rotation: a new key in front writes, the old one still verifies; drop it and the
    first decision written under it is named."""
    settings.DECISION_CHAIN_KEY = "old:secret-one"
    home, decisions, _, _ = world()
    settings.DECISION_CHAIN_KEY = "new:secret-two,old:secret-one"
    bed_create(facility=home, code="G-3", bed_type="general")
    newest = AllocationDecision.objects.get(facility=home, sequence=4)
    assert newest.key_id == "new" and decisions[0].key_id == "old"
    assert first_chain_break() is None
    settings.DECISION_CHAIN_KEY = "new:secret-two"
    assert_named(capsys, f"decision id={decisions[0].pk} facility=YX01 sequence=1: its key id 'old'")


# --- tamper cases: each is named, and verify_decisions exits 1 --------------------------------------
def test_a_changed_chosen_entry_is_found_though_the_plain_hash_never_covered_it(capsys):
    """The issue's first example: chosen_entry_id was outside R-ALLOC-2's hash."""
    _, decisions, nursing, _ = world()
    other = nursing.queue_entries.get().pk
    raw(f"UPDATE {DECISIONS} SET chosen_entry_id = %s WHERE id = %s", [other, decisions[0].pk])
    assert first_chain_break().problem.startswith("keyed hash does not match")
    assert_named(capsys, f"decision id={decisions[0].pk} facility=YX01 sequence=1: keyed hash")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("skipped", "[]"),
        ("chosen", '{"reference": "2026-999999", "rank": 1, "score": 99}'),
        ("quota_after", '{"self_care_cap": 99, "self_care_held": 0}'),
        ("trigger", "staff_request"),
        ("policy_version", 7),
    ],
)
def test_a_rewritten_decision_with_its_plain_hashes_recomputed_is_still_found(capsys, column, value):
    """Re-chained history: the content changed and R-ALLOC-2's hashes recomputed from there on (the
    old check passes), but without the key the keyed hash cannot be."""
    _, decisions, _, _ = world()
    target = decisions[0]
    raw(f"UPDATE {DECISIONS} SET {column} = %s WHERE id = %s", [value, target.pk])
    replain([d.pk for d in decisions])
    assert chain.first_decision_break().problem.startswith("keyed hash does not match")
    # The plain chain alone would say nothing:
    for d in AllocationDecision.objects.filter(facility=target.facility).order_by("sequence"):
        assert d.hash == decision_hash(decision_payload(d))
    assert_named(capsys, f"decision id={target.pk} facility=YX01 sequence=1: keyed hash")


def test_a_keyed_hash_recomputed_with_another_key_is_found(capsys):
    _, decisions, _, _ = world()
    target = decisions[2]
    target.trigger = "staff_request"
    forged = chain.keyed_hash(target, decisions[1].keyed_hash, b"the attacker's own key")
    raw(f"UPDATE {DECISIONS} SET trigger = 'staff_request', keyed_hash = %s WHERE id = %s", [forged, target.pk])
    replain([target.pk])
    assert_named(capsys, f"decision id={target.pk} facility=YX01 sequence=3: keyed hash")


def test_a_reordered_pair_is_found(capsys):
    _, decisions, _, _ = world()
    first, second = decisions[1], decisions[2]
    raw(f"UPDATE {DECISIONS} SET sequence = 99 WHERE id = %s", [first.pk])
    raw(f"UPDATE {DECISIONS} SET sequence = 2, previous_hash = %s WHERE id = %s", [decisions[0].hash, second.pk])
    raw(f"UPDATE {DECISIONS} SET sequence = 3 WHERE id = %s", [first.pk])
    replain([second.pk, first.pk])
    assert_named(capsys, f"decision id={second.pk} facility=YX01 sequence=2: keyed hash")


def test_an_inserted_decision_is_found(capsys):
    """A decision added at the end with plain hashes right and a keyed hash copied from another."""
    home, decisions, _, _ = world()
    last = decisions[2]
    fake = copy.copy(last)
    fake.sequence, fake.previous_hash, fake.trigger = 4, last.hash, "staff_request"
    fake.hash = decision_hash(decision_payload(fake))
    columns = [f.column for f in AllocationDecision._meta.concrete_fields if f.attname != "id"]
    values = [getattr(fake, f.attname) for f in AllocationDecision._meta.concrete_fields if f.attname != "id"]
    values = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in values]
    raw(f"INSERT INTO {DECISIONS} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})", values)
    inserted = AllocationDecision.objects.get(facility=home, sequence=4)
    assert_named(capsys, f"decision id={inserted.pk} facility=YX01 sequence=4: keyed hash")


def test_a_decision_without_a_keyed_hash_is_found(capsys):
    _, decisions, _, _ = world()
    raw(f"UPDATE {DECISIONS} SET keyed_hash = NULL WHERE id = %s", [decisions[0].pk])
    assert_named(capsys, f"decision id={decisions[0].pk} facility=YX01 sequence=1: it has no keyed hash")


def test_a_changed_public_form_is_found(capsys):
    """R-VER-2: the stored public form is covered by the keyed hash and by its own public hash."""
    _, decisions, _, _ = world()
    public = dict(decisions[0].public, bed="N-9")
    raw(f"UPDATE {DECISIONS} SET public = %s WHERE id = %s", [json.dumps(public), decisions[0].pk])
    assert_named(capsys, f"decision id={decisions[0].pk} facility=YX01 sequence=1: keyed hash")


def test_the_deleted_newest_decision_is_found_by_the_checkpoint(capsys):
    """Deleting the newest decision leaves a chain that holds; the checkpoint that signed it does not."""
    _, decisions, _, _ = world()
    checkpoint = checkpoint_write()
    raw(f"DELETE FROM {DECISIONS} WHERE id = %s", [decisions[2].pk])
    assert chain.first_decision_break() is None
    assert_named(capsys, f"checkpoint id={checkpoint.pk}: home YX01 seq 3 is no longer in the log")


def test_a_history_rewritten_after_a_checkpoint_with_every_hash_recomputed_is_found_by_the_checkpoint(settings, capsys):
    """Even someone holding the chain key (or an old copy of the database restored) cannot rewrite
    what a checkpoint signed: the public hash it signed no longer matches."""
    _, decisions, _, _ = world()
    checkpoint = checkpoint_write()
    target = decisions[2]
    target.trigger = "staff_request"
    target.public = dict(target.public, trigger="staff_request")
    target.public_hash = chain.public_hash(target.public, target.prev_public_hash, target.sequence)
    target.hash = decision_hash(decision_payload(target))
    _, key = chain.chain_keys()[0]
    target.keyed_hash = chain.keyed_hash(target, decisions[1].keyed_hash, key)
    raw(
        f"UPDATE {DECISIONS} SET trigger = %s, public = %s, public_hash = %s, hash = %s, keyed_hash = %s WHERE id = %s",
        ["staff_request", json.dumps(target.public), target.public_hash, target.hash, target.keyed_hash, target.pk],
    )
    assert chain.first_decision_break() is None
    assert_named(capsys, f"checkpoint id={checkpoint.pk}: home YX01 seq 3 has public_hash")


def test_a_checkpoint_with_a_bad_signature_is_found(capsys):
    world()
    checkpoint = checkpoint_write()
    forged = base64.b64encode(b"\0" * 64).decode()
    raw(f"UPDATE {CHECKPOINTS} SET signature = %s WHERE id = %s", [forged, checkpoint.pk])
    assert_named(capsys, f"checkpoint id={checkpoint.pk}: the signature does not verify")


def test_a_checkpoint_whose_heads_were_changed_is_found(capsys):
    world()
    checkpoint = checkpoint_write()
    heads = [dict(h, seq=2) for h in checkpoint.heads]
    raw(f"UPDATE {CHECKPOINTS} SET heads = %s WHERE id = %s", [json.dumps(heads), checkpoint.pk])
    assert_named(capsys, f"checkpoint id={checkpoint.pk}: the signature does not verify")


def test_a_checkpoint_with_an_unknown_key_id_is_found(capsys):
    world()
    checkpoint = checkpoint_write()
    raw(f"UPDATE {CHECKPOINTS} SET key_id = 'nobody' WHERE id = %s", [checkpoint.pk])
    assert_named(capsys, f"checkpoint id={checkpoint.pk}: signed with key id 'nobody'")


def test_the_database_refuses_to_edit_or_delete_a_checkpoint():
    """R-VER-3 append-only: the ORM and (without the owner's bypass) the database refuse."""
    world()
    checkpoint = checkpoint_write()
    with pytest.raises(AppendOnlyError):
        checkpoint.save()
    with pytest.raises(AppendOnlyError):
        Checkpoint.objects.all().delete()
    with connection.cursor() as cursor:
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute(f"UPDATE {CHECKPOINTS} SET key_id = 'x' WHERE id = %s", [checkpoint.pk])


# --- R-VER-2: the public form --------------------------------------------------------------------------
def test_the_public_form_masks_references_and_records_channel_care_level_rank_score_and_reason():
    _, decisions, nursing, self_care = world()
    d = decisions[0]
    assert d.public == {
        "facility": "YX01",
        "bed": "G-1",
        "made_at": d.public["made_at"],
        "policy_version": d.policy_version,
        "trigger": "bed_added",
        "chosen": {
            "reference": self_care.reference[:7] + "**" + self_care.reference[-2:],
            "rank": 2,
            "score": d.chosen["score"],
            "channel": "ordinary",
            "care_level": "self_care",
        },
        "skipped": [
            {
                "reference": nursing.reference[:7] + "**" + nursing.reference[-2:],
                "rank": 1,
                "score": d.skipped[0]["score"],
                "channel": "ordinary",
                "care_level": "nursing",
                "reason": "bed_type_mismatch",
            }
        ],
        "quota_before": d.quota_before,
        "quota_after": d.quota_after,
    }
    assert d.public["made_at"].endswith("+08:00")
    assert nursing.reference not in json.dumps(d.public) and self_care.reference not in json.dumps(d.public)


def test_the_public_hash_is_sha256_of_the_canonical_form_with_the_previous_hash_and_the_sequence():
    """R-VER-2, pinned independently of the module: RFC 8785 is sorted keys, no spaces, UTF-8."""
    _, decisions, _, _ = world()
    first, second = decisions[0], decisions[1]
    body = {"prev_public_hash": None, "public": first.public, "seq": 1}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert first.prev_public_hash is None
    assert first.public_hash == hashlib.sha256(text.encode()).hexdigest()
    body = {"prev_public_hash": first.public_hash, "public": second.public, "seq": 2}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert second.prev_public_hash == first.public_hash
    assert second.public_hash == hashlib.sha256(text.encode()).hexdigest()


# --- R-VER-3: checkpoints ------------------------------------------------------------------------------
def test_a_checkpoint_signs_every_homes_newest_decision_with_the_bureaus_key(settings):
    seed = bytes(range(32))
    settings.CHECKPOINT_SIGNING_KEY = "bureau-2026:" + base64.b64encode(seed).decode()
    _, decisions, _, _ = world()
    checkpoint = checkpoint_write(made_by="chief")
    assert checkpoint.pk == 1 and checkpoint.key_id == "bureau-2026"
    assert checkpoint.heads == [{"facility": "YX01", "seq": 3, "public_hash": decisions[2].public_hash}]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert chain.public_keys() == {"bureau-2026": base64.b64encode(public).decode()}
    message = json.dumps(
        {"heads": checkpoint.heads, "id": 1, "made_at": checkpoint.made_at_text},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    Ed25519PublicKey.from_public_bytes(public).verify(base64.b64decode(checkpoint.signature), message)
    assert AuditEntry.objects.filter(action="checkpoint_written", actor_name="chief", object_key="1").exists()
    assert checkpoint_write().pk == 2


def test_no_checkpoint_is_written_while_the_chain_is_broken(settings, caplog):
    """R-VER-3: only after the keyed chain has verified; the daily task alerts instead."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _, decisions, _, _ = world()
    raw(f"UPDATE {DECISIONS} SET chosen_entry_id = NULL WHERE id = %s", [decisions[0].pk])
    with pytest.raises(ChainBroken, match=f"decision id={decisions[0].pk}"):
        checkpoint_write()
    assert write_checkpoint_daily.delay().get() is None
    assert not Checkpoint.objects.exists()
    assert any("BROKEN" in r.getMessage() for r in caplog.records)


def test_the_daily_task_writes_a_checkpoint():
    world()
    assert write_checkpoint_daily.delay().get() == 1
    assert Checkpoint.objects.get().made_by == "system"
    assert first_chain_break() is None


def test_the_signed_and_hashed_times_do_not_depend_on_the_zone_a_request_activated():
    from django.utils import timezone

    _, decisions, _, _ = world()
    with timezone.override("UTC"):
        checkpoint = checkpoint_write()
        assert checkpoint.made_at_text.endswith("+08:00")
        bed_create(facility=decisions[0].facility, code="G-9", bed_type="general")
    assert (
        AllocationDecision.objects.get(facility=decisions[0].facility, sequence=4).public["made_at"].endswith("+08:00")
    )
    assert first_chain_break() is None


def test_check_deploy_warns_without_keys_and_refuses_a_malformed_one(settings):
    """R-VER-1, R-VER-3: in production the keys come from the environment."""
    settings.DECISION_CHAIN_KEY = ""
    settings.CHECKPOINT_SIGNING_KEY = ""
    assert [m.id for m in chain.check_chain_keys()] == ["chain.W001", "chain.W001"]
    assert chain.check_chain_keys_readable() == []
    settings.DECISION_CHAIN_KEY = "no-colon-here"
    assert [m.id for m in chain.check_chain_keys()] == ["chain.W001"]
    (error,) = chain.check_chain_keys_readable()
    assert error.id == "chain.E001" and "DECISION_CHAIN_KEY" in error.msg
    settings.DECISION_CHAIN_KEY = "k1:secret"
    settings.CHECKPOINT_SIGNING_KEY = "k1:not-base64!"
    assert chain.check_chain_keys() == []
    (error,) = chain.check_chain_keys_readable()
    assert "CHECKPOINT_SIGNING_KEY" in error.msg and "'k1'" in error.msg
