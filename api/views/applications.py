"""API views: applications (API.md). Thin: parse, call one service or selector, render."""

urlpatterns: list = []
