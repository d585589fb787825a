"""The public log (R-VER-2) and the checkpoints (R-VER-3) as the public API, the queue board, the
family's status page and the administrators' button publish them; STORIES 12 end to end."""

import base64
import json

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from admissions.chain import checkpoint_write
from admissions.models import AllocationDecision, Checkpoint
from admissions.public import mask_reference
from admissions.services.beds import bed_create
from facilities.models import AuditEntry
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, UserFactory, add_beds, queued_application
from tests.tools.test_verify_log import download, run
from tools.verify_log import public_hash

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def history():
    home = FacilityFactory(code="YX01", name="越秀区老人院")
    add_beds(home, nursing=9, holder="nursing")
    nursing = queued_application(grade=2, choices=["YX01"])
    self_care = queued_application(grade=1, choices=["YX01"])
    bed_create(facility=home, code="G-1", bed_type="general")
    bed_create(facility=home, code="N-1", bed_type="nursing")
    bed_create(facility=home, code="G-2", bed_type="general")
    return home, nursing, self_care


# --- GET /public/facilities/{code}/decisions/ -------------------------------------------------------------
def test_the_public_log_lists_each_decisions_public_form_and_both_hashes_oldest_first():
    """API.md: {seq, public, public_hash, prev_public_hash}, oldest first, cursor paginated, no credentials."""
    _, nursing, _ = history()
    answer = APIClient().get("/api/v1/public/facilities/YX01/decisions/")
    assert answer.status_code == 200
    rows = answer.json()["results"]
    assert [row["seq"] for row in rows] == [1, 2, 3]
    assert set(rows[0]) == {"seq", "public", "public_hash", "prev_public_hash"}
    assert rows[0]["prev_public_hash"] is None and rows[1]["prev_public_hash"] == rows[0]["public_hash"]
    stored = AllocationDecision.objects.get(facility__code="YX01", sequence=2)
    assert rows[1]["public"] == stored.public and rows[1]["public_hash"] == stored.public_hash
    assert rows[0]["public"]["skipped"][0]["reference"] == mask_reference(nursing.reference)
    assert nursing.reference not in answer.content.decode()
    for row in rows:  # the hash as API.md defines it, recomputed from what was served
        assert row["public_hash"] == public_hash(row["public"], row["prev_public_hash"], row["seq"])


def test_the_public_log_pages_with_a_cursor_and_filters_after_seq():
    history()
    client = APIClient()
    first = client.get("/api/v1/public/facilities/YX01/decisions/?page_size=2").json()
    assert [row["seq"] for row in first["results"]] == [1, 2] and first["next"]
    second = client.get(first["next"]).json()
    assert [row["seq"] for row in second["results"]] == [3] and second["next"] is None
    after = client.get("/api/v1/public/facilities/YX01/decisions/?after_seq=1").json()
    assert [row["seq"] for row in after["results"]] == [2, 3]


@pytest.mark.parametrize("query", ["after_seq=x", "after_seq=-1", "after_seq=", "after_seq=1.5", "page_size=0"])
def test_a_bad_filter_on_the_public_log_is_refused_by_name(query):
    history()
    answer = APIClient().get(f"/api/v1/public/facilities/YX01/decisions/?{query}")
    assert answer.status_code == 400
    assert query.split("=")[0] in answer.json()["errors"]


def test_the_public_log_of_an_unknown_home_is_404():
    assert APIClient().get("/api/v1/public/facilities/NOPE/decisions/").status_code == 404


# --- GET /public/checkpoints/ and /keys/ ------------------------------------------------------------------
def test_checkpoints_are_published_newest_first_with_their_keys():
    history()
    checkpoint_write()
    bed_create(facility=FacilityFactory(code="YX02"), code="N-1", bed_type="nursing")
    checkpoint_write()
    client = APIClient()
    rows = client.get("/api/v1/public/checkpoints/").json()["results"]
    assert [row["id"] for row in rows] == [2, 1]
    assert set(rows[0]) == {"id", "made_at", "heads", "signature", "key_id"}
    assert [head["facility"] for head in rows[0]["heads"]] == ["YX01", "YX02"]
    assert rows[1]["heads"] == [
        {
            "facility": "YX01",
            "seq": 3,
            "public_hash": AllocationDecision.objects.get(facility__code="YX01", sequence=3).public_hash,
        }
    ]
    assert rows[0]["made_at"].endswith("+08:00")
    keys = client.get("/api/v1/public/checkpoints/keys/").json()
    assert list(keys) == [rows[0]["key_id"]] and len(base64.b64decode(keys[rows[0]["key_id"]])) == 32


# --- the pages ------------------------------------------------------------------------------------------
def test_the_queue_board_shows_each_decisions_number_and_both_hashes():
    """R-VER-2: the public board publishes the hashes, in the page and in its API."""
    history()
    decision = AllocationDecision.objects.get(facility__code="YX01", sequence=2)
    text = Client().get(reverse("portal:board", args=["YX01"])).content.decode()
    assert decision.public_hash in text and decision.prev_public_hash in text
    assert "No. 2 in the log" in text
    assert "/api/v1/public/facilities/YX01/decisions/" in text
    board = APIClient().get("/api/v1/public/facilities/YX01/board/").json()
    row = next(d for d in board["recent_decisions"] if d["sequence"] == 2)
    assert row["public_hash"] == decision.public_hash and row["prev_public_hash"] == decision.prev_public_hash


def test_the_status_page_lists_the_decisions_that_concerned_the_family_with_number_and_hash():
    """R-VER-4: passed over in #1 (a general bed), offered the bed in #2; #3 did not concern them."""
    from admissions.services import applications as app_services
    from tests.factories import actor

    _, nursing, _ = history()
    bed_create(facility=FacilityFactory(code="YX02"), code="N-1", bed_type="nursing")
    code = app_services.lookup_code_issue(application=nursing, actor=actor("intake"))
    response = Client().post(reverse("portal:status"), {"reference": nursing.reference, "code": code})
    assert response.status_code == 200
    text = response.content.decode()
    first, second, third = AllocationDecision.objects.filter(facility__code="YX01").order_by("sequence")
    assert first.public_hash in text and second.public_hash in text and third.public_hash in text
    assert AllocationDecision.objects.get(facility__code="YX02").public_hash not in text
    assert "Passed over: " in text and "The bed was offered to this application." in text


# --- the administrators' button and the key command -----------------------------------------------------
def test_an_administrator_writes_a_checkpoint_from_the_admin_and_others_cannot():
    history()
    chief = UserFactory(username="chief", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(chief)
    page = client.get(reverse("admin:admissions_checkpoint_changelist"))
    assert page.status_code == 200 and reverse("admin:admissions_checkpoint_write") in page.content.decode()
    assert client.get(reverse("admin:admissions_checkpoint_write")).status_code == 405
    answer = client.post(reverse("admin:admissions_checkpoint_write"), follow=True)
    assert "Checkpoint 1 written" in answer.content.decode()
    assert Checkpoint.objects.get().made_by == "chief"
    assert AuditEntry.objects.filter(action="checkpoint_written", actor_name="chief").exists()
    clerk = UserFactory(username="clerk", is_staff=True)
    roles_assign(user=clerk, roles=["intake"])
    client.force_login(clerk)
    # The Django admin is for administrators only (R-SEC-6): a clerk is sent to the admin's login.
    refused = client.post(reverse("admin:admissions_checkpoint_write"))
    assert refused.status_code == 302 and "/admin/login/" in refused["Location"]
    assert Checkpoint.objects.count() == 1


def test_a_broken_log_gets_no_checkpoint_from_the_button():
    history()
    chief = UserFactory(username="chief", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(chief)
    table = AllocationDecision._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute(f"DROP TRIGGER {table}_append_only")
        cursor.execute(f"UPDATE {table} SET trigger = 'staff_request' WHERE sequence = 1")
    answer = client.post(reverse("admin:admissions_checkpoint_write"), follow=True)
    assert "No checkpoint was written" in answer.content.decode()
    assert not Checkpoint.objects.exists()


def test_chain_keys_prints_keys_that_the_settings_accept(capsys, settings):
    call_command("chain_keys", key_id="k1")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    settings.DECISION_CHAIN_KEY = lines["DECISION_CHAIN_KEY"]
    settings.CHECKPOINT_SIGNING_KEY = lines["CHECKPOINT_SIGNING_KEY"]
    history()
    assert AllocationDecision.objects.filter(key_id="k1").count() == 3
    assert checkpoint_write().key_id == "k1"


# --- STORIES 12 -----------------------------------------------------------------------------------------
def test_story_12_a_journalists_copy_verifies_until_someone_puts_a_favoured_person_first(tmp_path, capsys):
    """The journalist downloads the log and the checkpoints: OK. Later someone with database access
    rewrites a decision to put a favoured person first: the nightly check, verify_decisions and the
    verifier (on a fresh download, checked against the kept checkpoints) all name that decision."""
    from admissions.tasks import verify_decisions_nightly

    home, nursing, self_care = history()
    checkpoint_write()
    client = APIClient()
    decisions, checkpoints, keys = download(client)
    code, out = run(tmp_path, decisions, checkpoints, keys)
    assert code == 0 and out.startswith("OK"), out

    first = AllocationDecision.objects.get(facility=home, sequence=1)
    favoured = dict(first.skipped[0], rank=first.chosen["rank"])
    table = AllocationDecision._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute(f"DROP TRIGGER {table}_append_only")
        cursor.execute(
            f"UPDATE {table} SET chosen = %s, skipped = '[]' WHERE id = %s",
            [json.dumps({k: favoured[k] for k in ("reference", "rank", "score")}), first.pk],
        )
    assert verify_decisions_nightly.delay().get() is False
    with pytest.raises(SystemExit):
        call_command("verify_decisions")
    assert f"decision id={first.pk} facility=YX01 sequence=1" in capsys.readouterr().err

    # The public form too, rewritten and its chain recomputed to look whole:
    fresh, _, _ = download(client)
    fresh[0]["public"]["chosen"] = fresh[0]["public"]["skipped"].pop(0)
    fresh[0]["public"]["chosen"].pop("reason")
    previous = None
    for row in fresh:
        row["prev_public_hash"] = previous
        row["public_hash"] = previous = public_hash(row["public"], previous, row["seq"])
    code, out = run(tmp_path, fresh, checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: checkpoint 1: home YX01's decision seq 3 has public_hash"), out
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "decisions.json").write_text(json.dumps(decisions))
    code, out = run(tmp_path, fresh, checkpoints, keys, "--compare", str(kept / "decisions.json"))
    assert code == 1 and out.startswith("FAIL: decision seq 1: changed since the earlier copy"), out
