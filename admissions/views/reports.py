"""Staff pages: reports. Thin: parse, call one service or selector, render."""

urlpatterns: list = []
