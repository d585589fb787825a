"""Staff pages: dashboard. Thin: parse, call one service or selector, render."""

urlpatterns: list = []
