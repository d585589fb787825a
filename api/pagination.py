"""{next, previous, results} everywhere (API.md); cursors where lists grow while being read."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class OldestFirstCursor(CursorPagination):
    """Events: oldest first, stable while new ones are appended."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "id"


class NewestFirstCursor(CursorPagination):
    """Allocation decisions: newest first."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
