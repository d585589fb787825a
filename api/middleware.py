"""Size limits before anything reads the body (SPEC §10: oversized bodies get 413)."""

from .errors import json_problem

JSON_LIMIT = 1024 * 1024  # 1 MiB for JSON bodies
UPLOAD_LIMIT = 10 * 1024 * 1024  # 10 MiB for multipart uploads


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_problem(400, "Content-Length is not a number.")
        multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
        limit = UPLOAD_LIMIT if multipart else JSON_LIMIT
        if length > limit:
            return json_problem(413, f"The request body is larger than {limit // (1024 * 1024)} MiB.")
        return self.get_response(request)


class ApiLanguageMiddleware:
    """The pages take their language from the URL prefix (/en/…), defaulting to Chinese; the API
    has no prefix, so it follows the caller's Accept-Language (or language cookie) instead."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            from django.utils import translation

            language = translation.get_language_from_request(request, check_path=False)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
