"""{next, previous, results} everywhere (API.md); cursors where lists grow while being read."""

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination, PageNumberPagination


class _StrictPageSize:
    """A page_size that is not a whole number in range is refused (400), not silently replaced."""

    page_size_query_param = "page_size"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"must be a whole number from 1 to {self.max_page_size}"]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
            elif parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


class Pages(_StrictPageSize, PageNumberPagination):
    page_size = 50
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit()):
            raise exceptions.ValidationError({self.page_query_param: ["must be a whole number from 1"]})
        return super().paginate_queryset(queryset, request, view)


class _StrictCursor(_StrictPageSize, CursorPagination):
    def decode_cursor(self, request):
        if request.query_params.get(self.cursor_query_param) == "":
            raise exceptions.NotFound("Invalid cursor.")
        return super().decode_cursor(request)


class OldestFirstCursor(_StrictCursor):
    """Events: oldest first, stable while new ones are appended."""

    page_size = 100
    max_page_size = 1000
    ordering = "id"


class NewestFirstCursor(_StrictCursor):
    """Allocation decisions: newest first."""

    page_size = 50
    max_page_size = 500
    ordering = "-id"
