"""The two ends of the restore drill (tools/restore_drill.sh), against the database of DATABASE_URL.

    python tools/restore_probe.py snapshot FILE   before the backup: give one waiting application a
                                                  new lookup code through the API, look it up as a
                                                  family would, and save the answer and the row
                                                  count of every table to FILE
    python tools/restore_probe.py compare FILE    after the restore: the same counts, and the same
                                                  lookup with the same code answers the same

Everything goes through the product's own front doors (`issue_token`, the REST API through
Django's test client), so the drill checks what a family and a system would see, whatever the
code inside looks like.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

PROBE_USER = "restore-drill"


def _client() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def _lookup(reference: str, code: str) -> tuple[int, dict]:
    response = _client().post(
        "/api/v1/public/lookup/", {"reference": reference, "code": code}, content_type="application/json"
    )
    return response.status_code, response.json()


def table_counts() -> dict[str, int]:
    return {model._meta.label: model._base_manager.count() for model in apps.get_models() if model._meta.managed}


def snapshot(path: Path) -> None:
    out = io.StringIO()
    call_command("issue_token", PROBE_USER, "--role", "intake", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    staff = Client(HTTP_AUTHORIZATION=f"Token {key}", HTTP_ACCEPT_LANGUAGE="en")
    listed = staff.get("/api/v1/applications/", {"state": "waiting", "page_size": 1})
    if listed.status_code != 200 or not listed.json()["results"]:
        raise SystemExit(f"snapshot: no waiting application to look up (HTTP {listed.status_code})")
    reference = listed.json()["results"][0]["reference"]
    issued = staff.post(f"/api/v1/applications/{reference}/lookup-code/", {}, content_type="application/json")
    if issued.status_code not in (200, 201):
        raise SystemExit(f"snapshot: no lookup code for {reference}: HTTP {issued.status_code} {issued.content!r}")
    code = issued.json()["lookup_code"]
    status, answer = _lookup(reference, code)
    if status != 200 or not answer.get("positions"):
        raise SystemExit(f"snapshot: the lookup of {reference} answered HTTP {status}: {answer}")
    path.write_text(
        json.dumps({"reference": reference, "code": code, "answer": answer, "counts": table_counts()}, indent=1),
        encoding="utf-8",
    )
    print(f"snapshot: {reference} looked up (positions {[p['position'] for p in answer['positions']]}); saved")


def compare(path: Path) -> int:
    saved = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    counts = table_counts()
    for table in sorted(set(saved["counts"]) | set(counts)):
        before, after = saved["counts"].get(table), counts.get(table)
        if before != after:
            problems.append(f"{table}: {before} rows before the backup, {after} after the restore")
    status, answer = _lookup(saved["reference"], saved["code"])
    if status != 200:
        problems.append(f"the lookup of {saved['reference']} answered HTTP {status}: {answer}")
    elif answer != saved["answer"]:
        for key in sorted(set(answer) | set(saved["answer"])):
            if answer.get(key) != saved["answer"].get(key):
                problems.append(f"lookup field {key}: {saved['answer'].get(key)!r} before, {answer.get(key)!r} after")
    if problems:
        print("compare: the restored database differs", *problems, sep="\n- ", file=sys.stderr)
        return 1
    print(
        f"compare: {len(counts)} tables hold the same rows; the lookup of {saved['reference']} answers as before"
        f" (positions {[p['position'] for p in answer['positions']]})"
    )
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("snapshot", "compare"):
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[1])
    if argv[0] == "snapshot":
        snapshot(path)
        return 0
    return compare(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
