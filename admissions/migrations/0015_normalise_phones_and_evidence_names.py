"""R-SEC-9 and R-SEC-7 for what was stored before them.

- Phone numbers (applicants' and contacts') are stored in the normal form of admissions/phones.py
  where they are phone numbers; any other value is left as it was (intake shows it refused on the
  next edit).
- Evidence files kept their uploader's extension (`.html`, `.svg`): each is moved to a new random
  name with the extension of the type its content shows (PDF, JPEG, PNG; `.bin` for anything else,
  which the staff page then serves only as an attachment).

The rules are copied here, as they were when this was written, so the migration never changes.
"""

import re
import secrets

import phonenumbers
from django.core.files.storage import default_storage
from django.db import migrations

_CHARACTERS = re.compile(r"^\+?[0-9 ()\-.]+$")
_MAINLAND_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
SIGNATURES = {b"%PDF-": ".pdf", b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}


def normalised(value):
    """The normal form of `value`, or None when it is not a phone number."""
    text = (value or "").strip()
    if not text or len(text) > 30 or not _CHARACTERS.match(text):
        return None
    digits = re.sub(r"[^0-9+]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    try:
        number = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if number.country_code == 86:
        if phonenumbers.number_type(number) not in _MAINLAND_TYPES:
            return None
        national = phonenumbers.national_significant_number(number)
        return national if national.startswith("1") else "0" + national
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phones(apps, schema_editor):
    for model, field in (("Applicant", "phone"), ("Application", "contact_phone")):
        Model = apps.get_model("admissions", model)
        for pk, value in Model.objects.exclude(**{field: ""}).values_list("pk", field).iterator():
            new = normalised(value)
            if new is not None and new != value:
                Model.objects.filter(pk=pk).update(**{field: new})


def rename_evidence_files(apps, schema_editor):
    CategoryClaim = apps.get_model("admissions", "CategoryClaim")
    for claim in CategoryClaim.objects.exclude(evidence_file="").iterator():
        old = claim.evidence_file.name
        try:
            with default_storage.open(old, "rb") as handle:
                head = handle.read(16)
                extension = next((ext for sig, ext in SIGNATURES.items() if head.startswith(sig)), ".bin")
                if old.startswith("evidence/") and old.endswith(extension) and len(old) == len("evidence/") + 32 + len(
                    extension
                ):
                    continue  # already a random name with the sniffed extension
                handle.seek(0)
                new = default_storage.save(f"evidence/{secrets.token_hex(16)}{extension}", handle)
        except OSError:
            continue  # the file is gone: nothing to rename
        CategoryClaim.objects.filter(pk=claim.pk).update(evidence_file=new)
        default_storage.delete(old)


class Migration(migrations.Migration):
    dependencies = [("admissions", "0014_privacy")]

    operations = [
        migrations.RunPython(normalise_phones, migrations.RunPython.noop),
        migrations.RunPython(rename_evidence_files, migrations.RunPython.noop),
    ]
