"""API views: administration (API.md). Thin: parse, call one service or selector, render."""

urlpatterns: list = []
