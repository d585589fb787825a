"""The base view of the API: Idempotency-Key on every POST (API.md, R-SEC-3).

- Atomic: the first request with a key *claims* it before doing any work, by inserting its record
  (a unique row per caller and key, committed at once). A concurrent request with the same key
  fails that insert and gets 409 with Retry-After while the first is running, or the first one's
  answer once it has finished; so the work is done at most once.
- The same key with the same body replays the first status; with a different body it is refused
  with 422. Keys are scoped to the caller and kept 24 hours (`purge_idempotency_records` in the beat
  schedule deletes older ones).
- A stored answer holds no personal data and no secret (R-PRIV-2): views that answer with personal
  data store only what names the resource and re-read it on replay (ApplicationApiView), and every
  stored body is scrubbed of the keys in `SCRUBBED_KEYS`. An answer that carried a lookup code is
  replayed without it, with `lookup_code_shown: false` and a sentence saying it is shown only once.
- A request that ends in a 5xx or a 429 (or raises) gives its claim back, so it can be retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from .errors import PROBLEM
from .models import IdempotencyRecord

KEEP = dt.timedelta(hours=24)
# A claim whose request never finished (the process died) is given up after this long.
ABANDONED = dt.timedelta(minutes=10)
IN_PROGRESS = 0  # IdempotencyRecord.status while the first request is running
# Never stored in an idempotency record, at any depth (R-SEC-3, R-PRIV-2).
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
LOOKUP_CODE_SHOWN_ONCE = _(
    "The lookup code is shown only once, in the first answer to this request; issue a new one if it was lost."
)


class _Replay(Exception):
    def __init__(self, record: IdempotencyRecord):
        self.record = record


class IdempotencyKeyMismatch(exceptions.APIException):
    status_code = 422
    default_detail = _("This Idempotency-Key was used with a different request body.")


class IdempotencyKeyInProgress(exceptions.APIException):
    """R-SEC-3: the first request with this key is still running."""

    status_code = 409
    default_detail = _("A request with this Idempotency-Key is still being processed; try again in a moment.")


def scrubbed(data):
    """`data` without any key of SCRUBBED_KEYS, at any depth."""
    if isinstance(data, dict):
        return {key: scrubbed(value) for key, value in data.items() if key not in SCRUBBED_KEYS}
    if isinstance(data, list):
        return [scrubbed(value) for value in data]
    return data


def _request_fingerprint(request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # form or multipart
        parts = {key: [str(v) for v in values] for key, values in data.lists()}
        for name, upload in request.FILES.items():
            digest = hashlib.sha256()
            for chunk in upload.chunks():
                digest.update(chunk)
            parts[f"file:{name}"] = [upload.name, upload.size, digest.hexdigest()]
        data = parts
    canonical = json.dumps({"path": request.path, "data": data}, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ApiView(APIView):
    """JSON in and out (API.md); a view that takes files sets its own parser_classes."""

    parser_classes = [JSONParser]
    _idempotency: tuple[str, str] | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency = None
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or key is None or not request.user.is_authenticated:
            return
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise exceptions.ValidationError({"Idempotency-Key": ["must be 1–255 printable characters"]})
        caller = f"user:{request.user.pk}"
        fingerprint = _request_fingerprint(request)
        for _attempt in range(3):
            if self._claim(request, caller, key, fingerprint):
                self._idempotency = (caller, key)
                return
            record = IdempotencyRecord.objects.filter(caller=caller, key=key).first()
            if record is None:
                continue  # given back meanwhile: claim it again
            now = timezone.now()
            expired = record.created_at < now - KEEP
            abandoned = record.status == IN_PROGRESS and record.created_at < now - ABANDONED
            if expired or abandoned:
                IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
                continue
            if record.request_hash != fingerprint:
                raise IdempotencyKeyMismatch()
            if record.status == IN_PROGRESS:
                raise IdempotencyKeyInProgress()
            raise _Replay(record)
        raise IdempotencyKeyInProgress()

    @staticmethod
    def _claim(request, caller: str, key: str, fingerprint: str) -> bool:
        """Insert the record that claims the key; False if another request holds it."""
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    caller=caller,
                    key=key,
                    method=request.method,
                    path=request.path[:500],
                    request_hash=fingerprint,
                    status=IN_PROGRESS,
                    response_body=None,
                )
        except IntegrityError:
            return False
        return True

    def _give_back(self) -> None:
        if self._idempotency:
            caller, key = self._idempotency
            self._idempotency = None
            IdempotencyRecord.objects.filter(caller=caller, key=key, status=IN_PROGRESS).delete()

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except BaseException:
            self._give_back()  # an uncaught error (answered 500 by Django): the request may be retried
            raise

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return self.replay(exc.record)
        response = super().handle_exception(exc)
        if isinstance(exc, IdempotencyKeyInProgress):
            response["Retry-After"] = "1"
        return response

    # --- what is stored and how it is replayed; views with personal data override both -------------
    def stored_answer(self, response) -> object:
        """What the record keeps of an answer: never personal data or a secret."""
        return scrubbed(json.loads(json.dumps(response.data, default=str)))

    def replay(self, record: IdempotencyRecord) -> Response:
        content_type = PROBLEM if record.status >= 400 else None
        return Response(
            record.response_body,
            status=record.status,
            content_type=content_type,
            headers={"Idempotent-Replayed": "true"},
        )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._idempotency:
            if response.status_code >= 500 or response.status_code == 429:
                self._give_back()
            else:
                caller, key = self._idempotency
                self._idempotency = None
                IdempotencyRecord.objects.filter(caller=caller, key=key, status=IN_PROGRESS).update(
                    status=response.status_code, response_body=self.stored_answer(response)
                )
        return response
