"""Staff pages: administration. Thin: parse, call one service or selector, render."""

urlpatterns: list = []
