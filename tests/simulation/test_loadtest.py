"""loadtest (issue 18): the plumbing, with a run of seconds on a tiny city: gunicorn starts with the
production settings, wrk drives every mix, and the JSON under `load` holds each mix's figures beside
the constant view's. The wrong-code burst gets only 404 and 429 (R-PUB-2, R-SEC-4). Never a timing."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from simulation.generator import generate_city
from simulation.load import WRONG_ADDRESSES_FROM, LoadError, Server, get_script, lookup_script, parse_wrk
from tests.reference_data import ensure_reference_data

MIXES = {
    "lookups",
    "wrong_codes",
    "staff_queue",
    "all.lookups",
    "all.wrong_codes",
    "all.staff_queue",
}
FIGURE = {"rps", "p50_ms", "p95_ms", "p99_ms", "errors", "constant_rps", "ratio_to_constant_rps", "statuses"}


def test_the_server_hashes_lookup_codes_with_the_key_that_issued_them(monkeypatch, settings):
    """R-SEC-8: the codes are issued by the command's process; gunicorn runs with DEBUG off, which
    refuses to start without SECRET_KEY (R-SEC-1), so the server is given the same key."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    settings.SECRET_KEY = "the-key-the-codes-were-issued-with"
    env = Server(workers=1).env
    assert env["DEBUG"] == "0" and env["SECRET_KEY"] == "the-key-the-codes-were-issued-with"
    monkeypatch.setenv("SECRET_KEY", "production-key")
    assert Server(workers=1).env["SECRET_KEY"] == "production-key"


def test_the_wrk_report_line_becomes_the_figures():
    output = (
        "Running 1s test @ http://127.0.0.1:1/\n"
        'WRK-JSON {"requests": 600, "duration_us": 2000000, "p50_us": 1500, "p95_us": 4200, "p99_us": 9100, '
        '"socket_errors": 1, "statuses": {"200": 590, "500": 10}}\n'
    )
    figure = parse_wrk(output)
    assert figure["rps"] == 300.0
    assert (figure["p50_ms"], figure["p95_ms"], figure["p99_ms"]) == (1.5, 4.2, 9.1)
    assert figure["statuses"] == {200: 590, 500: 10}
    assert figure["socket_errors"] == 1


def test_a_wrk_run_without_a_report_is_an_error():
    with pytest.raises(LoadError, match="no result"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_the_lookup_script_posts_each_pair_from_its_own_forwarded_address():
    script = lookup_script([("2026-000001", "ABCDEF")], seed=1, delay_ms=25)
    assert '{"2026-000001", "ABCDEF"}' in script
    assert '"X-Forwarded-For"' in script and "/api/v1/public/lookup/" in script
    assert "return 25" in script  # the pacing of a fixed rate
    assert "delay" not in lookup_script([("2026-000001", "ABCDEF")], seed=1)
    # The mistyped codes come from addresses of their own (R-PUB-2: their failures lock an address).
    assert "FIRST_ADDRESS = 0\n" in lookup_script([("2026-000001", "ABCDEF")], seed=1)
    assert f"FIRST_ADDRESS = {WRONG_ADDRESSES_FROM}\n" in lookup_script(
        [("2026-000001", "ZZZZZZ")], seed=1, first_address=WRONG_ADDRESSES_FROM
    )


def test_the_staff_script_sends_the_session_cookie():
    script = get_script(["/staff/facilities/X/queue/"], seed=1, cookie="sessionid=abc")
    assert '"Cookie"] = "sessionid=abc"' in script


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--seconds", "0"], "--seconds must be from 1 to 3600"),
        (["--workers", "0"], "--workers must be from 1 to 64"),
        (["--out", "/no/such/folder/load.json"], "does not exist"),
    ],
)
def test_the_command_refuses_bad_arguments_in_plain_words(arguments, message, tmp_path):
    if "--out" not in arguments:
        arguments = [*arguments, "--out", str(tmp_path / "load.json")]
    with pytest.raises(CommandError, match=message):
        call_command("loadtest", *arguments)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # gunicorn's workers need committed data
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: gunicorn must see the test database")
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs Debian's wrk (apt-get install -y wrk)")
def test_a_run_of_seconds_writes_every_mix_beside_the_constant_view(tmp_path, monkeypatch, settings):
    ensure_reference_data()
    for name in ("SECRET_KEY", "DECISION_CHAIN_KEY", "CHECKPOINT_SIGNING_KEY"):  # the production settings' own
        monkeypatch.setenv(name, getattr(settings, name))
    generate_city(facilities=12, beds=720, applications=300, seed=3, progress=False)
    database = connection.settings_dict
    monkeypatch.setenv(
        "DATABASE_URL",
        f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
    )
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"figures": {"kept": True}}))

    call_command(
        "loadtest", "--out", str(path), "--seconds", "2", "--connections", "2", "--workers", "1", "--warmup", "1"
    )

    document = json.loads(path.read_text())
    assert document["figures"] == {"kept": True}
    load = document["load"]
    assert set(load) == MIXES
    for name, figure in load.items():
        assert FIGURE <= set(figure), name
        assert figure["constant_rps"] > 0, name
        assert figure["server_errors"] == 0, (name, figure["statuses"])
    for name in ("lookups", "all.lookups", "staff_queue", "all.staff_queue"):
        assert set(load[name]["statuses"]) <= {"200"}, (name, load[name]["statuses"])
    assert load["lookups"]["requests"] + load["all.lookups"]["requests"] > 0
    assert load["staff_queue"]["requests"] + load["all.staff_queue"]["requests"] > 0
    # As for the lookups and the staff pages: in a run of seconds on one worker, the mix of all
    # three may give one of them no turn (the staff page takes the worker for half a second).
    assert load["wrong_codes"]["requests"] + load["all.wrong_codes"]["requests"] > 0
    for name in ("wrong_codes", "all.wrong_codes"):
        assert set(load[name]["statuses"]) <= {"404", "429"}, (name, load[name]["statuses"])
    assert document["load_run"]["server"]["settings"].startswith("simulation.load_settings")
