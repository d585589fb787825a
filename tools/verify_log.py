#!/usr/bin/env python3
"""Check a care home's public allocation log and the bureau's signed checkpoints (R-VER-4).

Standard library and `cryptography` only, no Django: anyone can run it on their own machine.

    python tools/verify_log.py --site https://waitlist.example.gov.cn --facility GZC01 [--save DIR]
    python tools/verify_log.py --decisions FILE --checkpoints FILE --keys FILE [--facility CODE]
    … [--compare EARLIER-DECISIONS-FILE]

The files are the JSON the public API serves: the decisions and the checkpoints as one JSON array
each (the `results` of every page, concatenated), the keys as the object
`/api/v1/public/checkpoints/keys/` answers. `--save DIR` keeps such copies of what was read from
the site, so the same check can be run again later, against a copy nobody can change.

What is checked:
  * every decision: its sequence number follows the one before (1, 2, 3 …), its `prev_public_hash`
    is the `public_hash` of the decision before (null for the first), and its `public_hash` is the
    SHA-256 of the RFC 8785 canonical JSON of {"prev_public_hash", "public", "seq"} (R-VER-2);
  * every checkpoint: its key id is one of the published keys and its Ed25519 signature over the
    canonical JSON of {"heads", "id", "made_at"} holds (R-VER-3); checkpoint ids never repeat, and a
    home's checkpointed sequence number never goes down from one checkpoint to the next;
  * for this home, every checkpointed head (sequence number and public hash) is in the log as
    downloaded: a decision changed, deleted, inserted or reordered before the newest checkpoint,
    or a download cut short, shows here even if the log's own chain was recomputed;
  * with --compare, an earlier copy of the same log: each of its decisions must still be in the
    log unchanged, so the decision that was rewritten is named, not only the checkpoint.

Exit 0 and a line starting "OK" when everything holds; exit 1 and a line starting "FAIL" naming
the first decision or checkpoint that does not.

The canonical form (RFC 8785, JCS) is implemented here, in `canonical_json`, and the application
uses this very function when it writes the log, so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

# --- RFC 8785 (JSON Canonicalization Scheme) ---------------------------------------------------


def _number(value: int | float) -> str:
    """A number as ECMAScript's Number.prototype.toString writes it (RFC 8785 §3.2.2.3)."""
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise ValueError(f"integer {value} is outside the range JSON numbers keep exactly (RFC 8785)")
        return str(value)
    if not math.isfinite(value):
        raise ValueError("NaN and Infinity have no JSON form (RFC 8785)")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    text = repr(abs(value))  # Python's repr is the shortest string that reads back the same double
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)  # value = 0.DIGITS × 10^point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp = ("+" if e >= 0 else "-") + str(abs(e))
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + "e" + exp


def _serialise(value, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (int, float)):
        out.append(_number(value))
    elif isinstance(value, str):
        # JSON.stringify's escaping: \" \\ \b \f \n \r \t, other controls as \u00xx, the rest as is.
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _serialise(item, out)
        out.append("]")
    elif isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("JSON object keys must be strings")
        out.append("{")
        # Sorted by their UTF-16 code units (RFC 8785 §3.2.3): big-endian UTF-16 bytes sort alike.
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))):
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _serialise(value[key], out)
        out.append("}")
    else:
        raise TypeError(f"{type(value).__name__} has no JSON form")


def canonical_json(value) -> bytes:
    """The RFC 8785 canonical form of a JSON value, as UTF-8 bytes. A lone surrogate is refused."""
    out: list[str] = []
    _serialise(value, out)
    return "".join(out).encode("utf-8")


# --- the public log (R-VER-2) and the checkpoints (R-VER-3) ------------------------------------


def public_hash(public: dict, prev_public_hash: str | None, seq: int) -> str:
    """SHA-256 (hex) of a decision's public form with the previous public hash and its sequence number."""
    body = {"prev_public_hash": prev_public_hash, "public": public, "seq": seq}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def checkpoint_message(checkpoint: dict) -> bytes:
    """What a checkpoint's signature covers: the canonical JSON of {id, made_at, heads}."""
    return canonical_json({"id": checkpoint["id"], "made_at": checkpoint["made_at"], "heads": checkpoint["heads"]})


class Failure(Exception):
    """The first thing that does not hold; its message names the decision or the checkpoint."""


def _field(row, name: str, where: str):
    if not isinstance(row, dict) or name not in row:
        raise Failure(f"{where}: the field '{name}' is missing")
    return row[name]


def check_decisions(rows, facility: str | None = None) -> dict[int, str]:
    """Recompute one home's public chain; return {seq: public_hash}. Raises Failure."""
    if not isinstance(rows, list):
        raise Failure("decisions: expected a JSON array of decisions (the pages' results, oldest first)")
    chain: dict[int, str] = {}
    previous: str | None = None
    for index, row in enumerate(rows):
        where = f"decision #{index + 1} in the file"
        seq = _field(row, "seq", where)
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise Failure(f"{where}: 'seq' is not a whole number")
        where = f"decision seq {seq}"
        public = _field(row, "public", where)
        if not isinstance(public, dict):
            raise Failure(f"{where}: 'public' is not an object")
        home = public.get("facility")
        if facility is not None and home != facility:
            raise Failure(f"{where}: it belongs to home {home!r}, not {facility!r}")
        facility = home
        if seq != index + 1:
            raise Failure(
                f"{where}: expected seq {index + 1} here (the log must start at 1 with no gap and no "
                "reordering; a decision is missing, inserted or out of order)"
            )
        if _field(row, "prev_public_hash", where) != previous:
            raise Failure(f"{where}: prev_public_hash is not the public_hash of decision seq {seq - 1}")
        stored = _field(row, "public_hash", where)
        try:
            recomputed = public_hash(public, previous, seq)
        except (TypeError, ValueError) as error:
            raise Failure(f"{where}: its public form cannot be put in canonical form ({error})") from error
        if stored != recomputed:
            raise Failure(f"{where}: public_hash does not match its content (recomputed {recomputed})")
        chain[seq] = stored
        previous = stored
    return chain


def load_keys(keys) -> dict:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not isinstance(keys, dict):
        raise Failure("keys: expected a JSON object {key_id: base64 public key}")
    loaded = {}
    for key_id, raw in keys.items():
        try:
            loaded[key_id] = Ed25519PublicKey.from_public_bytes(base64.b64decode(raw, validate=True))
        except (ValueError, TypeError, binascii.Error) as error:
            raise Failure(f"key {key_id!r}: not a base64 raw Ed25519 public key") from error
    return loaded


def check_checkpoints(checkpoints, keys: dict, facility: str | None, chain: dict[int, str]) -> tuple[int, int]:
    """Check every checkpoint's signature, and this home's heads against its chain.
    Returns (checkpoints checked, the newest checkpointed seq of this home or 0). Raises Failure."""
    from cryptography.exceptions import InvalidSignature

    if not isinstance(checkpoints, list):
        raise Failure("checkpoints: expected a JSON array of checkpoints")
    seen: set = set()
    by_id = []
    for index, checkpoint in enumerate(checkpoints):
        cid = _field(checkpoint, "id", f"checkpoint #{index + 1} in the file")
        where = f"checkpoint {cid}"
        if cid in seen:
            raise Failure(f"{where}: this id appears twice (checkpoints are append-only)")
        seen.add(cid)
        key_id = _field(checkpoint, "key_id", where)
        heads = _field(checkpoint, "heads", where)
        _field(checkpoint, "made_at", where)
        if key_id not in keys:
            raise Failure(f"{where}: signed with key id {key_id!r}, which is not among the published keys")
        try:
            signature = base64.b64decode(_field(checkpoint, "signature", where), validate=True)
            keys[key_id].verify(signature, checkpoint_message(checkpoint))
        except (InvalidSignature, ValueError, TypeError, binascii.Error) as error:
            raise Failure(f"{where}: the signature does not verify with key {key_id!r}") from error
        if not isinstance(heads, list):
            raise Failure(f"{where}: 'heads' is not a list")
        by_id.append((cid, heads))
    newest = 0
    last_seq: int | None = None
    for cid, heads in sorted(by_id, key=lambda pair: pair[0]):
        where = f"checkpoint {cid}"
        for head in heads:
            if not isinstance(head, dict) or head.get("facility") != facility:
                continue
            seq, expected = head.get("seq"), head.get("public_hash")
            if last_seq is not None and isinstance(seq, int) and seq < last_seq:
                raise Failure(
                    f"{where}: home {facility} goes back to seq {seq} after an earlier checkpoint had {last_seq}"
                )
            if seq not in chain:
                raise Failure(
                    f"{where}: home {facility}'s decision seq {seq} is not in the log "
                    f"(the log ends at seq {len(chain)}: deleted decisions or an incomplete download)"
                )
            if chain[seq] != expected:
                raise Failure(
                    f"{where}: home {facility}'s decision seq {seq} has public_hash {chain[seq]}, "
                    f"but the checkpoint signed {expected}: the log was rewritten at or before seq {seq}"
                )
            last_seq = seq
            newest = max(newest, seq)
    return len(by_id), newest


def compare_with_copy(chain: dict[int, str], earlier, facility: str | None) -> int:
    """An earlier download of the same log: every decision in it must still be there, unchanged.
    Names the first that is not. Returns how many were compared."""
    try:
        kept = check_decisions(earlier, facility)
    except Failure as failure:
        raise Failure(f"the earlier copy: {failure}") from failure
    for seq, kept_hash in kept.items():
        if seq not in chain:
            raise Failure(f"decision seq {seq}: in the earlier copy, no longer in the log (deleted)")
        if chain[seq] != kept_hash:
            raise Failure(
                f"decision seq {seq}: changed since the earlier copy (public_hash {chain[seq]}, was {kept_hash})"
            )
    return len(kept)


def verify(decisions, checkpoints, keys, facility: str | None = None, earlier=None) -> str:
    """Everything; return the OK line or raise Failure."""
    if facility is None and isinstance(decisions, list) and decisions and isinstance(decisions[0], dict):
        public = decisions[0].get("public")
        facility = public.get("facility") if isinstance(public, dict) else None
    chain = check_decisions(decisions, facility)
    compared = compare_with_copy(chain, earlier, facility) if earlier is not None else None
    count, newest = check_checkpoints(checkpoints, load_keys(keys), facility, chain)
    same = f"; the {compared} decisions of the earlier copy are unchanged" if compared is not None else ""
    return (
        f"OK: home {facility}, {len(chain)} decisions, chain intact; {count} checkpoints, every signature "
        f"valid; the newest checkpoint covers this home up to seq {newest}{same}"
    )


# --- reading: files or the live site -----------------------------------------------------------


def read_json_file(path: str, what: str):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise Failure(f"{what}: cannot read {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise Failure(f"{what}: {path} is not UTF-8 text") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise Failure(
            f"{what}: {path} is not complete JSON ({error.msg} at line {error.lineno}; cut short?)"
        ) from error


def _get(url: str):
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (the user's own URL)
            body = response.read()
    except urllib.error.HTTPError as error:
        raise Failure(f"{url}: the site answered {error.code}") from error
    except (urllib.error.URLError, OSError) as error:
        raise Failure(f"{url}: cannot be read ({error})") from error
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Failure(f"{url}: the answer is not complete JSON (cut short?)") from error


def _all_pages(url: str) -> list:
    results: list = []
    seen: set[str] = set()
    while url:
        if url in seen:
            raise Failure(f"{url}: the pages loop back")
        seen.add(url)
        page = _get(url)
        if not isinstance(page, dict) or not isinstance(page.get("results"), list):
            raise Failure(f"{url}: not a page of results")
        results.extend(page["results"])
        url = page.get("next")
    return results


def read_site(site: str, facility: str) -> tuple[list, list, dict]:
    base = site.rstrip("/")
    if not base.endswith("/api/v1"):
        base += "/api/v1"
    code = urllib.parse.quote(facility, safe="")
    decisions = _all_pages(f"{base}/public/facilities/{code}/decisions/?page_size=500")
    checkpoints = _all_pages(f"{base}/public/checkpoints/?page_size=500")
    keys = _get(f"{base}/public/checkpoints/keys/")
    return decisions, checkpoints, keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check a home's public allocation log against the bureau's signed checkpoints (R-VER-4)."
    )
    parser.add_argument("--site", help="the service's address, e.g. https://waitlist.example.gov.cn")
    parser.add_argument("--facility", help="the home's code, e.g. GZC01 (required with --site)")
    parser.add_argument("--decisions", help="a saved copy of the home's public decisions (one JSON array)")
    parser.add_argument("--checkpoints", help="a saved copy of the checkpoints (one JSON array)")
    parser.add_argument("--keys", help="a saved copy of the checkpoint keys (a JSON object)")
    parser.add_argument("--save", metavar="DIR", help="with --site: keep copies of what was read in DIR")
    parser.add_argument(
        "--compare",
        metavar="FILE",
        help="an earlier copy of the same home's decisions: name the first decision changed or deleted since",
    )
    args = parser.parse_args(argv)
    files = (args.decisions, args.checkpoints, args.keys)
    if args.site:
        if any(files) or not args.facility:
            parser.error("--site needs --facility, and no --decisions/--checkpoints/--keys")
    elif not all(files):
        parser.error("give --site URL --facility CODE, or all of --decisions, --checkpoints and --keys")
    try:
        if args.site:
            decisions, checkpoints, keys = read_site(args.site, args.facility)
            if args.save:
                folder = Path(args.save)
                folder.mkdir(parents=True, exist_ok=True)
                for name, value in (("decisions", decisions), ("checkpoints", checkpoints), ("keys", keys)):
                    (folder / f"{name}.json").write_text(json.dumps(value, ensure_ascii=False, indent=1), "utf-8")
        else:
            decisions = read_json_file(args.decisions, "decisions")
            checkpoints = read_json_file(args.checkpoints, "checkpoints")
            keys = read_json_file(args.keys, "keys")
        earlier = read_json_file(args.compare, "earlier copy") if args.compare else None
        print(verify(decisions, checkpoints, keys, args.facility, earlier))
    except Failure as failure:
        print(f"FAIL: {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
