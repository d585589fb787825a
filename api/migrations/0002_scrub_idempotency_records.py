"""R-SEC-3, R-PRIV-2: the answers stored before this upgrade held personal data and lookup codes.
Records about an application keep only its reference (a replay reads it as it is now, without the
code); every other stored body loses the keys that could hold personal data or a secret. The same
rules as api/base.py at the time of writing, copied so that the migration never changes."""

import re

from django.db import migrations

SCRUBBED_KEYS = frozenset(
    {
        "lookup_code",
        "secret",
        "password",
        "token",
        "key",
        "id_number",
        "phone",
        "address",
        "email",
        "recipient",
        "contact",
        "applicant",
        "date_of_birth",
    }
)


def _scrubbed(data):
    if isinstance(data, dict):
        return {key: _scrubbed(value) for key, value in data.items() if key not in SCRUBBED_KEYS}
    if isinstance(data, list):
        return [_scrubbed(value) for value in data]
    return data


def scrub(apps, schema_editor):
    IdempotencyRecord = apps.get_model("api", "IdempotencyRecord")
    for record in IdempotencyRecord.objects.iterator():
        body = record.response_body
        reference = body.get("reference") if isinstance(body, dict) else None
        in_path = re.match(r"^/api/v1/applications/([^/]+)/", record.path)
        if not isinstance(reference, str) and in_path:
            reference = in_path.group(1)
        about_an_application = record.path.startswith("/api/v1/applications/")
        if isinstance(body, dict) and record.status < 400 and isinstance(reference, str) and about_an_application:
            new = {"reference": reference, "lookup_code_shown": "lookup_code" in body}
        else:
            new = _scrubbed(body)
        if new != body:
            record.response_body = new
            record.save(update_fields=["response_body"])


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial")]

    operations = [migrations.RunPython(scrub, migrations.RunPython.noop)]
