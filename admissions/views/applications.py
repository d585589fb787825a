"""Staff pages: applications. Thin: parse, call one service or selector, render."""

urlpatterns: list = []
