"""bench (issue 7) at a tiny scale: the JSON holds every figure with its floors and ratios, and the
rule checks run after the concurrent allocations would catch a violation. Never a timing."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from admissions.models import Application, Couple, Offer
from facilities.models import Bed, Facility
from simulation.bench import run_bench, table
from simulation.checks import bed_violations, nursing_quota_violations, offer_violations, rule_violations
from tests.reference_data import ensure_reference_data

FIGURES = {
    "public_lookup",
    "staff_queue_page",
    "queue_api_page",
    "allocate_one_bed",
    "concurrent_allocations",
    "generate_city",
    "watchdog_report",
    "policy_act",
    "allocate_one_bed_couples",
}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the workers need committed data
def test_the_json_has_every_figure_with_its_floors_and_ratios(tmp_path):
    ensure_reference_data()  # an earlier transactional test's flush may have removed the districts
    results = run_bench(scale=300, samples=20, generate_in_process=True, out=lambda line: None)
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(results))
    figures = json.loads(path.read_text())["figures"]

    assert set(figures) == FIGURES
    for name, figure in figures.items():
        assert {"floor_constant_view_ms", "floor_pk_read_ms", "target", "met"} <= set(figure), name
    for name in ("public_lookup", "staff_queue_page", "queue_api_page", "allocate_one_bed", "watchdog_report"):
        figure = figures[name]
        assert figure["p50_ms"] <= figure["p95_ms"] <= figure["p99_ms"]
        assert set(figure["ratio_to_constant_view"]) == {"p50_ms", "p95_ms", "p99_ms"}
        assert set(figure["ratio_to_pk_read"]) == {"p50_ms", "p95_ms", "p99_ms"}
    lookup = figures["public_lookup"]  # issue 18: its own CPU beside the constant view's, on any machine
    assert lookup["cpu_ms"]["n"] == 20 and 0 < lookup["cpu_ms"]["p50_ms"] <= lookup["cpu_ms"]["p95_ms"]
    constant_cpu = json.loads(path.read_text())["floors"]["constant_view"]["cpu_ms"]
    assert lookup["cpu_ratio_to_constant_view"]["p50_ms"] == round(
        lookup["cpu_ms"]["p50_ms"] / constant_cpu["p50_ms"], 1
    )
    assert figures["generate_city"]["city"]["applications"] == 300
    assert figures["generate_city"]["peak_memory_mib"] > 0
    assert "per_application" in figures["generate_city"]["ratio_to_constant_view"]
    concurrent = figures["concurrent_allocations"]
    if connection.vendor == "postgresql":
        assert concurrent["allocations"] > 0 and "per_allocation" in concurrent["ratio_to_pk_read"]
        assert concurrent["violations"] == {"R-NQ-1": [], "R-BED-1": [], "R-OFF-3": []}
        assert concurrent["errors"] == []
    else:
        assert "PostgreSQL only" in concurrent["skipped"]
    act = figures["policy_act"]  # R-POL-1
    assert act["open_entries"] > 0 and act["scores_changed"] == act["open_entries"]
    couples = figures["allocate_one_bed_couples"]  # issue 14: with the generator's couples, then without
    assert couples["couples"] > 0 and couples["left_linked"] == 0
    assert 0 < couples["share_of_open_applications"] < 0.1
    blocks = couples["blocks"]  # alternating, each rolled back: both modes start from the same city
    assert [b["couples"] for b in blocks] == ["with", "without", "without", "with", "with", "without"]
    assert sum(b["n"] for b in blocks if b["couples"] == "with") == couples["n"] == couples["without_couples"]["n"]
    for timing in (couples, couples["without_couples"], *blocks):
        assert timing["p50_ms"] <= timing["p95_ms"] <= timing["p99_ms"] and timing["n"] >= 5
    assert Couple.objects.filter(unlinked_at__isnull=True).count() == couples["couples"]  # rolled back
    assert couples["cpu_with_couples"]["n"] == couples["cpu_without_couples"]["n"] == couples["n"]
    assert set(couples["cpu_worse_with_couples"]) == {"p50_ms", "p95_ms", "p99_ms"}
    assert set(couples["worse_with_couples"]) == {"p50_ms", "p95_ms", "p99_ms"}
    assert couples["met"] is (
        couples["worse_with_couples"]["p50_ms"] <= 0.10 and couples["worse_with_couples"]["p95_ms"] <= 0.10
    )
    assert "allocate_one_bed_couples" in table(results)
    assert "policy_act" in table(results)
    assert "public_lookup" in table(results)
    assert f"CPU p50 {lookup['cpu_ms']['p50_ms']} ms" in table(results)


@pytest.mark.django_db
def test_the_rule_checks_catch_a_broken_quota_a_double_booked_bed_and_a_second_live_offer():
    """R-NQ-1, R-BED-1, R-OFF-3: each check finds its violation, written straight into the tables
    (the services would refuse to make any of them)."""
    from simulation.generator import generate_city

    ensure_reference_data()
    generate_city(facilities=12, beds=800, applications=200, seed=3, progress=False)
    assert rule_violations() == {"R-NQ-1": [], "R-BED-1": [], "R-OFF-3": []}

    home = Facility.objects.order_by("code").first()
    Bed.objects.filter(facility=home, status="occupied").update(holder_care_level="self_care")
    assert any(home.code in problem for problem in nursing_quota_violations())

    offer = Offer.objects.filter(state="pending").first()
    vacant_or_occupied = Bed.objects.exclude(pk=offer.bed_id).filter(status="occupied").first()
    Bed.objects.filter(pk=vacant_or_occupied.pk).update(status="reserved")
    assert any(vacant_or_occupied.code in problem for problem in bed_violations())

    Application.objects.filter(pk=offer.application_id).update(state="waiting")
    assert any(offer.application.reference in problem for problem in offer_violations())


def test_bad_options_are_refused_naming_the_option(tmp_path):
    with pytest.raises(CommandError, match="--scale"):
        call_command("bench", scale=5, out=str(tmp_path / "b.json"))
    with pytest.raises(CommandError, match="--out"):
        call_command("bench", scale=1000, out=str(tmp_path / "missing" / "b.json"))
    with pytest.raises(CommandError, match="--samples"):
        call_command("bench", scale=1000, samples=1, out=str(tmp_path / "b.json"))
