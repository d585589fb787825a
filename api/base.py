"""The base view of the API: Idempotency-Key on every POST (API.md).

The same key with the same body replays the first answer; with a different body it is refused
with 422. Keys are scoped to the caller and kept 24 hours. The record is written after the
service's transaction has committed, so a replay returns what really happened.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from .errors import PROBLEM
from .models import IdempotencyRecord

KEEP = dt.timedelta(hours=24)


class _Replay(Exception):
    def __init__(self, record: IdempotencyRecord):
        self.record = record


class IdempotencyKeyMismatch(exceptions.APIException):
    status_code = 422
    default_detail = "This Idempotency-Key was used with a different request body."


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
    _idempotency: tuple[str, str, str] | None = None

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
        record = IdempotencyRecord.objects.filter(caller=caller, key=key).first()
        if record is not None and record.created_at < timezone.now() - KEEP:
            record.delete()
            record = None
        if record is not None:
            if record.request_hash != fingerprint:
                raise IdempotencyKeyMismatch()
            raise _Replay(record)
        self._idempotency = (caller, key, fingerprint)

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            record = exc.record
            content_type = PROBLEM if record.status >= 400 else None
            return Response(
                record.response_body,
                status=record.status,
                content_type=content_type,
                headers={"Idempotent-Replayed": "true"},
            )
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._idempotency and response.status_code < 500 and response.status_code != 429:
            caller, key, fingerprint = self._idempotency
            try:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        caller=caller,
                        key=key,
                        method=request.method,
                        path=request.path[:500],
                        request_hash=fingerprint,
                        status=response.status_code,
                        response_body=json.loads(json.dumps(response.data, default=str)),
                    )
            except IntegrityError:
                pass  # a concurrent request with the same key stored its answer first
        return response
