"""tools/verify_log.py, the standalone verifier (R-VER-4): it reads what the public API serves, from
files or from the live site, and names the first decision or checkpoint that does not hold.

The files are made here exactly as a journalist would: the pages of the public API, concatenated.
Each tamper is done to a copy, the way someone who rewrote the database (and recomputed what can
be recomputed without the bureau's key) would leave the public log.
"""

import ast
import copy
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from admissions.chain import checkpoint_write
from admissions.services.beds import bed_create
from tests.factories import FacilityFactory, add_beds, queued_application
from tools import verify_log
from tools.verify_log import canonical_json, public_hash

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "verify_log.py"


# --- RFC 8785 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bits", "text"),
    [  # RFC 8785 appendix B, IEEE-754 bit patterns and their canonical text
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7FEFFFFFFFFFFFFF, "1.7976931348623157e+308"),
        (0xFFEFFFFFFFFFFFFF, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xC340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44B52D02C7E14AF5, "9.999999999999997e+22"),
        (0x44B52D02C7E14AF6, "1e+23"),
        (0x44B52D02C7E14AF7, "1.0000000000000001e+23"),
        (0x444B1AE4D6E2EF4E, "999999999999999700000"),
        (0x444B1AE4D6E2EF4F, "999999999999999900000"),
        (0x444B1AE4D6E2EF50, "1e+21"),
        (0x3EB0C6F7A0B5ED8C, "9.999999999999997e-7"),
        (0x3EB0C6F7A0B5ED8D, "0.000001"),
        (0x41B3DE4355555553, "333333333.3333332"),
        (0x41B3DE4355555554, "333333333.33333325"),
        (0x41B3DE4355555555, "333333333.3333333"),
        (0x41B3DE4355555556, "333333333.3333334"),
        (0x41B3DE4355555557, "333333333.33333343"),
        (0xBECBF647612F3696, "-0.0000033333333333333333"),
        (0x43143FF3C1CB0959, "1424953923781206.2"),
    ],
)
def test_numbers_are_written_as_rfc_8785_says(bits, text):
    value = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    assert canonical_json(value) == text.encode()


def test_object_keys_sort_by_utf16_code_units_and_strings_escape_as_json_stringify():
    """RFC 8785 §3.2.3's example: keys in UTF-16 order (U+1F600 before U+FB33), not code point order."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(value) == expected.encode()
    assert (
        canonical_json({"b": [1, None, True, 'a"\\\n\x01'], "a": {}})
        == b'{"a":{},"b":[1,null,true,"a\\"\\\\\\n\\u0001"]}'
    )
    with pytest.raises(ValueError):
        canonical_json("\ud800")  # a lone surrogate has no UTF-8 form
    with pytest.raises(ValueError):
        canonical_json(float("nan"))


def test_the_verifier_needs_only_the_standard_library_and_cryptography():
    """R-VER-4: no Django, nothing from this project."""
    tree = ast.parse(SCRIPT.read_text())
    modules = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    modules |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert modules - set(sys.stdlib_module_names) == {"cryptography"}


# --- a home's public log, saved as files ----------------------------------------------------------------
def pages(client, url: str) -> list:
    results = []
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, answer.content
        results += answer.json()["results"]
        url = answer.json()["next"]
    return results


def download(client, code="YX01"):
    decisions = pages(client, f"/api/v1/public/facilities/{code}/decisions/?page_size=2")
    checkpoints = pages(client, "/api/v1/public/checkpoints/?page_size=1")
    keys = client.get("/api/v1/public/checkpoints/keys/").json()
    return decisions, checkpoints, keys


def make_history():
    """YX01 with four decisions and two checkpoints (after the 2nd and the 4th)."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=9, holder="nursing")
    queued_application(grade=2, choices=["YX01"])
    queued_application(grade=1, choices=["YX01"])
    bed_create(facility=home, code="G-1", bed_type="general")
    bed_create(facility=home, code="N-1", bed_type="nursing")
    checkpoint_write()
    bed_create(facility=home, code="G-2", bed_type="general")
    bed_create(facility=home, code="N-2", bed_type="nursing")
    checkpoint_write()


@pytest.fixture
def saved(db, tmp_path):
    make_history()
    decisions, checkpoints, keys = download(APIClient())
    assert [d["seq"] for d in decisions] == [1, 2, 3, 4] and [c["id"] for c in checkpoints] == [2, 1]
    return decisions, checkpoints, keys, tmp_path


def run(tmp_path, decisions, checkpoints, keys, *extra) -> tuple[int, str]:
    """The verifier on files, in this process (the subprocess test below runs the script itself)."""
    names = []
    for name, value in (("decisions", decisions), ("checkpoints", checkpoints), ("keys", keys)):
        path = tmp_path / f"{name}.json"
        path.write_text(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False), "utf-8")
        names += [f"--{name}", str(path)]
    from contextlib import redirect_stdout
    from io import StringIO

    out = StringIO()
    with redirect_stdout(out):
        code = verify_log.main([*names, *extra])
    return code, out.getvalue()


def rechain(decisions: list, start: int = 0) -> list:
    """What a rewriter does to make the public chain hold again: recompute every public hash."""
    previous = decisions[start - 1]["public_hash"] if start else None
    for index, row in enumerate(decisions[start:], start=start):
        row["seq"] = index + 1
        row["prev_public_hash"] = previous
        row["public_hash"] = public_hash(row["public"], previous, row["seq"])
        previous = row["public_hash"]
    return decisions


def test_the_untouched_log_verifies_and_the_script_runs_on_its_own(saved):
    """R-VER-4: exit 0 and OK, run as `python tools/verify_log.py` in a process without Django."""
    decisions, checkpoints, keys, tmp_path = saved
    code, out = run(tmp_path, decisions, checkpoints, keys)
    assert code == 0 and out.startswith("OK: home YX01, 4 decisions"), out
    assert "covers this home up to seq 4" in out
    files = [f"--{name}={tmp_path / name}.json" for name in ("decisions", "checkpoints", "keys")]
    process = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *files, "--facility", "YX01"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert process.stdout.startswith("OK")


def test_a_tampered_field_names_the_decision(saved):
    decisions, checkpoints, keys, tmp_path = saved
    decisions[1]["public"]["chosen"]["score"] += 1
    code, out = run(tmp_path, decisions, checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: decision seq 2: public_hash does not match its content"), out


@pytest.mark.parametrize("where", ["chosen", "skipped", "quota_after", "bed", "made_at", "policy_version"])
def test_each_field_of_the_public_form_is_covered(saved, where):
    decisions, checkpoints, keys, tmp_path = saved
    public = decisions[0]["public"]
    if where == "skipped":
        public["skipped"] = []
    elif where == "chosen":
        public["chosen"]["reference"] = "2026-00**99"
    elif where == "quota_after":
        public["quota_after"]["self_care_held"] += 1
    elif where == "policy_version":
        public["policy_version"] += 1
    else:
        public[where] += "x"
    code, out = run(tmp_path, decisions, checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: decision seq 1: public_hash does not match"), out


def test_a_rewritten_decision_with_the_public_chain_recomputed_is_named_by_the_checkpoint(saved):
    """Re-chained history: every public hash recomputed after the change, so the chain holds; the
    signed checkpoints do not."""
    decisions, checkpoints, keys, tmp_path = saved
    decisions[1]["public"]["chosen"] = copy.deepcopy(decisions[0]["public"]["chosen"])
    rechain(decisions)
    code, out = run(tmp_path, decisions, checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: checkpoint 1: home YX01's decision seq 2 has public_hash"), out


def test_a_deleted_newest_decision_is_named_by_the_checkpoint(saved):
    decisions, checkpoints, keys, tmp_path = saved
    code, out = run(tmp_path, decisions[:-1], checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: checkpoint 2: home YX01's decision seq 4 is not in the log"), out


def test_an_inserted_decision_is_named(saved):
    decisions, checkpoints, keys, tmp_path = saved
    inserted = decisions[:2] + [copy.deepcopy(decisions[1])] + decisions[2:]
    code, out = run(tmp_path, inserted, checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: decision seq 2: expected seq 3 here"), out
    code, out = run(tmp_path, rechain(inserted), checkpoints, keys)  # renumbered and re-chained
    assert code == 1 and out.startswith("FAIL: checkpoint 2: home YX01's decision seq 4 has public_hash"), out


def test_a_reordered_pair_is_named(saved):
    decisions, checkpoints, keys, tmp_path = saved
    swapped = [decisions[0], decisions[2], decisions[1], decisions[3]]
    code, out = run(tmp_path, swapped, checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: decision seq 3: expected seq 2 here"), out
    code, out = run(tmp_path, rechain(copy.deepcopy(swapped)), checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: checkpoint 1: home YX01's decision seq 2 has public_hash"), out


def test_a_checkpoint_with_a_bad_signature_is_named(saved):
    decisions, checkpoints, keys, tmp_path = saved
    checkpoints[1]["heads"][0]["public_hash"] = decisions[0]["public_hash"]
    code, out = run(tmp_path, decisions, checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: checkpoint 1: the signature does not verify"), out
    checkpoints[1] = copy.deepcopy(checkpoints[0]) | {"id": 1}
    code, out = run(tmp_path, decisions, checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: checkpoint 1: the signature does not verify"), out


def test_a_checkpoint_with_an_unknown_key_id_is_named(saved):
    decisions, checkpoints, keys, tmp_path = saved
    checkpoints[0]["key_id"] = "someone-else"
    code, out = run(tmp_path, decisions, checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: checkpoint 2: signed with key id 'someone-else'"), out
    code, out = run(tmp_path, decisions, checkpoints[1:], {})
    assert code == 1 and out.startswith("FAIL: checkpoint 1: signed with key id"), out


def test_a_truncated_download_is_named(saved):
    decisions, checkpoints, keys, tmp_path = saved
    text = json.dumps(decisions)
    code, out = run(tmp_path, text[: len(text) // 2], checkpoints, keys)
    assert code == 1 and out.startswith("FAIL: decisions:") and "not complete JSON" in out, out
    code, out = run(tmp_path, decisions[:2], checkpoints, keys)  # the last page never arrived
    assert code == 1 and out.startswith(
        "FAIL: checkpoint 2: home YX01's decision seq 4 is not in the log (the log ends at seq 2"
    ), out
    text = json.dumps(checkpoints)
    code, out = run(tmp_path, decisions, checkpoints, text[:-1])
    assert code == 1 and out.startswith("FAIL: keys:") and "not complete JSON" in out, out


def test_another_homes_log_is_refused(saved):
    decisions, checkpoints, keys, tmp_path = saved
    code, out = run(tmp_path, decisions, checkpoints, keys, "--facility", "YX02")
    assert code == 1 and out.startswith("FAIL: decision seq 1: it belongs to home 'YX01', not 'YX02'"), out


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps the seeded districts and policy
def test_the_live_site_is_read_page_by_page_and_saved(live_server, tmp_path):
    """R-VER-4 `--site URL --facility CODE`, with `--save DIR` for the copies."""
    from tests.reference_data import ensure_reference_data

    ensure_reference_data()  # live_server: an earlier transactional test may have flushed the districts
    make_history()
    from contextlib import redirect_stdout
    from io import StringIO

    out = StringIO()
    with redirect_stdout(out):
        code = verify_log.main(["--site", live_server.url, "--facility", "YX01", "--save", str(tmp_path / "copy")])
    assert code == 0 and out.getvalue().startswith("OK: home YX01, 4 decisions"), out.getvalue()
    saved = json.loads((tmp_path / "copy" / "decisions.json").read_text())
    assert [row["seq"] for row in saved] == [1, 2, 3, 4]
    code, text = run(
        tmp_path,
        saved,
        json.loads((tmp_path / "copy" / "checkpoints.json").read_text()),
        json.loads((tmp_path / "copy" / "keys.json").read_text()),
    )
    assert code == 0, text
    out = StringIO()
    with redirect_stdout(out):
        assert verify_log.main(["--site", live_server.url, "--facility", "NOPE"]) == 1
    assert out.getvalue().startswith("FAIL: ") and "404" in out.getvalue()


def test_an_earlier_copy_names_the_decision_changed_or_deleted_since(saved):
    decisions, checkpoints, keys, tmp_path = saved
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps(decisions))
    code, out = run(tmp_path, decisions, checkpoints, keys, "--compare", str(earlier))
    assert code == 0 and "the 4 decisions of the earlier copy are unchanged" in out, out
    rewritten = copy.deepcopy(decisions)
    rewritten[1]["public"]["trigger"] = "staff_request"
    code, out = run(tmp_path, rechain(rewritten), checkpoints, keys, "--compare", str(earlier))
    assert code == 1 and out.startswith("FAIL: decision seq 2: changed since the earlier copy"), out
    code, out = run(tmp_path, decisions[:3], [], keys, "--compare", str(earlier))
    assert code == 1 and out.startswith("FAIL: decision seq 4: in the earlier copy, no longer in the log"), out
