"""API views: facilities (API.md). Thin: parse, call one service or selector, render."""

urlpatterns: list = []
