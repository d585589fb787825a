"""What a person typed, as the system reads it: full-width letters, digits and dashes (a Chinese input
method's default) as their half-width forms (NFKC), spaces around dropped. One rule for every field
people type references, codes and names into (issue 15)."""

import unicodedata


def as_typed(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value if value is not None else "")).strip()
