"""API views: assessments (API.md). Thin: parse, call one service or selector, render."""

urlpatterns: list = []
